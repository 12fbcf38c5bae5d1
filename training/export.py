"""Export a :class:`~threadguard.linear_model.LinearNgramModel` to one ONNX graph of standard operators.

The graph mirrors ``threadguard/featurizer`` step for step (see docs/architecture.md). Design constraints:

- exact: after the character tokenizer everything is int64 arithmetic (window codes are small integers,
  exact in float32) or the same float formula as the reference, so scores agree to float32 rounding;
- no locale: ``StringNormalizer`` is never used, a ``LabelEncoder`` table normalises characters;
- cost independent of vocabulary size: the vocabulary is a hash lookup (``LabelEncoder`` int64 -> int64) and
  weights are gathered per n-gram occurrence (absent ones hit a zero row); no [N, |V|] tensor exists anywhere;
- cost per comment proportional to its n-gram occurrences, with no data-dependent control flow: no sort,
  ``Unique``, scatter-reduction or ``Compress`` of occurrences (each measured slow or, for scatter-add with
  several threads, wrong); per-text sums are differences of running sums. The one scatter writes the same -1 at
  the few boundary places per text, so its result does not depend on the order of writes;
- few nodes: onnxruntime spends a few tenths of a microsecond per node and run whatever the input size, most of
  the cost of scoring one short comment (233 nodes in 1.1.0, 139 now).
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
    SPACE_CODE,
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

    def ops(self, op_type: str, inputs: list[str], outputs: int, hint: str, **attrs: Any) -> list[str]:
        """A node with several outputs (``Split``)."""
        names = [self.fresh(hint) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=names[0], **attrs))
        return names

    def pad(self, values: str, pads: list[int], fill: bool | int | float, hint: str = "padded") -> str:
        """Constant ``Pad``; negative pads crop, so ``[by, -by]`` shifts a 1-D stream by ``by`` places."""
        dtype = np.bool_ if isinstance(fill, bool) else np.float64 if isinstance(fill, float) else np.int64
        return self.op("Pad", [values, self.const(pads), self.const(fill, dtype)], hint, mode="constant")

    def window_code(self, values: str, weights: list[float], before: int, hint: str) -> str:
        """``sum_j values[i - before + j] * weights[j]`` at every position i of a 1-D float stream (zeros
        outside), as int64 [T]: one ``Conv``. Exact while every sum stays below 2**24 (float32 integers)."""
        stream = self.op("Reshape", [values, self.const([1, 1, -1])], "conv_in")
        kernel = self.const(np.asarray(weights, dtype=np.float32).reshape(1, 1, -1), np.float32)
        code = self.op("Conv", [stream, kernel], hint, kernel_shape=[len(weights)],
                       pads=[before, len(weights) - 1 - before])
        return self.op("Cast", [self.op("Reshape", [code, self.const([-1])], "conv_out")], hint,
                       to=TensorProto.INT64)

    def flag_bits(self, flags: str, mask: int) -> str:
        """``flags & mask`` as float32, the input of :meth:`window_code`."""
        return self.op("Cast", [self.op("BitwiseAnd", [flags, self.const(mask)], "bits")], "bits",
                       to=TensorProto.FLOAT)

    def fold(self, hashes: str, values: str) -> str:
        """One step of the polynomial hash: ``(hashes * HASH_BASE + values) mod HASH_MODULUS``."""
        scaled = self.op("Mul", [hashes, self.const(HASH_BASE)], "scaled")
        return self.op("Mod", [self.op("Add", [scaled, values], "sum"), self.const(HASH_MODULUS)], "hash")


LEET_BITS = FLAG_LETTER | FLAG_LEET_STRONG | FLAG_LEET_WEAK  # < 14: one base-14 digit per position


def _leet_rule() -> tuple[list[float], np.ndarray]:
    """Leetspeak as a window code: ``196 v[i-1] + 14 v[i] + v[i+1]`` with ``v = flags & LEET_BITS``, and the
    table of codes whose centre is substituted (featurizer/stream.py, rule 2)."""
    substitute = np.zeros(14 ** 3, dtype=np.bool_)
    for code in range(14 ** 3):
        previous, centre, following = code // 196, code // 14 % 14, code % 14
        prev_letter, next_letter = bool(previous & FLAG_LETTER), bool(following & FLAG_LETTER)
        strong, weak = bool(centre & FLAG_LEET_STRONG), bool(centre & FLAG_LEET_WEAK)
        substitute[code] = (strong and (prev_letter or next_letter)) or (weak and prev_letter and next_letter)
    return [196.0, 14.0, 1.0], substitute


def _spaced_letters_rule() -> tuple[list[float], np.ndarray]:
    """``s h i t`` as a window code: base-3 digits ``flags & (LETTER | SPACE)`` (0 other, 1 letter, 2 space; the
    two flags never meet) of positions i-4..i+4, and the table of codes whose centre is kept (featurizer/stream.py,
    rule 5)."""
    keep = np.ones(3 ** 9, dtype=np.bool_)
    letter, space = FLAG_LETTER, FLAG_SPACE
    for code in range(3 ** 9):
        d = [code // 3 ** j % 3 for j in range(9)]  # d[j]: class at offset j - 4
        between = d[3] == letter and d[2] == space and d[5] == letter and d[6] == space
        run_of_three = (d[1] == letter and d[0] == space) or (d[7] == letter and d[8] == space)
        keep[code] = not (d[4] == space and between and run_of_three)
    return [float(3 ** j) for j in range(9)], keep


def _normalised_stream(g: _GraphBuilder) -> tuple[str, str]:
    """text [N] -> (codes [T], flags [T]); mirrors featurizer/stream.py.

    Contextual rules are window codes (one ``Conv`` over per-position classes) looked up in a table, and
    rules 3 and 4 drop in one pass: on the stream before space squeezing, "equal to the previous element
    and a space" is rule 3, "equal to the two previous elements" is rule 4, and squeezing spaces never
    changes which non-space characters are adjacent, so the union drops exactly what the two passes drop.
    """
    chars = g.op("Tokenizer", [ONNX_INPUT_NAME], "chars", domain="com.microsoft", mark=0, mincharnum=1,
                 pad_value=PAD_TOKEN, separators=[""])
    keys, values = table_entries()
    packed = g.op("LabelEncoder", [chars], "packed", domain="ai.onnx.ml", name="char_table",
                  keys_strings=keys, values_int64s=values.tolist(), default_int64=UNKNOWN_PACKED)
    # every row becomes SEP, space, characters, space; one final SEP closes the stream
    rows = g.pad(g.pad(packed, [0, 1, 0, 1], SPACE_PACKED), [0, 1, 0, 0], SEP_PACKED, "rows")
    flat = g.pad(g.op("Reshape", [rows, g.const([-1])], "flat"), [0, 1], SEP_PACKED, "stream")
    flat = g.op("Compress", [flat, g.op("Not", [g.op("Equal", [flat, g.const(DROP)])])], "kept", axis=0)
    codes = g.op("Div", [flat, g.const(FLAG_RADIX)], "codes")
    flags = g.op("Mod", [flat, g.const(FLAG_RADIX)], "flags")

    # 2. leetspeak
    weights, substitute_table = _leet_rule()
    window = g.window_code(g.flag_bits(flags, LEET_BITS), weights, 1, "leet_window")
    substitute = g.op("Gather", [g.const(substitute_table, np.bool_), window], "leet", axis=0)
    sources, targets = leet_entries()
    leet_codes = g.op("LabelEncoder", [codes], "leet_codes", domain="ai.onnx.ml", name="leet_table",
                      keys_int64s=sources.tolist(), values_int64s=targets.tolist(), default_int64=-1)
    codes = g.op("Where", [substitute, leet_codes, codes], "codes")
    flags = g.op("Where", [substitute, g.const(FLAG_LETTER | FLAG_WORD), flags], "flags")

    # 3. + 4. runs of spaces -> one; a character repeated 3+ times keeps two
    same = g.op("Equal", [codes, g.pad(codes, [1, -1], SEP_CODE, "previous")], "same")
    drop = g.op("And", [same, g.op("Or", [g.op("Equal", [codes, g.const(SPACE_CODE)]),
                                          g.pad(same, [1, -1], False, "same_before")])], "repeat")
    keep = g.op("Not", [drop])
    codes, flags = (g.op("Compress", [a, keep], "kept", axis=0) for a in (codes, flags))

    # 5. s h i t -> shit
    weights, keep_table = _spaced_letters_rule()
    window = g.window_code(g.flag_bits(flags, FLAG_LETTER | FLAG_SPACE), weights, 4, "spacing_window")
    keep = g.op("Gather", [g.const(keep_table, np.bool_), window], "joined", axis=0)
    codes, flags = (g.op("Compress", [a, keep], "kept", axis=0) for a in (codes, flags))
    return codes, flags


def _char_ngram_keys(g: _GraphBuilder, codes: str, lengths: tuple[int, ...], kinds: int) -> str:
    """Character n-gram hashes [kinds, T]: row j holds the n-gram of length ``lengths[j]`` starting at each stream
    position (``-1`` rows past the lengths). Windows that hold a separator are masked later
    (:func:`_mask_boundary_ngrams`).

    Keys fold the codes one position at a time (featurizer/ngrams.py); the first two folds need no ``Mod``:
    their values stay below the modulus (``(SALT_CHAR * HASH_BASE + c) * HASH_BASE + c < HASH_MODULUS`` for any
    code), so skipping it is exact.
    """
    rows: list[str] = []
    partial: str | None = None
    for n in range(1, lengths[-1] + 1):
        last = g.pad(codes, [-(n - 1), n - 1], SEP_CODE, "next") if n > 1 else codes
        if partial is None:
            partial = g.op("Add", [last, g.const(SALT_CHAR * HASH_BASE)], "partial")
        elif n <= 2:
            partial = g.op("Add", [g.op("Mul", [partial, g.const(HASH_BASE)]), last], "partial")
        else:
            partial = g.fold(partial, last)
        if n in lengths:
            rows.append(g.op("Unsqueeze", [g.fold(partial, g.const(n)), g.const([0])], "char_hash"))
    return _stack_kinds(g, rows, kinds, "char_keys")


def _stack_kinds(g: _GraphBuilder, rows: list[str], kinds: int, hint: str) -> str:
    """[1, P] key rows -> [kinds, P], with rows of -1 (never a vocabulary key) past the family's own kinds, so
    both families line up for one lookup."""
    keys = g.op("Concat", rows, hint, axis=0) if len(rows) > 1 else rows[0]
    if kinds > len(rows):
        keys = g.pad(keys, [0, 0, kinds - len(rows), 0], -1, hint)
    return keys


def _mask_boundary_ngrams(g: _GraphBuilder, keys: str, separators: str, word_boundaries: str | None,
                          lengths: tuple[int, ...], word_max: int, kinds: int) -> str:
    """``keys`` [kinds, T (+ W)] with -1 written where an n-gram crosses a text boundary: one ``ScatterElements``.

    Such n-grams sit at known places, so nothing is computed per position: a character n-gram of length n holds a
    separator exactly when it starts at one of the n positions ending at a separator p (p - n + 1 .. p), and a
    word bigram crosses into the next text exactly when it starts at a text's last word (each text's word
    boundary minus one; ``word_boundaries`` are already offset by T). Rows with fewer such places repeat a
    place that is masked anyway (a separator itself), so every row has as many indices; all writes are the same
    -1, so repeated indices are harmless.
    """
    longest = lengths[-1]
    offsets = np.zeros((kinds, 1, longest), dtype=np.int64)
    for j, n in enumerate(lengths):
        offsets[j, 0, :n] = -np.arange(n)[::-1]
    starts = g.op("Add", [g.op("Reshape", [separators, g.const([1, -1, 1])]), g.const(offsets)])
    indices = g.op("Max", [g.op("Reshape", [starts, g.const([kinds, -1])]), g.const(0)], "boundary_ngrams")
    if word_boundaries is not None:
        end = g.const([INT64_MAX])
        later_separators = g.op("Slice", [separators, g.const([1]), end], "later_separators")
        last_words = g.op("Sub", [g.op("Slice", [word_boundaries, g.const([1]), end]), g.const(1)], "last_words")
        rows = [last_words if (kind == 1 and word_max >= 2) else later_separators for kind in range(kinds)]
        word_indices = g.op("Concat", [g.op("Unsqueeze", [row, g.const([0])]) for row in rows], axis=0)
        indices = g.op("Concat", [indices, word_indices], "boundary_ngrams", axis=1)
    minus_one = helper.make_tensor("value", TensorProto.INT64, [1], [-1])
    updates = g.op("ConstantOfShape", [g.op("Shape", [indices])], "minus_one", value=minus_one)
    return g.op("ScatterElements", [keys, indices, updates], "masked_keys", axis=1)


def _word_ngram_keys(g: _GraphBuilder, codes: str, flags: str, word_max: int, max_word_chars: int,
                     kinds: int) -> tuple[str, str]:
    """Word n-gram keys [kinds, W] (row 0 the word, 1 the bigram it starts with the next word, ``-1`` rows
    past word_max; bigrams across texts are masked later) and the
    number of words that start before each stream position, times FLAG_WORD [T + 1]. Mirrors
    featurizer/ngrams.py.

    Words are runs of word characters: the difference of the word mask with itself shifted is +1 at a start
    and -1 one past an end (times FLAG_WORD), so one ``NonZero`` gives (start, stop) pairs in stream order.
    """
    in_word = g.op("BitwiseAnd", [flags, g.const(FLAG_WORD)], "in_word")  # FLAG_WORD or 0
    edges = g.op("Sub", [g.pad(in_word, [0, 1], 0), g.pad(in_word, [1, 0], 0)], "word_edges")
    pairs = g.op("Reshape", [g.op("NonZero", [edges]), g.const([-1, 2])], "word_bounds")
    starts, stops = g.ops("Split", [pairs, g.const([1, 1])], 2, "word_part", axis=1)  # [W, 1] each
    lengths = g.op("Sub", [stops, starts], "word_lengths")
    words_before = g.op("CumSum", [g.op("Max", [edges, g.const(0)], "word_starts"), g.const(0)], "words_before",
                        exclusive=1)
    # word hash: (sum_k c_k R_k + salt[c]) mod M over the first max_word_chars codes, one int64 MatMul
    multipliers, salts = word_hash_multipliers(max_word_chars)
    offsets = g.const(np.arange(max_word_chars, dtype=np.int64).reshape(1, -1))
    characters = g.op("Gather", [g.pad(codes, [0, max_word_chars], 0, "padded_codes"),
                                 g.op("Add", [starts, offsets], "positions")], "word_window", axis=0)
    inside = g.op("Less", [offsets, lengths], "inside")
    word_codes = g.op("Where", [inside, characters, g.const(0)], "word_codes")
    salt = g.op("Gather", [g.const(salts), g.op("Min", [lengths, g.const(max_word_chars)])], "word_salt", axis=0)
    weighted = g.op("MatMul", [word_codes, g.const(multipliers.reshape(-1, 1))], "weighted_codes")
    hashes = g.op("Mod", [g.op("Add", [weighted, salt]), g.const(HASH_MODULUS)], "word_hash")  # [W, 1]
    rows = [g.op("Reshape", [hashes, g.const([1, -1])], "word_row")]
    if word_max >= 2:
        following = g.pad(hashes, [-1, 0, 1, 0], 0, "following")
        salted_first = g.op("Mod", [g.op("Add", [hashes, g.const(SALT_WORD_BIGRAM * HASH_BASE)]),
                                    g.const(HASH_MODULUS)])
        scaled = g.op("Mul", [salted_first, g.const(HASH_BASE)])
        bigrams = g.op("Mod", [g.op("Add", [scaled, following]), g.const(HASH_MODULUS)], "bigram_hash")
        # a text's last word pairs with the next text's first: masked later (_mask_boundary_ngrams)
        rows.append(g.op("Reshape", [bigrams, g.const([1, -1])], "bigram_row"))
    return _stack_kinds(g, rows, kinds, "word_keys"), words_before


def _text_sums(g: _GraphBuilder, rows: str, boundaries: str, families: int, width: int) -> list[str]:
    """Per-text, per-family sums [families, N, width] of ``rows`` [H, width] (float64), the families' rows one
    after the other; ``boundaries`` [families * (N + 1)] holds each text's start index per family and each
    family's end: differences of a zero-prefixed CumSum."""
    cumulative = g.pad(g.op("CumSum", [rows, g.const(0)]), [1, 0, 0, 0], 0.0, "cumulative")
    at = g.op("Reshape", [g.op("Gather", [cumulative, boundaries], axis=0), g.const([families, -1, width])])
    end = g.const([INT64_MAX])
    upper = g.op("Slice", [at, g.const([1]), end, g.const([1])], "upper")
    lower = g.op("Slice", [at, g.const([0]), g.const([-1]), g.const([1])], "lower")
    return g.ops("Split", [g.op("Sub", [upper, lower], "sums"), g.const([width - 1, 1])], 2, "sums_part", axis=2)


