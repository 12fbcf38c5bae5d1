"""Export a :class:`~threadguard.linear_model.LinearNgramModel` to one ONNX graph of standard operators.

The graph mirrors ``threadguard/featurizer`` step for step (see docs/architecture.md). Design constraints:

- exact: after the character tokenizer everything is int64 arithmetic or the same float formula as the
  reference, so scores agree to float32 rounding;
- no locale: ``StringNormalizer`` is never used, a ``LabelEncoder`` table normalises characters;
- cost independent of vocabulary size: the vocabulary is a hash lookup (``LabelEncoder`` int64 -> int64) and
  weights are gathered per present n-gram; no [N, |V|] tensor exists anywhere.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from threadguard.bundle import ONNX_INPUT_NAME, ONNX_OUTPUT_NAME
from threadguard.featurizer.chartable import (
    DROP,
    FLAG_LEET_STRONG,
    FLAG_LEET_WEAK,
    FLAG_LETTER,
    FLAG_RADIX,
    FLAG_SPACE,
    FLAG_WORD,
    PAD_TOKEN,
    SPACE_PACKED,
    UNKNOWN_PACKED,
    leet_entries,
    table_entries,
)
from threadguard.featurizer.params import (
    FAMILY_CHAR,
    FAMILY_WORD,
    HASH_BASE,
    HASH_MODULUS,
    SALT_CHAR,
    SALT_WORD,
    SALT_WORD_BIGRAM,
)
from threadguard.featurizer.stream import SEP_CODE
from threadguard.linear_model import (
    ONNX_BIAS,
    ONNX_FAMILY_WEIGHTS,
    ONNX_IDF,
    ONNX_VOCABULARY_NODE,
    ONNX_WEIGHTS,
    LinearNgramModel,
)

OPSET = 18
ML_OPSET = 3
IR_VERSION = 9  # widely loadable (onnxruntime >= 1.16)
INT64_MAX = np.iinfo(np.int64).max
SEP_PACKED = SEP_CODE * FLAG_RADIX


class _GraphBuilder:
    """Tiny helper that names intermediate values and collects nodes and initializers."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._counter = 0

    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def const(self, value: object, dtype: type = np.int64, name: str | None = None) -> str:
        name = name or self.fresh("const")
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name=name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, *, domain: str = "",
           name: str | None = None, n_outputs: int = 1, **attrs: object) -> str:
        outputs = [self.fresh(hint or op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name or outputs[0], domain=domain,
                                           **attrs))
        return outputs[0]

    def op_multi(self, op_type: str, inputs: list[str], n_outputs: int, hint: str, **attrs: object) -> list[str]:
        outputs = [self.fresh(f"{hint}{i}") for i in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=outputs[0], **attrs))
        return outputs

    # -- integer stream helpers ------------------------------------------------------------------------
    def shift(self, values: str, by: int, fill: str) -> str:
        """``out[i] = values[i - by]`` with ``fill`` outside; same length as ``values`` for any length."""
        fills = self.op("Expand", [fill, self.const([abs(by)])], "fill")
        if by > 0:
            padded = self.op("Concat", [fills, values], "pad", axis=0)
            length = self.op("Shape", [values], "len")
            return self.op("Slice", [padded, self.const([0]), length, self.const([0])], "prev")
        padded = self.op("Concat", [values, fills], "pad", axis=0)
        return self.op("Slice", [padded, self.const([-by]), self.const([INT_MAX_64]), self.const([0])], "next")

    def has_flag(self, flags: str, flag: int) -> str:
        masked = self.op("BitwiseAnd", [flags, self.const(flag)], "masked")
        return self.op("Greater", [masked, self.const(0)], "is")

    def fold(self, hashes: str, values: str) -> str:
        scaled = self.op("Mul", [hashes, self.const(HASH_BASE)], "scaled")
        return self.op("Mod", [self.op("Add", [scaled, values], "sum"), self.const(HASH_MODULUS)], "hash")

    def compress_all(self, keep: str, *arrays: str) -> list[str]:
        return [self.op("Compress", [a, keep], "kept", axis=0) for a in arrays]


INT_MAX_64 = INT64_MAX


