"""Export a :class:`~threadguard.linear_model.LinearNgramModel` to one ONNX graph of standard operators.

The graph mirrors ``threadguard/featurizer`` step for step (see docs/architecture.md). Design constraints:

- exact: after the character tokenizer everything is int64 arithmetic or the same float formula as the
  reference, so scores agree to float32 rounding;
- no locale: ``StringNormalizer`` is never used, a ``LabelEncoder`` table normalises characters;
- cost independent of vocabulary size: the vocabulary is a hash lookup (``LabelEncoder`` int64 -> int64) and
  weights are gathered per n-gram occurrence (absent ones hit a zero row); no [N, |V|] tensor exists anywhere;
- cost per comment proportional to its n-gram occurrences, with no data-dependent control flow: no sort,
  ``Unique``, scatter-reduction or ``Compress`` of occurrences (each measured slow or, for scatter-add with
  several threads, wrong); per-text sums are differences of running sums.
"""

from __future__ import annotations

from typing import Any

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
from threadguard.featurizer.ngrams import word_hash_multipliers
from threadguard.featurizer.params import (
    FAMILY_CHAR,
    FAMILY_WORD,
    HASH_BASE,
    HASH_MODULUS,
    SALT_CHAR,
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
           name: str | None = None, **attrs: Any) -> str:
        output = self.fresh(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name or output, domain=domain, **attrs))
        return output

    def stack_rows(self, rows: list[str], hint: str) -> str:
        """[T] tensors -> one [len(rows), T] tensor."""
        if len(rows) == 1:
            return self.op("Unsqueeze", [rows[0], self.const([0])], hint)
        return self.op("Concat", [self.op("Unsqueeze", [r, self.const([0])]) for r in rows], hint, axis=0)

    # -- integer stream helpers ------------------------------------------------------------------------
    def shift(self, values: str, by: int, fill: bool | int) -> str:
        """``out[i] = values[i - by]`` with ``fill`` outside, same length as ``values``: one ``Pad`` that adds
        ``by`` elements at one end and removes them at the other (negative pads crop)."""
        dtype = np.bool_ if isinstance(fill, bool) else np.int64
        return self.op("Pad", [values, self.const([by, -by]), self.const(fill, dtype)], "prev" if by > 0 else "next",
                       mode="constant")

    def has_flag(self, flags: str, flag: int) -> str:
        masked = self.op("BitwiseAnd", [flags, self.const(flag)], "masked")
        return self.op("Greater", [masked, self.const(0)], "is")

    def fold(self, hashes: str, values: str) -> str:
        scaled = self.op("Mul", [hashes, self.const(HASH_BASE)], "scaled")
        return self.op("Mod", [self.op("Add", [scaled, values], "sum"), self.const(HASH_MODULUS)], "hash")

    def split(self, values: str, sizes: str, parts: int) -> list[str]:
        outputs = [self.fresh("part") for _ in range(parts)]
        self.nodes.append(helper.make_node("Split", [values, sizes], outputs, name=outputs[0], axis=0))
        return outputs

    def compress_all(self, keep: str, *arrays: str) -> list[str]:
        return [self.op("Compress", [a, keep], "kept", axis=0) for a in arrays]


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
    letter = g.has_flag(flags, FLAG_LETTER)
    prev_letter, next_letter = g.shift(letter, 1, False), g.shift(letter, -1, False)
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
    drop = g.op("And", [space, g.shift(space, 1, False)])
    codes, flags = g.compress_all(g.op("Not", [drop]), codes, flags)

    # a character repeated 3+ times keeps two
    same1 = g.op("Equal", [codes, g.shift(codes, 1, SEP_CODE)])
    same2 = g.op("Equal", [codes, g.shift(codes, 2, SEP_CODE)])
    not_sep = g.op("Not", [g.op("Equal", [codes, g.const(SEP_CODE)])])
    drop = g.op("And", [g.op("And", [same1, same2]), not_sep])
    codes, flags = g.compress_all(g.op("Not", [drop]), codes, flags)

    # s h i t -> shit
    letter, space = g.has_flag(flags, FLAG_LETTER), g.has_flag(flags, FLAG_SPACE)

    def at(mask: str, offset: int) -> str:
        return g.shift(mask, -offset, False)

    between = g.op("And", [g.op("And", [at(letter, -1), at(space, -2)]),
                           g.op("And", [at(letter, 1), at(space, 2)])])
    run3 = g.op("Or", [g.op("And", [at(letter, -3), at(space, -4)]), g.op("And", [at(letter, 3), at(space, 4)])])
    drop = g.op("And", [space, g.op("And", [between, run3])])
    codes, flags = g.compress_all(g.op("Not", [drop]), codes, flags)
    return codes, flags


