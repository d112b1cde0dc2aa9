"""kernel_rx_buf_size, vrrp_rx_bufs_policy and vrrp_rx_bufs_multiplier: the receive buffer of the VRRP
socket, keepalived 2.2.7 and vrrpkit side by side. The buffer is read from the running daemon's
socket itself (pidfd_getfd, then getsockopt SO_RCVBUF; the kernel reports twice what was set)."""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import config, instance

from vrrpkit.lab import Lab, wait_until

pytestmark = [
    pytest.mark.root,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, pidfd_getfd)"),
    pytest.mark.skipif(shutil.which("keepalived", path="/usr/sbin:/usr/bin") is None, reason="needs keepalived"),
]

MakeLab = Callable[..., Lab]
SYS_PIDFD_GETFD = 438
CASES = {  # name -> (global_defs lines, instance lines, SO_RCVBUF as the kernel reports it)
    "kernel_rx_buf_size": ("", "kernel_rx_buf_size 100000", 200000),
    "policy MTU": ("vrrp_rx_bufs_policy MTU", "", 2 * 3 * 1500),
    "policy size": ("vrrp_rx_bufs_policy 70000\nvrrp_rx_bufs_multiplier 5", "", 140000),
    "policy ADVERT x 1000": ("vrrp_rx_bufs_policy ADVERT\nvrrp_rx_bufs_multiplier 1000", "", 2 * 1000 * (20 + 8 + 4)),
}


def vrrp_rcvbufs(pid: int) -> list[int]:
    """SO_RCVBUF of every protocol-112 raw socket the process holds."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:  # a child (a script, keepalived's checker) that ended since it was listed
        return []
    found = []
    try:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            return []
        for fd in fds:
            try:
                if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    continue
            except OSError:  # closed meanwhile
                continue
            dup = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
            if dup < 0:
                continue
            with socket.socket(fileno=dup) as sock:
                if sock.type == socket.SOCK_RAW and sock.proto == 112:
                    found.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    finally:
        os.close(pidfd)
    return found


def receive_buffer(lab: Lab) -> int | None:
    """The largest VRRP socket buffer of the host's daemon (keepalived's VRRP child has a send socket too)."""
    pids = [lp.pid for lp in lab.processes("h1", alive_only=True)]
    pids += [int(p) for pid in pids for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                             text=True).stdout.split()]
    sizes = [size for pid in pids for size in vrrp_rcvbufs(pid)]
    return max(sizes) if sizes else None


@pytest.mark.parametrize("case", CASES)
def test_receive_buffers_as_keepalived_sizes_them(make_lab: MakeLab, case: str) -> None:
    globals_, extra, expected = CASES[case]
    lab = make_lab(1)
    text = config(instance(150, version=3, advert_int="0.2", extra=extra), globals_=globals_)
    seen = {}
    for daemon in ("keepalived", "vrrpkit"):
        (lab.run_keepalived if daemon == "keepalived" else lab.run_vrrpkit)("h1", text)
        # the size the daemon settles on: vrrpkit opens its socket with a 1 MiB queue and sizes it
        # a few milliseconds later, once the socket's filter and MTU are known
        wait_until(lambda: receive_buffer(lab) == expected or None, 10)
        seen[daemon] = receive_buffer(lab)
        lab.signal("h1", 15)
        assert wait_until(lambda: not lab.processes("h1", alive_only=True) or None, 10)
        time.sleep(0.2)
    assert seen == {"keepalived": expected, "vrrpkit": expected}, seen