def _normalised_stream(g: _GraphBuilder) -> tuple[str, str, str]:
    """text [N] -> (codes [T], flags [T], n_rows as [1]); mirrors featurizer/stream.py."""
    chars = g.op("Tokenizer", [ONNX_INPUT_NAME], "chars", domain="com.microsoft", mark=0, mincharnum=1,
                 pad_value=PAD_TOKEN, separators=[""])
    keys, values = table_entries()
    packed = g.op("LabelEncoder", [chars], "packed", domain="ai.onnx.ml", name="char_table",
                  keys_strings=keys, values_int64s=values.tolist(), default_int64=UNKNOWN_PACKED)
    n_rows = g.op("Shape", [ONNX_INPUT_NAME], "n_rows")
    prefix = g.op("Expand", [g.const([[SEP_PACKED, SPACE_PACKED]]),
                             g.op("Concat", [n_rows, g.const([2])], "shape", axis=0)], "prefix")
    suffix = g.op("Expand", [g.const([[SPACE_PACKED]]),
                             g.op("Concat", [n_rows, g.const([1])], "shape", axis=0)], "suffix")
    rows = g.op("Concat", [prefix, packed, suffix], "rows", axis=1)
    flat = g.op("Concat", [g.op("Reshape", [rows, g.const([-1])], "flat"), g.const([SEP_PACKED])], "stream",
                axis=0)
    (flat,) = g.compress_all(g.op("Not", [g.op("Equal", [flat, g.const(DROP)])]), flat)
    codes = g.op("Div", [flat, g.const(FLAG_RADIX)], "codes")
    flags = g.op("Mod", [flat, g.const(FLAG_RADIX)], "flags")

    # leetspeak
    false = g.const([False], dtype=np.bool_)
    letter = g.has_flag(flags, FLAG_LETTER)
    prev_letter, next_letter = g.shift(letter, 1, false), g.shift(letter, -1, false)
    strong = g.op("And", [g.has_flag(flags, FLAG_LEET_STRONG), g.op("Or", [prev_letter, next_letter])])
    weak = g.op("And", [g.has_flag(flags, FLAG_LEET_WEAK), g.op("And", [prev_letter, next_letter])])
    substitute = g.op("Or", [strong, weak], "leet")
    sources, targets = leet_entries()
    leet_codes = g.op("LabelEncoder", [codes], "leet_codes", domain="ai.onnx.ml", name="leet_table",
                      keys_int64s=sources.tolist(), values_int64s=targets.tolist(), default_int64=-1)
    codes = g.op("Where", [substitute, leet_codes, codes], "codes")
    flags = g.op("Where", [substitute, g.const(FLAG_LETTER | FLAG_WORD), flags], "flags")

    # runs of spaces -> one
    space = g.has_flag(flags, FLAG_SPACE)
    drop = g.op("And", [space, g.shift(space, 1, false)])
    codes, flags = g.compress_all(g.op("Not", [drop]), codes, flags)

    # a character repeated 3+ times keeps two
    sep = g.const([SEP_CODE])
    same1 = g.op("Equal", [codes, g.shift(codes, 1, sep)])
    same2 = g.op("Equal", [codes, g.shift(codes, 2, sep)])
    not_sep = g.op("Not", [g.op("Equal", [codes, g.const(SEP_CODE)])])
    drop = g.op("And", [g.op("And", [same1, same2]), not_sep])
    codes, flags = g.compress_all(g.op("Not", [drop]), codes, flags)

    # s h i t -> shit
    letter, space = g.has_flag(flags, FLAG_LETTER), g.has_flag(flags, FLAG_SPACE)

    def at(mask: str, offset: int) -> str:
        return g.shift(mask, -offset, false)

    between = g.op("And", [g.op("And", [at(letter, -1), at(space, -2)]),
                           g.op("And", [at(letter, 1), at(space, 2)])])
    run3 = g.op("Or", [g.op("And", [at(letter, -3), at(space, -4)]), g.op("And", [at(letter, 3), at(space, 4)])])
    drop = g.op("And", [space, g.op("And", [between, run3])])
    codes, flags = g.compress_all(g.op("Not", [drop]), codes, flags)
    return codes, flags, n_rows


