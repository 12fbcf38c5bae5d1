"""``threadguard serve --workers N`` on Linux: a listening socket per worker, connections spread across them.

The sockets are read from ``/proc`` (``/proc/net/tcp*`` for listeners and connections, ``/proc/<pid>/fd`` for
who holds them), so these tests look at what the kernel sees rather than at the supervisor's own bookkeeping.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loadtests.run import worker_processes
from tests.service.server import ServerProcess

pytestmark = [
    pytest.mark.slow,  # starts multi-process servers
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing and /proc are Linux"),
]

LISTEN = "0A"
ESTABLISHED = "01"


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def tcp_sockets(port: int, state: str) -> dict[int, int]:
    """inode -> remote port of the TCP sockets in ``state`` whose local port is ``port``."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, remote, st, inode = fields[1], fields[2], fields[3], int(fields[9])
            if st == state and int(local.rsplit(":", 1)[1], 16) == port and inode:
                found[inode] = int(remote.rsplit(":", 1)[1], 16)
    return found


def listeners_by_worker(server: ServerProcess) -> dict[int, set[int]]:
    assert server.process is not None
    listening = set(tcp_sockets(server.port, LISTEN))
    return {pid: socket_inodes(pid) & listening for pid in sorted(worker_processes(server.process.pid))}


def wait_for_workers(server: ServerProcess, count: int, timeout: float = 60.0) -> dict[int, set[int]]:
    """Worker pid -> its listening sockets, once ``count`` workers each hold one."""
    deadline = time.monotonic() + timeout
    while True:
        held = listeners_by_worker(server)
        if len(held) == count and all(held.values()):
            return held
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} listening workers, saw {held}")
        time.sleep(0.1)


def open_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` connections opened at once (a client's pool), then one keep-alive request on each."""
    conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
    for conn in conns:
        conn.sendall(b"GET /livez HTTP/1.1\r\nHost: test\r\n\r\n")
    for conn in conns:
        assert conn.recv(4096).startswith(b"HTTP/1.1 200"), "every connection is served"
    return conns


@pytest.fixture
def four_workers(models: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "server.log", args=["--model", str(models), "--workers", "4"]).start()
    yield server
    server.stop()


def test_each_worker_listens_on_its_own_socket_and_gets_a_share_of_a_burst(four_workers: ServerProcess) -> None:
    held = wait_for_workers(four_workers, 4)
    assert all(len(inodes) == 1 for inodes in held.values()), held
    assert len(set.union(*held.values())) == 4, "four distinct listening sockets, one per worker"
    listener_of = {next(iter(inodes)): pid for pid, inodes in held.items()}

    conns = open_connections(four_workers.port, 64)
    try:
        established = tcp_sockets(four_workers.port, ESTABLISHED)  # server side: inode -> client port
        client_ports = {conn.getsockname()[1] for conn in conns}
        ours = {inode for inode, client_port in established.items() if client_port in client_ports}
        served_by = {pid: len(socket_inodes(pid) & ours) for pid in held}
    finally:
        for conn in conns:
            conn.close()
    assert sum(served_by.values()) == 64, served_by
    # a hash spreads 64 connections over 4 sockets; one left empty has a probability of about 4 * 0.75**64 = 4e-8
    assert all(n > 0 for n in served_by.values()), served_by
    assert set(listener_of.values()) == set(held)


def test_a_replacement_worker_takes_over_the_dead_workers_socket_and_its_queued_connections(
    four_workers: ServerProcess,
) -> None:
    held = wait_for_workers(four_workers, 4)
    victim = max(held)  # the last started: not slot 0, whose socket a careless restart would reuse
    victim_sockets = held[victim]
    os.kill(victim, signal.SIGKILL)
    # while the slot has no worker, connections hashed to its socket wait in the backlog: none is refused
    conns = open_connections(four_workers.port, 32)
    for conn in conns:
        conn.close()

    after = wait_for_workers(four_workers, 4)
    assert victim not in after
    successor = [pid for pid in after if pid not in held]
    assert len(successor) == 1 and after[successor[0]] == victim_sockets, (held, after)
    assert httpx.get(f"{four_workers.base_url}/readyz", timeout=10).status_code == 200
    assert "worker died; starting a replacement" in four_workers.logs()


def test_shared_socket_when_reuse_port_is_off(models: Path, tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "server.log",
        args=["--model", str(models), "--workers", "2"],
        env={"THREADGUARD_REUSE_PORT": "false"},
    ).start()
    try:
        held = wait_for_workers(server, 2)
        assert len(set.union(*held.values())) == 1, "one listening socket, held by both workers"
        open_connections(server.port, 4)
    finally:
        server.stop()


def test_a_port_in_use_is_a_clear_error(models: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = ServerProcess(tmp_path / "server.log", args=["--model", str(models), "--workers", "2"])
        server.port = taken.getsockname()[1]
        server.base_url = f"http://127.0.0.1:{server.port}"
        with pytest.raises(RuntimeError, match="exited with 1"):
            server.start(timeout=30)
        assert '"message":"cannot listen"' in server.logs()