def build_onnx(model: LinearNgramModel) -> onnx.ModelProto:
    """The complete scoring graph for ``model``.

    x_j = c_j idf_j / ||.|| per (text, family) with ||.||^2 = sum over occurrences of idf^2 (FeaturizerParams).
    So a family's contribution is  w_f / ||.||_f * sum_{occurrences} (idf * W)[id]. The table holds idf * W and,
    as its last column, idf^2, plus a zero row for absent n-grams: every key (both families, every kind) is
    looked up once, its row gathered, kinds added per position (float32, a few terms), and the positions summed
    per text and family with one float64 CumSum. After the stream nothing is compressed or sorted; the only
    scatter writes -1 keys at the boundary places (:func:`_mask_boundary_ngrams`).
    """
    params = model.params
    g = _GraphBuilder()
    codes, flags = _normalised_stream(g)
    is_sep = g.op("Equal", [codes, g.const(SEP_CODE)], "is_sep")
    # texts begin at their separator: boundaries of the N texts (and the final separator) in the stream
    separators = g.op("Reshape", [g.op("NonZero", [is_sep]), g.const([-1])], "separators")
    kinds = max(len(params.char_ngram_lengths), params.word_ngram_max)
    keys = [_char_ngram_keys(g, codes, params.char_ngram_lengths, kinds)]
    boundaries = [separators]
    family_weights = [params.family_weights[FAMILY_CHAR]]
    word_boundaries = None
    if params.word_ngram_max >= 1:
        word_keys, words_before = _word_ngram_keys(g, codes, flags, params.word_ngram_max, params.max_word_chars,
                                                   kinds)
        keys.append(word_keys)
        words = g.op("Div", [g.op("Gather", [words_before, separators], axis=0), g.const(FLAG_WORD)])
        # word rows follow the T character rows
        word_boundaries = g.op("Add", [words, g.op("Shape", [codes], "stream_length")], "word_boundaries")
        boundaries.append(word_boundaries)
        family_weights.append(params.family_weights[FAMILY_WORD])

    vocabulary_size = int(model.vocabulary.size)
    all_keys = g.op("Concat", keys, "all_keys", axis=1) if len(keys) > 1 else keys[0]  # [kinds, T + W]
    all_keys = _mask_boundary_ngrams(g, all_keys, separators, word_boundaries, params.char_ngram_lengths,
                                     params.word_ngram_max, kinds)
    ids = g.op("LabelEncoder", [all_keys], "ids", domain="ai.onnx.ml", name=ONNX_VOCABULARY_NODE,
               keys_int64s=model.vocabulary.astype(np.int64).tolist(),
               values_int64s=list(range(vocabulary_size)), default_int64=vocabulary_size)
    labels = len(model.labels)
    table = np.vstack([
        np.hstack([model.weights.astype(np.float64) * model.idf[:, None], (model.idf ** 2)[:, None]]),
        np.zeros((1, labels + 1)),  # row `vocabulary_size`: absent n-grams
    ])
    # float32 keeps the bundle small (a float64 table measured no faster: the Cast is cheap next to the lookups)
    weights = g.const(table.astype(np.float32), np.float32, name=ONNX_WEIGHTS)
    # per kind a [1, T + W] id row gathers [1, T + W, L + 1]; kinds add up per position (float32, a few terms;
    # onnxruntime's ReduceSum over the kind axis measured ~10x slower than Split + Gathers + Add)
    kind_ids = g.ops("Split", [ids, g.const([1] * kinds)], kinds, "kind_ids", axis=0) if kinds > 1 else [ids]
    rows = g.op("Gather", [weights, kind_ids[0]], "table_rows", axis=0)
    for more in kind_ids[1:]:
        rows = g.op("Add", [rows, g.op("Gather", [weights, more], "table_rows", axis=0)], "position_rows")
    rows = g.op("Reshape", [rows, g.const([-1, labels + 1])], "position_rows")
    all_boundaries = g.op("Concat", boundaries, "boundaries", axis=0) if len(boundaries) > 1 else boundaries[0]
    label_sums, squares = _text_sums(g, g.op("Cast", [rows], to=TensorProto.DOUBLE), all_boundaries, len(keys),
                                     labels + 1)
    # a text without n-grams has zero sums: dividing by a tiny norm keeps them zero
    norms = g.op("Sqrt", [g.op("Max", [squares, g.const(1e-300, np.float64)])], "norms")
    contributions = g.op("Div", [label_sums, norms], "family_logits")  # [families, N, L]
    if any(w != 1.0 for w in family_weights):
        contributions = g.op("Mul", [contributions, g.const(np.reshape(family_weights, (-1, 1, 1)), np.float64)])
    logits = g.op("Add", [g.op("ReduceSum", [contributions, g.const([0])], keepdims=0),
                          g.const(model.bias.astype(np.float64).reshape(1, -1), np.float64, name=ONNX_BIAS)],
                  "logits")
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
