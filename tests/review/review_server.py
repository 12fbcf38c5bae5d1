"""Run an app factory under a real uvicorn in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from review_pg import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class AppSpec:
    """Which ASGI app factory to serve (``module:function``) and a path that answers 200 once it is up."""

    factory: str = "review_standin:create_app"
    ready_path: str = "/healthz"


class UvicornServer:
    def __init__(self, spec: AppSpec, env: dict[str, str], workdir: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"uvicorn-{self.port}.log"
        self._env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(TESTS_DIR)]),
            **env,
        }
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self._process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", self.spec.factory, "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log", "--timeout-graceful-shutdown", "10"],
            cwd=self._workdir, env=self._env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"uvicorn exited early:\n{self.logs()}")
            try:
                if httpx.get(self.base_url + self.spec.ready_path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"uvicorn did not come up:\n{self.logs()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """Graceful stop (SIGTERM, so the app's shutdown runs); returns the exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        code = self._process.returncode
        self._process = None
        return code

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
