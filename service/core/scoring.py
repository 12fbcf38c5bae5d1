"""Scoring: an onnxruntime session that maps texts to an ``[N, L]`` probability matrix.

The graph tokenises into padded ``[N, C]`` tensors, so one 20 KB comment in a batch of short ones would pad
every row to 20 K characters. :class:`Scorer` therefore sorts a batch by length and cuts it into runs whose
padded size stays under a character budget, then puts the rows back in request order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from threadguard.bundle import ONNX_INPUT_NAME, ONNX_OUTPUT_NAME


def session_options(intra_op_threads: int = 1) -> ort.SessionOptions:
    """Options for a small CPU box shared by several workers: few threads, no spinning, full graph opts.

    Requests already run concurrently on the server's thread pool, so per-run parallelism buys little and
    spinning threads would steal the cores other workers and requests need.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: onnxruntime warnings go to stderr outside our JSON logs
    return options


def create_session(onnx_path: Path, *, intra_op_threads: int = 1) -> ort.InferenceSession:
    """A CPU inference session for ``onnx_path``."""
    return ort.InferenceSession(
        str(onnx_path), sess_options=session_options(intra_op_threads), providers=["CPUExecutionProvider"]
    )


class Scorer:
    """Scores texts with one session. Thread-safe: onnxruntime allows concurrent ``run`` calls."""

    def __init__(
        self,
        session: ort.InferenceSession,
        labels: Sequence[str],
        *,
        max_batch_chars: int = 1 << 19,
        input_name: str = ONNX_INPUT_NAME,
        output_name: str = ONNX_OUTPUT_NAME,
    ) -> None:
        self._session = session
        self.labels: tuple[str, ...] = tuple(labels)
        self._max_batch_chars = max_batch_chars
        self._input_name = input_name
        self._output_names = [output_name]
        inputs = {i.name for i in session.get_inputs()}
        outputs = {o.name for o in session.get_outputs()}
        if input_name not in inputs or output_name not in outputs:
            raise ValueError(
                f"model must map input {input_name!r} to output {output_name!r}; "
                f"it has inputs {sorted(inputs)} and outputs {sorted(outputs)}"
            )

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities ``float32[N, L]`` in the order of ``texts``."""
        n_labels = len(self.labels)
        if not texts:
            return np.zeros((0, n_labels), dtype=np.float32)
        out = np.empty((len(texts), n_labels), dtype=np.float32)
        for chunk in self._chunks(texts):
            batch = np.array([texts[i] for i in chunk], dtype=object)
            scores = self._session.run(self._output_names, {self._input_name: batch})[0]
            scores = np.asarray(scores, dtype=np.float32)
            if scores.shape != (len(chunk), n_labels):
                raise RuntimeError(f"model returned shape {scores.shape}, expected {(len(chunk), n_labels)}")
            out[chunk] = scores
        return out

    def _chunks(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Row-index runs whose padded size (rows x longest) stays within the character budget."""
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        longest = int(lengths.max())
        if longest * len(texts) <= self._max_batch_chars:
            return [np.arange(len(texts))]
        order = np.argsort(lengths, kind="stable")
        chunks: list[np.ndarray] = []
        start = 0
        for stop in range(1, len(order) + 1):
            width = max(int(lengths[order[stop - 1]]), 1)
            if (stop - start) * width > self._max_batch_chars and stop - 1 > start:
                chunks.append(order[start : stop - 1])
                start = stop - 1
        chunks.append(order[start:])
        return chunks
