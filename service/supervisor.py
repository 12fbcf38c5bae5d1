"""The process supervisor of ``threadguard serve --workers N``: uvicorn's, with a listening socket per worker.

uvicorn's supervisor binds one socket and every worker accepts from it. When connections arrive in a burst
(a client opening its pool of keep-alive connections), the worker that wakes first accepts them all, and the
other worker idles for as long as those connections live: measured with 16 wrk connections on this project's
two-core machine, one of every few rounds left a worker with no connection at all, at ~60 % of the throughput
of a balanced round (docs/performance.md). Here each worker slot gets its own listening socket with
``SO_REUSEPORT`` on the same address, and the kernel spreads new connections across them by a hash of the
connection, as nginx's ``reuseport`` does.

The supervisor opens the sockets and listens on them before starting the workers and keeps them open, so a
connection that arrives while a slot's worker is starting or being replaced waits in that socket's backlog
instead of being refused. SIGHUP publishes a model reload to the workers (:mod:`service.core.reload`)
instead of restarting them; SIGTTIN / SIGTTOU add or retire a worker and its socket, as in uvicorn.

``SO_REUSEPORT`` balances connections only on Linux; elsewhere, or with ``THREADGUARD_REUSE_PORT=false``,
the workers share one socket as in plain uvicorn.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("threadguard.serve")


def reuse_port_supported() -> bool:
    """Whether ``SO_REUSEPORT`` spreads connections across listeners here (Linux); elsewhere it does not."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind_listener(host: str, port: int, *, backlog: int, reuse_port: bool) -> socket.socket:
    """A listening TCP socket on ``(host, port)``, inheritable by the workers; port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class WorkerSupervisor(Multiprocess):
    """uvicorn's :class:`Multiprocess` with one ``SO_REUSEPORT`` listener per worker slot and SIGHUP as reload.

    ``listeners[i]`` is served by the worker in slot ``i``; a replaced worker's successor takes over its
    socket (and the connections waiting in its backlog). With ``reuse_port=False`` there is one listener and
    every slot shares it. ``on_hup`` is called on SIGHUP; ``on_workers_gone`` with the pids of workers that
    died or were retired (to drop their live metrics).
    """

    def __init__(
        self,
        config: Config,
        *,
        reuse_port: bool,
        on_hup: Callable[[], object],
        on_workers_gone: Callable[[set[int | None]], None],
    ) -> None:
        self.reuse_port = reuse_port
        first = bind_listener(config.host, config.port, backlog=config.backlog, reuse_port=reuse_port)
        self.listeners = [first]
        super().__init__(config, sockets=[first])
        self._on_hup = on_hup
        self._on_workers_gone = on_workers_gone
        try:
            for _ in range(1, self.processes_num if reuse_port else 1):
                self.listeners.append(self._bind_another())
        except BaseException:
            self.close()
            raise
        host, port = first.getsockname()[:2]
        logger.info(
            "listening",
            extra={"host": host, "port": port, "workers": self.processes_num, "reuse_port": reuse_port},
        )

    @property
    def port(self) -> int:
        port: int = self.listeners[0].getsockname()[1]
        return port

    def _bind_another(self) -> socket.socket:
        host = self.listeners[0].getsockname()[0]
        return bind_listener(host, self.port, backlog=self.config.backlog, reuse_port=True)

    def _listener(self, slot: int) -> socket.socket:
        return self.listeners[slot] if self.reuse_port else self.listeners[0]

    def _start_worker(self, slot: int) -> Process:
        process = Process(self.config, [self._listener(slot)])
        process.start()
        return process

    def close(self) -> None:
        """Close the listeners (after the workers are gone: connections still queued are then refused)."""
        for sock in self.listeners:
            sock.close()

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            self.processes.append(self._start_worker(slot))

    def restart_all(self) -> None:  # pragma: no cover - SIGHUP reloads instead (handle_hup)
        raise NotImplementedError("workers are not restarted on SIGHUP; the model is reloaded in place")

    def handle_hup(self) -> None:
        logger.info("SIGHUP received; publishing a reload to the workers")
        self._on_hup()

    def keep_subprocess_alive(self) -> None:
        """uvicorn's health check, but a dead worker's successor takes over the dead worker's listener."""
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: make sure it is gone
            process.join()
            self._on_workers_gone({process.pid})
            if process.exitcode == STARTUP_FAILURE:  # the app or the bind is broken: a restart fails the same way
                logger.error("worker failed to start; stopping", extra={"pid": process.pid})
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.warning("worker died; starting a replacement", extra={"pid": process.pid, "slot": slot})
            self.processes[slot] = self._start_worker(slot)

    def handle_ttin(self) -> None:
        logger.info("SIGTTIN received; adding a worker")
        if self.reuse_port:
            self.listeners.append(self._bind_another())
        self.processes_num += 1
        self.processes.append(self._start_worker(len(self.processes)))

    def handle_ttou(self) -> None:
        if self.processes_num <= 1:
            logger.info("SIGTTOU received; one worker left, not retiring it")
            return
        logger.info("SIGTTOU received; retiring a worker")
        self.processes_num -= 1
        process = self.processes.pop()
        process.terminate()
        process.join()
        self._on_workers_gone({process.pid})
        if self.reuse_port:  # nobody accepts from it any more; connections still queued there are refused
            self.listeners.pop().close()
