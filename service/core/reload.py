"""Reloading across worker processes.

``threadguard serve --workers N`` runs N processes that each hold their own model. A reload request (POST
``/v1/admin/reload`` reaching any one worker, or SIGHUP to the supervisor or a worker) must reach all of them,
so the processes share a small JSON file in the state directory::

    <state_dir>/reload.json   {"generation": 7, "bundle_dir": "/models/threadguard-ngram/2024-06-01", ...}

Publishing increments ``generation`` under an exclusive ``flock`` and replaces the file atomically. Every
worker polls the file's stat signature (``reload_poll_seconds``, default 0.5 s); when the generation is newer
than the one it applied, it loads that exact bundle directory (so all workers converge on the same version
even if the ``current`` pointer moves again meanwhile), validates it and swaps. A worker that starts later
(restarted after a crash) loads the bundle named in the file, not the one configured at startup.

The worker that handled an admin reload validates and swaps first and publishes only on success, so a broken
bundle is reported to the caller and never reaches the other workers. A SIGHUP to the supervisor publishes
the re-resolved configured model without loading it; each worker validates it and keeps its old model if it
is broken.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from service.core.errors import ModelRejected
from service.core.model_holder import LoadedModel, ModelHolder
from threadguard.bundle import BundleError, resolve_bundle_dir, utc_now_iso

logger = logging.getLogger(__name__)

RELOAD_FILE = "reload.json"
LOCK_FILE = "reload.lock"


@dataclass(frozen=True)
class ReloadRequest:
    """One published reload: every worker should serve ``bundle_dir`` once it sees ``generation``."""

    generation: int
    bundle_dir: str
    requested_at: str
    origin: str


class ReloadChannel:
    """The shared reload file in a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / RELOAD_FILE
        self._lock_path = self.state_dir / LOCK_FILE
        self._seen: tuple[int, int, int] | None = None

    def read(self) -> ReloadRequest | None:
        """The last published request, or None when nothing was published (or the file is unreadable)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return ReloadRequest(
                generation=int(raw["generation"]),
                bundle_dir=str(raw["bundle_dir"]),
                requested_at=str(raw.get("requested_at", "")),
                origin=str(raw.get("origin", "")),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            logger.error("reload file is unreadable; ignoring it", extra={"path": str(self.path)})
            return None

    def changed(self) -> bool:
        """Whether the file changed since the last call (cheap: one ``stat``)."""
        try:
            st = os.stat(self.path)
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            signature = (0, 0, 0)
        if signature == self._seen:
            return False
        self._seen = signature
        return True

    def publish(self, bundle_dir: str, *, origin: str) -> ReloadRequest:
        """Publish ``bundle_dir`` as the next generation; atomic with respect to other publishers."""
        with open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                last = self.read()
                request = ReloadRequest(
                    generation=(last.generation if last else 0) + 1,
                    bundle_dir=bundle_dir,
                    requested_at=utc_now_iso(),
                    origin=origin,
                )
                fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".reload.")
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        json.dump(asdict(request), handle)
                    os.replace(tmp, self.path)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return request


def publish_configured_model(channel: ReloadChannel, model_path: Path | None, *, origin: str) -> bool:
    """Resolve the configured model (following ``current``) and publish it. Used by the supervisor."""
    try:
        bundle_dir = resolve_bundle_dir(model_path).resolve()
    except BundleError as exc:
        logger.error("reload not published: model cannot be resolved", extra={"reason": str(exc)})
        return False
    request = channel.publish(str(bundle_dir), origin=origin)
    logger.info("reload published", extra={"generation": request.generation, "bundle": request.bundle_dir})
    return True


class ReloadCoordinator:
    """Local loads plus, when a channel is configured, the cross-worker protocol described above."""

    def __init__(
        self,
        holder: ModelHolder,
        channel: ReloadChannel | None = None,
        *,
        on_result: Callable[[bool], None] | None = None,
    ) -> None:
        self.holder = holder
        self.channel = channel
        self.applied_generation = 0
        self._lock = threading.Lock()
        self._on_result = on_result

    def startup(self) -> LoadedModel:
        """Initial load: the bundle last published by the other workers if any, else the configured one."""
        with self._lock:
            if self.channel is not None:
                self.channel.changed()  # remember the signature first: a later publish is then seen
            request = self.channel.read() if self.channel is not None else None
            if request is not None:
                try:
                    model = self.holder.load(request.bundle_dir)
                    self.applied_generation = request.generation
                    return model
                except ModelRejected as exc:
                    logger.error(
                        "published bundle rejected at startup; loading the configured model",
                        extra={"reason": exc.message, "generation": request.generation},
                    )
                self.applied_generation = request.generation
            return self.holder.load()

    def reload(self, bundle_dir: str | os.PathLike[str] | None = None, *, origin: str) -> LoadedModel:
        """Load locally (raises ModelRejected, old model stays), then publish for the other workers."""
        with self._lock:
            try:
                model = self.holder.load(bundle_dir)
            except ModelRejected as exc:
                self._report(False)
                logger.error(
                    "reload rejected; keeping the current model",
                    extra={"reason": exc.message, "origin": origin},
                )
                raise
            self._report(True)
            if self.channel is not None:
                request = self.channel.publish(str(model.bundle.path), origin=origin)
                self.applied_generation = request.generation
            return model

    def poll(self) -> LoadedModel | None:
        """Apply a newer published generation if the file changed. Never raises."""
        if self.channel is None or not self.channel.changed():
            return None
        return self.apply_published()

    def apply_published(self) -> LoadedModel | None:
        """Apply the published generation if newer than ours; a rejected bundle is logged, not raised."""
        if self.channel is None:
            return None
        with self._lock:
            request = self.channel.read()
            if request is None or request.generation <= self.applied_generation:
                return None
            self.applied_generation = request.generation
            try:
                model = self.holder.load(request.bundle_dir)
            except ModelRejected as exc:
                self._report(False)
                logger.error(
                    "published bundle rejected; keeping the current model",
                    extra={"reason": exc.message, "generation": request.generation},
                )
                return None
            self._report(True)
            return model

    def _report(self, ok: bool) -> None:
        if self._on_result is not None:
            self._on_result(ok)
