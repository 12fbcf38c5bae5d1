"""Service configuration: one pydantic-settings class, read from ``THREADGUARD_*`` environment variables.

Every limit the API enforces lives here with its documented default (see ``docs/api.md``), so an operator can
change it without touching code, and every worker process of ``threadguard serve --workers N`` reads the same
values from its environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "THREADGUARD_"


def _split_csv(value: object) -> object:
    """Accept ``a,b,c`` (what people write in an env file) as well as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All service settings. Env: ``THREADGUARD_<FIELD>`` (lists comma-separated)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # --- serving -------------------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    reuse_port: bool = Field(
        default=True,
        description="With several workers, one SO_REUSEPORT listening socket per worker, so the kernel spreads "
        "connections evenly (Linux); false: one socket shared by all workers, as in plain uvicorn.",
    )
    model: Path | None = Field(
        default=None,
        description="Bundle directory or model directory with a 'current' pointer; None = default bundle.",
    )
    policy: Path | None = Field(default=None, description="TOML policy file overriding manifest thresholds.")
    state_dir: Path | None = Field(
        default=None,
        description="Directory shared by the worker processes (reload generation file, metrics). "
        "`serve --workers N` creates a temporary one when unset.",
    )
    reload_poll_seconds: float = Field(default=0.5, gt=0.0, le=60.0)
    reload_on_sighup: bool = True
    allow_start_without_model: bool = Field(
        default=False, description="Start (not ready) when the model fails to load instead of exiting."
    )

    # --- limits --------------------------------------------------------------------------------------------
    max_items: int = Field(default=256, ge=1, description="Items per /v1/moderate or /v1/moderations call.")
    max_text_bytes: int = Field(default=20_480, ge=1, description="UTF-8 bytes per text.")
    max_thread_comments: int = Field(default=10_000, ge=1, description="Comments per thread.")
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="Request body size.")
    max_labels_per_request: int = Field(default=64, ge=1)
    explain_top_k: int = Field(default=5, ge=1, le=50, description="Spans per label with explain=true.")

    # --- inference -----------------------------------------------------------------------------------------
    onnx_intra_op_threads: int = Field(default=1, ge=1, le=64)
    max_batch_chars: int = Field(
        default=1 << 19,
        ge=1024,
        description="Budget of padded characters per ONNX run (batch rows x longest row); bounds memory.",
    )

    # --- auth ----------------------------------------------------------------------------------------------
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    api_key_hashes: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="sha256 hex digests of API keys (preferred over plain keys)."
    )
    admin_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    admin_key_hashes: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- observability -------------------------------------------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("api_keys", "admin_keys", "api_key_hashes", "admin_key_hashes", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("api_key_hashes", "admin_key_hashes")
    @classmethod
    def _hex_digests(cls, value: list[str]) -> list[str]:
        cleaned = []
        for digest in value:
            digest = digest.strip().lower().removeprefix("sha256:")
            if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
                raise ValueError("key hashes must be sha256 hex digests (64 hex characters)")
            cleaned.append(digest)
        return cleaned

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return value

    def env_overrides(self) -> dict[str, str]:
        """The settings that differ from the environment, as env vars, for worker processes to inherit."""
        values: dict[str, str] = {}
        for name in ("host", "port", "workers", "model", "policy", "state_dir", "log_level"):
            value = getattr(self, name)
            if value is not None:
                values[ENV_PREFIX + name.upper()] = str(value)
        return values