def _ngram_keys(g: _GraphBuilder, codes: str, flags: str, char_min: int, char_max: int, word_max: int,
                max_word_chars: int) -> tuple[str, str, str]:
    """(keys, rows, families) of every n-gram occurrence; mirrors featurizer/ngrams.py."""
    is_sep = g.op("Equal", [codes, g.const(SEP_CODE)], "is_sep")
    row = g.op("Sub", [g.op("CumSum", [g.op("Cast", [is_sep], to=TensorProto.INT64), g.const(0)]),
                       g.const(1)], "row")
    keys, rows, families = [], [], []

    def add_part(part_keys: str, part_rows: str, family: int) -> None:
        keys.append(part_keys)
        rows.append(part_rows)
        families.append(g.op("Expand", [g.const([family]), g.op("Shape", [part_keys])], "family"))

    sep = g.const([SEP_CODE])
    partial = g.op("Expand", [g.const([SALT_CHAR]), g.op("Shape", [codes])], "partial")
    valid = g.op("Not", [is_sep])
    for n in range(1, char_max + 1):
        last = g.shift(codes, -(n - 1), sep) if n > 1 else codes
        if n > 1:
            valid = g.op("And", [valid, g.op("Not", [g.op("Equal", [last, g.const(SEP_CODE)])])])
        partial = g.fold(partial, last)
        if n >= char_min:
            key = g.fold(partial, g.const(n))
            part_keys, part_rows = g.compress_all(valid, key, row)
            add_part(part_keys, part_rows, FAMILY_CHAR)

    if word_max >= 1:
        false = g.const([False], dtype=np.bool_)
        word = g.has_flag(flags, FLAG_WORD)
        starts_mask = g.op("And", [word, g.op("Not", [g.shift(word, 1, false)])])
        ends_mask = g.op("And", [word, g.op("Not", [g.shift(word, -1, false)])])
        starts = g.op("Reshape", [g.op("NonZero", [starts_mask]), g.const([-1])], "starts")
        ends = g.op("Reshape", [g.op("NonZero", [ends_mask]), g.const([-1])], "ends")
        lengths = g.op("Add", [g.op("Sub", [ends, starts]), g.const(1)], "lengths")
        last_index = g.op("Sub", [g.op("Size", [codes]), g.const(1)], "last_index")
        hashes = g.op("Expand", [g.const([SALT_WORD]), g.op("Shape", [starts])], "word_hash")
        for k in range(max_word_chars):
            position = g.op("Min", [g.op("Add", [starts, g.const(k)]), last_index], "pos")
            folded = g.fold(hashes, g.op("Gather", [codes, position], axis=0))
            hashes = g.op("Where", [g.op("Less", [g.const(k), lengths]), folded, hashes], "word_hash")
        word_rows = g.op("Gather", [row, starts], "word_rows", axis=0)
        add_part(hashes, word_rows, FAMILY_WORD)
        if word_max >= 2:
            zero, minus_one, one, end = g.const([0]), g.const([-1]), g.const([1]), g.const([INT_MAX_64])
            first, second = (g.op("Slice", [hashes, zero, minus_one]), g.op("Slice", [hashes, one, end]))
            row_a, row_b = (g.op("Slice", [word_rows, zero, minus_one]), g.op("Slice", [word_rows, one, end]))
            same_row = g.op("Equal", [row_a, row_b])
            bigram = g.fold(g.fold(g.op("Expand", [g.const([SALT_WORD_BIGRAM]), g.op("Shape", [first])]), first),
                            second)
            part_keys, part_rows = g.compress_all(same_row, bigram, row_a)
            add_part(part_keys, part_rows, FAMILY_WORD)

    return (g.op("Concat", keys, "keys", axis=0), g.op("Concat", rows, "key_rows", axis=0),
            g.op("Concat", families, "key_families", axis=0))


