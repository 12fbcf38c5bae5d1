"""Scoring: an onnxruntime session that maps texts to an ``[N, L]`` probability matrix.

The graph tokenises into padded ``[N, C]`` tensors, so one 20 KB comment in a batch of short ones would pad
every row to 20 K characters. :class:`Scorer` therefore sorts a batch by length and cuts it into runs whose
padded size stays under a character budget, then puts the rows back in request order.

With ``parallel_runs > 1`` a large batch (thousands of characters) is also cut into a few runs of about equal
text length that run at the same time on a small shared thread pool (onnxruntime releases the GIL). On idle
cores that cuts a batch's latency; on a busy 2-core machine it measured worse (the request waits for the slower
half, and every run pays the graph's fixed cost), so the default is 1: see docs/performance.md.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

from threadguard.bundle import ONNX_INPUT_NAME, ONNX_OUTPUT_NAME

PARALLEL_MIN_CHARS = 4_000
"""Batches with at least this many characters are split across threads (~5 ms of scoring on one core)."""

_pool: tuple[ThreadPoolExecutor, int] | None = None
_pool_lock = threading.Lock()


def _shared_pool(threads: int) -> ThreadPoolExecutor:
    """One small pool per process shared by every scorer (models come and go with reloads; threads do not)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[1] < threads:
            old = _pool
            _pool = (ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="threadguard-onnx"), threads)
            if old is not None:
                old[0].shutdown(wait=False)  # running runs finish; new ones go to the bigger pool
        return _pool[0]


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
        parallel_runs: int = 1,
        parallel_min_chars: int = PARALLEL_MIN_CHARS,
        input_name: str = ONNX_INPUT_NAME,
        output_name: str = ONNX_OUTPUT_NAME,
    ) -> None:
        self._session = session
        self.labels: tuple[str, ...] = tuple(labels)
        self._max_batch_chars = max_batch_chars
        self._parallel_runs = max(1, parallel_runs)
        self._parallel_min_chars = parallel_min_chars
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
        if len(texts) == 1:  # the common single-comment call: no chunking arithmetic
            self._run(texts, None, out)
            return out
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        chunks = self._chunks(lengths)
        if self._parallel_runs > 1 and int(lengths.sum()) >= self._parallel_min_chars:
            chunks = self._split_for_threads(chunks, lengths)
        if len(chunks) == 1:
            self._run(texts, chunks[0], out)
            return out
        pool = _shared_pool(self._parallel_runs - 1)
        futures: list[Future[None]] = [pool.submit(self._run, texts, chunk, out) for chunk in chunks[1:]]
        try:
            self._run(texts, chunks[0], out)
        finally:
            for future in futures:
                future.result()  # wait for all, re-raise the first failure
        return out

    def _run(self, texts: Sequence[str], chunk: np.ndarray | None, out: np.ndarray) -> None:
        """Score the rows ``chunk`` (None: all) into ``out``; chunks are disjoint, so threads can share ``out``."""
        rows = list(texts) if chunk is None else [texts[i] for i in chunk]
        batch = np.array(rows, dtype=object)
        scores = self._session.run(self._output_names, {self._input_name: batch})[0]
        scores = np.asarray(scores, dtype=np.float32)
        if scores.shape != (len(rows), len(self.labels)):
            raise RuntimeError(f"model returned shape {scores.shape}, expected {(len(rows), len(self.labels))}")
        if chunk is None:
            out[:] = scores
        else:
            out[chunk] = scores

    def _split_for_threads(self, chunks: list[np.ndarray], lengths: np.ndarray) -> list[np.ndarray]:
        """Cut each large chunk into up to ``parallel_runs`` runs of about equal text length."""
        parts: list[np.ndarray] = []
        for chunk in chunks:
            chars = lengths[chunk]
            total = int(chars.sum())
            n = min(self._parallel_runs, len(chunk), max(1, total // (self._parallel_min_chars // 2)))
            if n <= 1:
                parts.append(chunk)
                continue
            bounds = np.searchsorted(np.cumsum(chars), [total * k / n for k in range(1, n)])
            parts.extend(part for part in np.split(chunk, bounds) if len(part))
        return parts

    def _chunks(self, lengths: np.ndarray) -> list[np.ndarray]:
        """Row-index runs whose padded size (rows x longest) stays within the character budget."""
        n_texts = len(lengths)
        longest = int(lengths.max())
        if longest * n_texts <= self._max_batch_chars:
            return [np.arange(n_texts)]
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
