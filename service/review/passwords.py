"""Password hashing with scrypt (memory-hard, stdlib only).

Hashes are self-describing (``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>``), so the cost can be raised later
without invalidating stored passwords: :func:`needs_rehash` tells when a login should re-hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt parameters. The default follows OWASP's minimum (N=2^17, r=8, p=1: 128 MiB, ~0.2-0.5 s)."""

    log2_n: int = 17
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 256 * self.r * (1 << self.log2_n) + (1 << 24)


DEFAULT_COST = ScryptCost()


class PasswordPolicyError(ValueError):
    """The password is too short or too long."""


def check_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << cost.log2_n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=32
    )


def hash_password(password: str, cost: ScryptCost = DEFAULT_COST) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${cost.log2_n}${cost.r}${cost.p}${_b64(salt)}${_b64(_derive(password, salt, cost))}"


def _parse(encoded: str) -> tuple[ScryptCost, bytes, bytes]:
    scheme, log2_n, r, p, salt, digest = encoded.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    cost = ScryptCost(int(log2_n), int(r), int(p))
    if not (10 <= cost.log2_n <= 22 and 1 <= cost.r <= 32 and 1 <= cost.p <= 16):
        raise ValueError("scrypt parameters out of range")
    return cost, _unb64(salt), _unb64(digest)


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches ``encoded``; False (never an exception) for a malformed hash."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        cost, salt, expected = _parse(encoded)
    except ValueError:
        return False
    return hmac.compare_digest(_derive(password, salt, cost), expected)


def needs_rehash(encoded: str, cost: ScryptCost = DEFAULT_COST) -> bool:
    try:
        return _parse(encoded)[0] != cost
    except ValueError:
        return True


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    """Spend one verification's worth of time, so a login for an unknown user takes as long as for a known one."""
    verify_password(password, _dummy_hash())
