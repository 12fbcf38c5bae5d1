"""Traffic definitions shared by the locustfile and the runner's tests, importable without locust.

(Importing locust monkey-patches the process with gevent; tests that only need these helpers must not pay
for, or suffer from, that.)
"""

from __future__ import annotations

import json

DEFAULT_MIX = "single=60,batch=10,thread=5,perspective=15,openai=10"
REQUEST_TYPES = ("single", "batch", "thread", "perspective", "openai")


def parse_mix(text: str) -> dict[str, float]:
    """``single=60,batch=10`` -> weights; unknown names or non-positive totals are errors."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in REQUEST_TYPES:
            raise ValueError(f"unknown request type {name!r} in mix; known: {', '.join(REQUEST_TYPES)}")
        weights[name] = float(value) if value.strip() else 1.0
    if not weights or sum(weights.values()) <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError(f"mix {text!r} needs at least one positive weight")
    return weights


def error_code(content: bytes) -> str:
    """The error's code from any of the three error shapes (native, Perspective, OpenAI), for stable grouping."""
    try:
        error = json.loads(content)["error"]
        details = error.get("details") or [{}]
        return str(details[0].get("errorType") or error.get("code") or error.get("type") or "")
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return content[:80].decode("utf-8", "replace")
