"""Errors the moderation core raises. Adapters translate them into their API's error shape."""

from __future__ import annotations


class CoreError(Exception):
    """Base class: ``code`` is a stable machine-readable reason, the message is for humans."""

    code = "core_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(CoreError):
    """The caller sent something the core cannot score (empty or oversized text, invalid Unicode, ...)."""

    code = "invalid_input"


class ModelNotReady(CoreError):
    """No model is loaded yet (or loading failed at startup)."""

    code = "model_not_ready"


class ModelRejected(CoreError):
    """A bundle failed to load or failed its probe; the previous model keeps serving."""

    code = "model_rejected"


class PolicyError(CoreError):
    """A policy file is unreadable or inconsistent with the model's labels."""

    code = "policy_invalid"