def _char_ngram_keys(g: _GraphBuilder, codes: str, is_sep: str, lengths: tuple[int, ...]) -> tuple[str, str]:
    """Character n-gram keys at every stream position: (keys [K, T], valid [K, T]), one row per length.

    A column's key at position i is the n-gram starting there; it is valid when the n-gram holds no separator.
    Mirrors featurizer/ngrams.py. The first two folds need no ``Mod``: their values stay below the modulus
    (``(SALT_CHAR * HASH_BASE + c) * HASH_BASE + c < HASH_MODULUS`` for any code), so skipping it is exact.
    """
    keys, valids = [], []
    partial: str | int = SALT_CHAR
    valid = g.op("Not", [is_sep])
    for n in range(1, lengths[-1] + 1):
        last = g.shift(codes, -(n - 1), SEP_CODE) if n > 1 else codes
        if n > 1:
            valid = g.op("And", [valid, g.op("Not", [g.op("Equal", [last, g.const(SEP_CODE)])])])
        if isinstance(partial, int):
            partial = g.op("Add", [last, g.const(partial * HASH_BASE)], "partial")
        elif n <= 2:
            partial = g.op("Add", [g.op("Mul", [partial, g.const(HASH_BASE)]), last], "partial")
        else:
            partial = g.fold(partial, last)
        if n in lengths:
            keys.append(g.fold(partial, g.const(n)))
            valids.append(valid)
    return g.stack_rows(keys, "char_keys"), g.stack_rows(valids, "char_valid")


