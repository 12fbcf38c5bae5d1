"""Text checks shared by every adapter: the model needs valid, bounded UTF-8."""

from __future__ import annotations

from service.core.errors import InvalidInput


def utf8_length(text: str) -> int:
    """UTF-8 byte length of ``text``; raises :class:`InvalidInput` for lone surrogates (not encodable)."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"text contains a lone surrogate at character {exc.start}; send valid Unicode (UTF-8)",
            code="text_invalid_unicode",
        ) from exc


def check_text(text: str, *, max_bytes: int, allow_empty: bool = False, field: str = "text") -> None:
    """Reject empty / whitespace-only text (unless allowed), invalid Unicode and text over ``max_bytes``."""
    size = utf8_length(text)
    if size > max_bytes:
        raise InvalidInput(
            f"{field} is {size} UTF-8 bytes; the limit is {max_bytes}", code="text_too_long", field=field
        )
    if not allow_empty and not text.strip():
        raise InvalidInput(f"{field} is empty", code="text_empty", field=field)
