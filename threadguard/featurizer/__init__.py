"""The text featurizer shared by trainer and service: normalised character stream and hashed n-grams.

This numpy code is the reference the ONNX graph (``training/export.py``) reproduces operator by operator.
"""

from threadguard.featurizer.ngrams import NgramOccurrences, extract_ngrams
from threadguard.featurizer.params import FeaturizerParams
from threadguard.featurizer.stream import CharStream, InvalidTextError, build_stream, normalized_texts

__all__ = [
    "CharStream",
    "FeaturizerParams",
    "InvalidTextError",
    "NgramOccurrences",
    "build_stream",
    "extract_ngrams",
    "normalized_texts",
]