def _word_ngram_keys(g: _GraphBuilder, codes: str, flags: str, is_sep: str, word_max: int,
                     max_word_chars: int) -> tuple[str, str, str]:
    """Word n-gram keys, one column per word: (keys [K, W], valid [K, W], words before each stream position [T]).

    Row 0 is the word, row 1 (when ``word_max`` is 2) the bigram it starts; a bigram is valid when the
    next word is in the same text. Words are in stream order, so each text's words are contiguous and the last
    output turns text boundaries in the stream into boundaries in the rows. Mirrors featurizer/ngrams.py.
    """
    false = g.const([False], dtype=np.bool_)
    word = g.has_flag(flags, FLAG_WORD)
    starts_mask = g.op("And", [word, g.op("Not", [g.shift(word, 1, False)])])
    ends_mask = g.op("And", [word, g.op("Not", [g.shift(word, -1, False)])])
    starts = g.op("Reshape", [g.op("NonZero", [starts_mask]), g.const([-1])], "starts")
    ends = g.op("Reshape", [g.op("NonZero", [ends_mask]), g.const([-1])], "ends")
    lengths = g.op("Add", [g.op("Sub", [ends, starts]), g.const(1)], "lengths")
    # word_hashes: (sum_k c_k R_k + salt[c]) mod M over the first max_word_chars codes: one int64 MatMul of the
    # [W, max_word_chars] code matrix (codes padded so that start + k never runs off the stream, masked past
    # the word's end) with the multipliers
    multipliers, salts = word_hash_multipliers(max_word_chars)
    padded = g.op("Concat", [codes, g.const(np.zeros(max_word_chars))], "padded_codes", axis=0)
    offsets = g.const(np.arange(max_word_chars, dtype=np.int64).reshape(1, -1))
    positions = g.op("Add", [g.op("Unsqueeze", [starts, g.const([1])]), offsets], "positions")
    inside = g.op("Less", [offsets, g.op("Unsqueeze", [lengths, g.const([1])])], "inside")
    word_codes = g.op("Where", [inside, g.op("Gather", [padded, positions], axis=0), g.const(0)], "word_codes")
    salt = g.op("Gather", [g.const(salts), g.op("Min", [lengths, g.const(max_word_chars)])], "word_salt", axis=0)
    # a [max_word_chars, 1] right operand: onnxruntime's MatMul rejects [0, k] x [k] (a batch without words)
    weighted = g.op("MatMul", [word_codes, g.const(multipliers.reshape(-1, 1))], "weighted_codes")
    total = g.op("Add", [g.op("Reshape", [weighted, g.const([-1])]), salt], "word_sum")
    hashes = g.op("Mod", [total, g.const(HASH_MODULUS)], "word_hash")
    words_before = g.op("CumSum", [g.op("Cast", [starts_mask], to=TensorProto.INT64), g.const(0)], "words_before",
                        exclusive=1)
    if word_max < 2:
        all_words = g.op("Expand", [g.const([True], dtype=np.bool_), g.op("Shape", [hashes])], "word_valid")
        return g.stack_rows([hashes], "word_keys"), g.stack_rows([all_words], "word_valid"), words_before
    zero, minus_one, one, end = g.const([0]), g.const([-1]), g.const([1]), g.const([INT64_MAX])
    # the bigram of word i and word i + 1; the last word's slot pairs it with itself and is never valid
    following = g.op("Concat", [g.op("Slice", [hashes, one, end]), g.op("Slice", [hashes, minus_one, end])],
                     "following", axis=0)
    salted_first = g.op("Mod", [g.op("Add", [hashes, g.const(SALT_WORD_BIGRAM * HASH_BASE)]), g.const(HASH_MODULUS)])
    bigrams = g.fold(salted_first, following)  # fold(fold(SALT_WORD_BIGRAM, first), second)
    # two consecutive words are in the same text when no separator lies between them
    separators_before = g.op("CumSum", [g.op("Cast", [is_sep], to=TensorProto.INT64), g.const(0)])
    word_rows = g.op("Gather", [separators_before, starts], axis=0)
    same_row = g.op("Equal", [g.op("Slice", [word_rows, zero, minus_one]), g.op("Slice", [word_rows, one, end])])
    bigram_valid = g.op("Concat", [same_row, false], "bigram_valid", axis=0)
    all_words = g.op("Expand", [g.const([True], dtype=np.bool_), g.op("Shape", [hashes])], "word_valid")
    return (g.stack_rows([hashes, bigrams], "word_keys"), g.stack_rows([all_words, bigram_valid], "word_valid"),
            words_before)


def _row_sums(g: _GraphBuilder, values: str, boundaries: str, width: int) -> str:
    """Per-text sums of row-sorted ``values`` [H, width] given each text's [start, end) as indices into
    ``values`` (``boundaries`` [N + 1]): differences of a zero-prefixed CumSum, in float64."""
    cumulative = g.op("Concat", [g.const(np.zeros((1, width)), np.float64),
                                 g.op("CumSum", [values, g.const(0)])], "cumulative", axis=0)
    zero, minus_one, one, end = g.const([0]), g.const([-1]), g.const([1]), g.const([INT64_MAX])
    upper = g.op("Gather", [cumulative, g.op("Slice", [boundaries, one, end])], axis=0)
    lower = g.op("Gather", [cumulative, g.op("Slice", [boundaries, zero, minus_one])], axis=0)
    return g.op("Sub", [upper, lower], "row_sums")


