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
           name: str | None = None, **attrs: object) -> str:
        output = self.fresh(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name or output, domain=domain, **attrs))
        return output

    def stack_columns(self, columns: list[str], hint: str) -> str:
        """[T] tensors -> one [T, len(columns)] tensor."""
        return self.op("Concat", [self.op("Unsqueeze", [c, self.const([1])]) for c in columns], hint, axis=1)

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


def _powers_mod(count: int) -> np.ndarray:
    """HASH_BASE**e mod HASH_MODULUS for e in 0..count-1 (exact: Python integers)."""
    return np.array([pow(HASH_BASE, e, HASH_MODULUS) for e in range(count)], dtype=np.int64)


def _normalised_stream(g: _GraphBuilder) -> tuple[str, str]:
    """text [N] -> (codes [T], flags [T]); mirrors featurizer/stream.py."""
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
    return codes, flags


def _ngram_keys(g: _GraphBuilder, codes: str, flags: str, char_min: int, char_max: int, word_max: int,
                max_word_chars: int) -> tuple[str, str, list[int]]:
    """Every n-gram kind at every stream position: (keys [T, K], valid [T, K], family of each kind).

    Kinds are the character n-gram lengths, then word unigrams and bigrams (anchored at the word's first
    character). Keeping occurrences in stream order keeps them sorted by text, which lets the scorer sum per
    text with CumSum instead of scatter reductions. Mirrors featurizer/ngrams.py.
    """
    is_sep = g.op("Equal", [codes, g.const(SEP_CODE)], "is_sep")
    keys, valids, families = [], [], []
    sep = g.const([SEP_CODE])
    partial = g.op("Expand", [g.const([SALT_CHAR]), g.op("Shape", [codes])], "partial")
    valid = g.op("Not", [is_sep])
    for n in range(1, char_max + 1):
        last = g.shift(codes, -(n - 1), sep) if n > 1 else codes
        if n > 1:
            valid = g.op("And", [valid, g.op("Not", [g.op("Equal", [last, g.const(SEP_CODE)])])])
        partial = g.fold(partial, last)
        if n >= char_min:
            keys.append(g.fold(partial, g.const(n)))
            valids.append(valid)
            families.append(FAMILY_CHAR)

    if word_max >= 1:
        false = g.const([False], dtype=np.bool_)
        word = g.has_flag(flags, FLAG_WORD)
        starts_mask = g.op("And", [word, g.op("Not", [g.shift(word, 1, false)])])
        ends_mask = g.op("And", [word, g.op("Not", [g.shift(word, -1, false)])])
        starts = g.op("Reshape", [g.op("NonZero", [starts_mask]), g.const([-1])], "starts")
        ends = g.op("Reshape", [g.op("NonZero", [ends_mask]), g.const([-1])], "ends")
        lengths = g.op("Add", [g.op("Sub", [ends, starts]), g.const(1)], "lengths")
        last_index = g.op("Sub", [g.op("Size", [codes]), g.const(1)], "last_index")
        # closed form of the sequential fold over a word's first max_word_chars codes:
        #   salt * P^len + sum_k c_k * P^(len-1-k)  (mod M), every product < 2**63 because P^e is reduced mod M
        offsets = g.const(np.arange(max_word_chars, dtype=np.int64).reshape(1, -1))
        capped = g.op("Min", [lengths, g.const(max_word_chars)], "capped")
        capped_col = g.op("Unsqueeze", [capped, g.const([1])], "capped_col")
        positions = g.op("Min", [g.op("Add", [g.op("Unsqueeze", [starts, g.const([1])]), offsets]), last_index], "pos")
        inside = g.op("Less", [offsets, capped_col], "inside")
        word_codes = g.op("Where", [inside, g.op("Gather", [codes, positions], axis=0), g.const(0)], "word_codes")
        exponents = g.op("Max", [g.op("Sub", [g.op("Sub", [capped_col, g.const(1)]), offsets]), g.const(0)], "exp")
        powers = g.const(_powers_mod(max_word_chars + 1), name="word_hash_powers")
        terms = g.op("Mod", [g.op("Mul", [word_codes, g.op("Gather", [powers, exponents], axis=0)]),
                             g.const(HASH_MODULUS)], "terms")
        salted = g.op("Mul", [g.op("Gather", [powers, capped], axis=0), g.const(SALT_WORD)], "salted")
        total = g.op("Add", [g.op("ReduceSum", [terms, g.const([1])], keepdims=0), salted], "word_sum")
        hashes = g.op("Mod", [total, g.const(HASH_MODULUS)], "word_hash")
        # back onto stream positions; word starts are distinct, so this scatter has no reduction and no race
        zeros = g.op("Expand", [g.const([0]), g.op("Shape", [codes])], "no_key")
        keys.append(g.op("ScatterElements", [zeros, starts, hashes], "word_keys", axis=0))
        valids.append(starts_mask)
        families.append(FAMILY_WORD)
        if word_max >= 2:
            zero, minus_one, one, end = g.const([0]), g.const([-1]), g.const([1]), g.const([INT_MAX_64])
            first, second = g.op("Slice", [hashes, zero, minus_one]), g.op("Slice", [hashes, one, end])
            # two consecutive words are in the same text when no separator lies between them
            separators_before = g.op("CumSum", [g.op("Cast", [is_sep], to=TensorProto.INT64), g.const(0)])
            word_rows = g.op("Gather", [separators_before, starts], axis=0)
            same_row = g.op("Equal", [g.op("Slice", [word_rows, zero, minus_one]),
                                      g.op("Slice", [word_rows, one, end])])
            salt = g.op("Expand", [g.const([SALT_WORD_BIGRAM]), g.op("Shape", [first])])
            bigrams = g.fold(g.fold(salt, first), second)
            anchors = g.op("Slice", [starts, zero, minus_one], "bigram_anchor")
            keys.append(g.op("ScatterElements", [zeros, anchors, bigrams], "bigram_keys", axis=0))
            no_bigram = g.op("Expand", [false, g.op("Shape", [codes])])
            valids.append(g.op("ScatterElements", [no_bigram, anchors, same_row], "bigram_valid", axis=0))
            families.append(FAMILY_WORD)

    return g.stack_columns(keys, "keys"), g.stack_columns(valids, "valid"), families


