"""``threadguard serve``: run the moderation API under uvicorn.

Imports of uvicorn, FastAPI and onnxruntime happen inside the handler, so registering the verb (which every
``threadguard`` invocation does) stays cheap.

With ``--workers N`` (N > 1) a supervisor process (:mod:`service.supervisor`) starts N uvicorn workers, each
listening on its own ``SO_REUSEPORT`` socket so the kernel spreads connections across them. It creates a
state directory shared by the workers (reload generation file, Prometheus multiprocess files) and turns
SIGHUP into a published reload that every worker applies with an atomic swap, instead of uvicorn's default
of restarting the workers.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.settings import Settings

logger = logging.getLogger("threadguard.serve")


def register(subparsers: Any) -> None:
    """Add the ``serve`` verb to the ``threadguard`` command line."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the moderation API",
        description="Serve the moderation API (native, Perspective- and OpenAI-compatible). "
        "Other settings come from THREADGUARD_* environment variables (see docs/api.md).",
    )
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8000)")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="bundle directory or model directory with a 'current' pointer (default: the shipped model)",
    )
    parser.add_argument("--policy", type=Path, default=None, help="TOML policy file overriding thresholds")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    """Handler for ``threadguard serve``."""
    from pydantic import ValidationError

    from service.observability.logging import configure_logging
    from service.settings import Settings
    from threadguard.bundle import BundleError, resolve_bundle_dir

    overrides = {
        name: getattr(args, name)
        for name in ("host", "port", "model", "policy", "workers")
        if getattr(args, name, None) is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"threadguard serve: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json_lines=settings.log_json)
    try:
        resolve_bundle_dir(settings.model)  # fail fast, before binding or forking, on a typo'd path
    except BundleError as exc:
        logger.error("no model to serve", extra={"reason": str(exc)})
        return 2
    if settings.workers == 1:
        return _serve_single(settings)
    return _serve_multi(settings)


def _uvicorn_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,  # our JSON logging is already configured
        "access_log": False,  # uvicorn's access log would print query strings (?key=); we log requests
        "server_header": False,
        "timeout_graceful_shutdown": 20,
    }


def _serve_single(settings: Settings) -> int:
    import uvicorn

    from service.app import build_app

    server = uvicorn.Server(uvicorn.Config(build_app(settings), **_uvicorn_kwargs(settings)))
    server.run()
    return 0 if server.started else 1


def _serve_multi(settings: Settings) -> int:
    import uvicorn

    from service.core.reload import ReloadChannel, publish_configured_model
    from service.supervisor import WorkerSupervisor, reuse_port_supported

    owned_state_dir = settings.state_dir is None
    state_dir = settings.state_dir or Path(tempfile.mkdtemp(prefix="threadguard-"))
    metrics_dir = state_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)  # stale files from a previous run would be summed in
    metrics_dir.mkdir(parents=True)
    settings = settings.model_copy(update={"state_dir": state_dir})
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ.update(settings.env_overrides())  # the spawned workers build their Settings from the env
    channel = ReloadChannel(state_dir)

    config = uvicorn.Config(
        "service.app:app_from_env", factory=True, workers=settings.workers, **_uvicorn_kwargs(settings)
    )
    try:
        try:
            supervisor = WorkerSupervisor(
                config,
                reuse_port=settings.reuse_port and reuse_port_supported(),
                on_hup=lambda: publish_configured_model(channel, settings.model, origin="sighup"),
                on_workers_gone=_forget_dead_workers,
            )
        except OSError as exc:
            logger.error("cannot listen", extra={"host": settings.host, "port": settings.port, "reason": str(exc)})
            return 1
        try:
            supervisor.run()
            _forget_dead_workers({p.pid for p in supervisor.processes})
        finally:
            supervisor.close()
    finally:
        if owned_state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def _forget_dead_workers(pids: set[int | None]) -> None:
    """Drop replaced workers' live gauges from the Prometheus multiprocess files."""
    from prometheus_client import multiprocess

    for pid in pids:
        if pid is not None:
            multiprocess.mark_process_dead(pid)