def build_onnx(model: LinearNgramModel) -> onnx.ModelProto:
    """The complete scoring graph for ``model``."""
    params = model.params
    g = _GraphBuilder()
    codes, flags, n_rows = _normalised_stream(g)
    keys, rows, families = _ngram_keys(g, codes, flags, params.char_ngram_min, params.char_ngram_max,
                                       params.word_ngram_max, params.max_word_chars)

    vocab_size = max(int(model.vocabulary.size), 1)
    ids = g.op("LabelEncoder", [keys], "ids", domain="ai.onnx.ml", name=ONNX_VOCABULARY_NODE,
               keys_int64s=model.vocabulary.astype(np.int64).tolist(),
               values_int64s=list(range(model.vocabulary.size)), default_int64=-1)
    hit = g.op("GreaterOrEqual", [ids, g.const(0)], "hit")
    ids, rows, families = g.compress_all(hit, ids, rows, families)
    segments = g.op("Add", [g.op("Mul", [rows, g.const(2)]), families], "segments")
    composite = g.op("Add", [g.op("Mul", [segments, g.const(vocab_size)]), ids], "composite")
    unique, _, _, counts = g.op_multi("Unique", [composite], 4, "unique", sorted=1)
    segments = g.op("Div", [unique, g.const(vocab_size)], "segment")
    ids = g.op("Mod", [unique, g.const(vocab_size)], "id")

    tf = g.op("Cast", [counts], to=TensorProto.FLOAT)
    if params.sublinear_tf:
        tf = g.op("Add", [g.op("Log", [tf]), g.const(1.0, np.float32)], "tf")
    idf = g.const(model.idf.astype(np.float32), np.float32, name=ONNX_IDF)
    values = g.op("Mul", [tf, g.op("Gather", [idf, ids], axis=0)], "tfidf")
    n_segments = g.op("Mul", [n_rows, g.const([2])], "n_segments")
    zeros = g.op("ConstantOfShape", [n_segments], value=numpy_helper.from_array(np.zeros(1, np.float32)))
    sums = g.op("ScatterElements", [zeros, segments, g.op("Mul", [values, values])], "sumsq", axis=0,
                reduction="add")
    norms = g.op("Sqrt", [g.op("Gather", [sums, segments], axis=0)], "norms")
    family_weights = g.const(np.asarray(params.family_weights, np.float32), np.float32, name=ONNX_FAMILY_WEIGHTS)
    scale = g.op("Gather", [family_weights, g.op("Mod", [segments, g.const(2)])], axis=0)
    values = g.op("Mul", [g.op("Div", [values, norms]), scale], "x")

    weights = g.const(model.weights.astype(np.float32), np.float32, name=ONNX_WEIGHTS)
    contributions = g.op("Mul", [g.op("Gather", [weights, ids], axis=0),
                                 g.op("Unsqueeze", [values, g.const([1])])], "contrib")
    bias = g.const(model.bias.astype(np.float32).reshape(1, -1), np.float32, name=ONNX_BIAS)
    out_shape = g.op("Concat", [n_rows, g.const([len(model.labels)])], axis=0)
    logits = g.op("ScatterND", [g.op("Expand", [bias, out_shape]),
                                g.op("Unsqueeze", [g.op("Div", [segments, g.const(2)]), g.const([1])]),
                                contributions], "logits", reduction="add")
    g.nodes.append(helper.make_node("Sigmoid", [logits], [ONNX_OUTPUT_NAME], name="scores"))

    graph = helper.make_graph(
        g.nodes, "threadguard_ngram",
        [helper.make_tensor_value_info(ONNX_INPUT_NAME, TensorProto.STRING, ["N"])],
        [helper.make_tensor_value_info(ONNX_OUTPUT_NAME, TensorProto.FLOAT, ["N", len(model.labels)])],
        initializer=g.initializers,
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET),
                       helper.make_opsetid("com.microsoft", 1)],
        ir_version=IR_VERSION,
        producer_name="threadguard",
        doc_string="threadguard hashed n-gram TF-IDF + calibrated logistic regression; labels: "
                   + ",".join(model.labels),
    )
    metadata = onnx_model.metadata_props.add()
    metadata.key, metadata.value = "labels", ",".join(model.labels)
    return onnx_model


def export_bytes(model: LinearNgramModel) -> bytes:
    """Serialised ONNX for ``model``, checked by the ONNX checker."""
    onnx_model = build_onnx(model)
    onnx.checker.check_model(onnx_model)
    return onnx_model.SerializeToString()
