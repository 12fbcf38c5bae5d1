"""Configuration of the review queue and the reviewer console (env prefix ``THREADGUARD_``).

Every field can be set from the environment, e.g. ``THREADGUARD_DATABASE_URL=postgresql+psycopg://...`` or
``THREADGUARD_REVIEW_STORE_DECISIONS=review,block``. The defaults need no setup: an SQLite file in the working
directory and a spill file next to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./threadguard.db"
KNOWN_DECISIONS = frozenset({"allow", "review", "block"})


class ReviewSettings(BaseSettings):
    """Where the queue lives, what goes into it and how the background writer behaves."""

    model_config = SettingsConfigDict(env_prefix="THREADGUARD_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user:pass@host/db",
    )
    review_enabled: bool = Field(default=True, description="False: nothing is stored, no console is mounted")
    review_store_decisions: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset({"review", "block"}),
        description="policy decisions whose items are queued (comma-separated in the environment)",
    )
    review_buffer_size: int = Field(default=10_000, ge=1, description="items held in memory before spilling")
    review_batch_size: int = Field(default=200, ge=1, le=10_000, description="items written per transaction")
    review_flush_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    review_retry_max_seconds: float = Field(
        default=5.0, gt=0, le=300, description="longest pause between attempts while the database is away"
    )
    review_shutdown_timeout_seconds: float = Field(
        default=5.0, ge=0, le=300, description="time to drain the buffer at shutdown before spilling the rest"
    )
    review_spill_path: Path = Field(
        default=Path("./threadguard-review-spill.jsonl"),
        description="JSONL file that takes items the buffer cannot hold; replayed when the database is back",
    )
    console_session_ttl_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    console_cookie_secure: bool = Field(
        default=False, description="mark session cookies Secure (set this when the console is served over TLS)"
    )
    console_page_size: int = Field(default=50, ge=5, le=500)

    @field_validator("review_store_decisions", mode="before")
    @classmethod
    def _split_decisions(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("review_store_decisions")
    @classmethod
    def _known_decisions(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = value - KNOWN_DECISIONS
        if unknown:
            raise ValueError(f"unknown decisions {sorted(unknown)}; expected some of {sorted(KNOWN_DECISIONS)}")
        return value