def _row_sums(g: _GraphBuilder, values: str, boundaries: str, width: int) -> str:
    """Per-text sums of row-sorted ``values`` [H, width] given each text's [start, end) as indices into
    ``values`` (``boundaries`` [N + 1]): differences of a zero-prefixed CumSum, in float64."""
    cumulative = g.op("Concat", [g.const(np.zeros((1, width)), np.float64),
                                 g.op("CumSum", [values, g.const(0)])], "cumulative", axis=0)
    zero, minus_one, one, end = g.const([0]), g.const([-1]), g.const([1]), g.const([INT_MAX_64])
    upper = g.op("Gather", [cumulative, g.op("Slice", [boundaries, one, end])], axis=0)
    lower = g.op("Gather", [cumulative, g.op("Slice", [boundaries, zero, minus_one])], axis=0)
    return g.op("Sub", [upper, lower], "row_sums")


def build_onnx(model: LinearNgramModel) -> onnx.ModelProto:
    """The complete scoring graph for ``model``."""
    params = model.params
    g = _GraphBuilder()
    codes, flags = _normalised_stream(g)
    keys, valid, kind_families = _ngram_keys(g, codes, flags, params.char_ngram_min, params.char_ngram_max,
                                             params.word_ngram_max, params.max_word_chars)
    kinds = len(kind_families)
    flat_keys = g.op("Reshape", [keys, g.const([-1])], "flat_keys")
    ids = g.op("LabelEncoder", [flat_keys], "ids", domain="ai.onnx.ml", name=ONNX_VOCABULARY_NODE,
               keys_int64s=model.vocabulary.astype(np.int64).tolist(),
               values_int64s=list(range(model.vocabulary.size)), default_int64=-1)
    hit = g.op("And", [g.op("Reshape", [valid, g.const([-1])]), g.op("GreaterOrEqual", [ids, g.const(0)])], "hit")
    n_positions = g.op("Shape", [codes])
    families = g.op("Reshape", [g.op("Expand", [g.const(np.array([kind_families], dtype=np.int64)),
                                                 g.op("Concat", [n_positions, g.const([kinds])], axis=0)]),
                                g.const([-1])], "kind_family")
    # texts begin at their separator; hits stay in stream order, so each text's hits are contiguous
    separators = g.op("Reshape", [g.op("NonZero", [g.op("Equal", [codes, g.const(SEP_CODE)])]), g.const([-1])])
    text_starts = g.op("Mul", [separators, g.const(kinds)], "text_starts")

    # x_j = c_j idf_j / ||.|| per (text, family) with ||.||^2 = sum over occurrences of idf^2 (FeaturizerParams).
    # So a text's logit is  bias + sum_f  w_f / ||.||_f * sum_{hits of family f} (idf * W)[id]. One table holds
    # idf * W and, as its last column, idf^2: the per-hit work is one row gather and a running sum (CumSum in
    # float64) — no per-hit multiply, no scatter.
    labels = len(model.labels)
    table = np.hstack([model.weights.astype(np.float64) * model.idf[:, None], (model.idf ** 2)[:, None]])
    weights = g.const(table.astype(np.float32), np.float32, name=ONNX_WEIGHTS)
    bias = g.const(model.bias.astype(np.float64).reshape(1, -1), np.float64, name=ONNX_BIAS)
    label_columns, norm_column = g.const([0]), g.const([labels])
    logits = bias
    for family in sorted(set(kind_families)):
        in_family = g.op("And", [hit, g.op("Equal", [families, g.const(family)])], "in_family")
        family_ids = g.op("Compress", [ids, in_family], "family_ids", axis=0)
        hits_before = g.op("Concat", [g.const([0]), g.op("CumSum", [g.op("Cast", [in_family], to=TensorProto.INT64),
                                                                     g.const(0)])], "hits_before", axis=0)
        boundaries = g.op("Gather", [hits_before, text_starts], "boundaries", axis=0)
        rows = g.op("Cast", [g.op("Gather", [weights, family_ids], axis=0)], "table_rows", to=TensorProto.DOUBLE)
        sums = _row_sums(g, rows, boundaries, labels + 1)  # [N, L + 1]
        squares = g.op("Squeeze", [g.op("Slice", [sums, norm_column, g.const([labels + 1]), g.const([1])]),
                                   g.const([1])], "squares")
        label_sums = g.op("Slice", [sums, label_columns, norm_column, g.const([1])], "label_sums")
        scale = g.op("Where", [g.op("Greater", [squares, g.const(0.0, np.float64)]),
                               g.op("Div", [g.const(float(params.family_weights[family]), np.float64),
                                            g.op("Sqrt", [squares])]),
                               g.const(0.0, np.float64)], "scale")
        logits = g.op("Add", [logits, g.op("Mul", [label_sums, g.op("Unsqueeze", [scale, g.const([1])])])], "logits")
    probabilities = g.op("Sigmoid", [logits], "probabilities")
    g.nodes.append(helper.make_node("Cast", [probabilities], [ONNX_OUTPUT_NAME], name="scores", to=TensorProto.FLOAT))

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