def _family_logits(g: _GraphBuilder, ids: str, valid: str, kinds: int, boundaries: str, table: str, miss: int,
                   labels: int, family_weight: float) -> str:
    """One family's logit contribution [N, L] from vocabulary ids [K, P] (``miss`` where absent).

    x_j = c_j idf_j / ||.|| per (text, family) with ||.||^2 = sum over occurrences of idf^2 (FeaturizerParams).
    So the contribution is  w_f / ||.||_f * sum_{occurrences} (idf * W)[id]. The table holds idf * W and, as its
    last column, idf^2, plus a zero row at ``miss``: absent and invalid n-grams gather zeros, so nothing is
    compressed or scattered. Per position the K kinds' rows are added (float32, at most a few terms), then
    summed per text with a float64 CumSum over positions.
    """
    ids = g.op("Where", [valid, ids, g.const(miss)], "present_ids")
    kind_ids = g.split(ids, g.const([1] * kinds), kinds) if kinds > 1 else [ids]
    rows = None
    for one_kind in kind_ids:
        gathered = g.op("Gather", [table, g.op("Squeeze", [one_kind, g.const([0])])], "table_rows", axis=0)
        rows = gathered if rows is None else g.op("Add", [rows, gathered], "position_rows")
    assert rows is not None
    sums = _row_sums(g, g.op("Cast", [rows], to=TensorProto.DOUBLE), boundaries, labels + 1)  # [N, L + 1]
    squares = g.op("Squeeze", [g.op("Slice", [sums, g.const([labels]), g.const([labels + 1]), g.const([1])]),
                               g.const([1])], "squares")
    label_sums = g.op("Slice", [sums, g.const([0]), g.const([labels]), g.const([1])], "label_sums")
    scale = g.op("Where", [g.op("Greater", [squares, g.const(0.0, np.float64)]),
                           g.op("Div", [g.const(float(family_weight), np.float64), g.op("Sqrt", [squares])]),
                           g.const(0.0, np.float64)], "scale")
    return g.op("Mul", [label_sums, g.op("Unsqueeze", [scale, g.const([1])])], "family_logits")


def build_onnx(model: LinearNgramModel) -> onnx.ModelProto:
    """The complete scoring graph for ``model``."""
    params = model.params
    g = _GraphBuilder()
    codes, flags = _normalised_stream(g)
    is_sep = g.op("Equal", [codes, g.const(SEP_CODE)], "is_sep")
    # texts begin at their separator: boundaries of the N texts (and the final separator) in the stream
    separators = g.op("Reshape", [g.op("NonZero", [is_sep]), g.const([-1])], "separators")
    char_keys, char_valid = _char_ngram_keys(g, codes, is_sep, params.char_ngram_lengths)
    families = [(char_keys, char_valid, len(params.char_ngram_lengths), separators, FAMILY_CHAR)]
    if params.word_ngram_max >= 1:
        word_keys, word_valid, words_before = _word_ngram_keys(g, codes, flags, is_sep, params.word_ngram_max,
                                                               params.max_word_chars)
        word_boundaries = g.op("Gather", [words_before, separators], "word_boundaries", axis=0)
        families.append((word_keys, word_valid, params.word_ngram_max, word_boundaries, FAMILY_WORD))

    # one vocabulary lookup for every family: keys flattened, concatenated, looked up, split back
    vocabulary_size = int(model.vocabulary.size)
    shapes = [g.op("Shape", [keys]) for keys, *_ in families]
    flat = [g.op("Reshape", [keys, g.const([-1])], "flat_keys") for keys, *_ in families]
    all_keys = g.op("Concat", flat, "all_keys", axis=0) if len(flat) > 1 else flat[0]
    all_ids = g.op("LabelEncoder", [all_keys], "ids", domain="ai.onnx.ml", name=ONNX_VOCABULARY_NODE,
                   keys_int64s=model.vocabulary.astype(np.int64).tolist(),
                   values_int64s=list(range(vocabulary_size)), default_int64=vocabulary_size)
    if len(flat) > 1:
        sizes = g.op("Concat", [g.op("Shape", [f]) for f in flat], "family_sizes", axis=0)
        split_ids = g.split(all_ids, sizes, len(flat))
    else:
        split_ids = [all_ids]

    labels = len(model.labels)
    table = np.vstack([
        np.hstack([model.weights.astype(np.float64) * model.idf[:, None], (model.idf ** 2)[:, None]]),
        np.zeros((1, labels + 1)),  # row `vocabulary_size`: absent n-grams
    ])
    # float32 keeps the bundle small (a float64 table measured no faster: the Cast is cheap next to the lookups)
    weights = g.const(table.astype(np.float32), np.float32, name=ONNX_WEIGHTS)
    logits = g.const(model.bias.astype(np.float64).reshape(1, -1), np.float64, name=ONNX_BIAS)
    for (_, valid, kinds, boundaries, family), ids, shape in zip(families, split_ids, shapes, strict=True):
        ids = g.op("Reshape", [ids, shape], "family_ids", allowzero=1)  # a batch may hold no words
        contribution = _family_logits(g, ids, valid, kinds, boundaries, weights, vocabulary_size, labels,
                                      params.family_weights[family])
        logits = g.op("Add", [logits, contribution], "logits")
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
