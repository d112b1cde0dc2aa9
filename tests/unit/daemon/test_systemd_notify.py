"""What systemd hears from the daemon: READY=1, WATCHDOG=1 from the loop, RELOADING=1/READY=1
around a reload. A real datagram socket stands in for $NOTIFY_SOCKET (as systemd's own)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path

import pytest
from daemon_fakes import FakeOs, FakeRunner
from test_daemon_loop import conf, until

from vrrpkit.config import load_string
from vrrpkit.config.model import ParseResult
from vrrpkit.daemon import systemd
from vrrpkit.daemon.app import Daemon


def test_watchdog_interval_is_half_watchdog_sec_for_our_pid_only() -> None:
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "10000000"}) == 5.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}) == 5.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert systemd.watchdog_interval({}) is None and systemd.watchdog_interval({"WATCHDOG_USEC": "0"}) is None


def test_ready_watchdog_and_reload_notifications(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # WatchdogSec=0.1s: a ping every 0.05s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    messages: list[list[str]] = []
    loop_threads: set[str] = set()
    real_notify = systemd.notify

    def recording_notify(*lines: str) -> bool:
        if "WATCHDOG=1" in lines:  # a ping is sent by the loop's own thread, from a running loop
            asyncio.get_running_loop()
            loop_threads.add(threading.current_thread().name)
        return real_notify(*lines)

    monkeypatch.setattr(systemd, "notify", recording_notify)

    def drain() -> None:
        while True:
            try:
                messages.append(listener.recv(4096).decode().split("\n"))
            except BlockingIOError:
                return

    text = conf()
    reloaded: list[int] = []

    def load(files: list[str], config_id: str | None) -> ParseResult:
        reloaded.append(1)
        return load_string(text, filename="keepalived.conf")

    async def main() -> None:
        daemon = Daemon(load_string(text, filename="keepalived.conf"), files=["keepalived.conf"], config_id=None,
                        control_path=str(tmp_path / "ctl.sock"), ports=FakeOs().ports(), runner=FakeRunner(),
                        load=load)  # fmt: skip
        await daemon.start()
        try:
            await until(lambda: (drain(), sum(m == ["WATCHDOG=1"] for m in messages) >= 3)[1])
            await daemon._notified_reload()
            drain()
        finally:
            await daemon.shutdown()
        drain()

    try:
        asyncio.run(main())
    finally:
        listener.close()
    firsts = [m[0] for m in messages]
    assert firsts[0] == "READY=1" and messages[0][1].startswith("STATUS=")
    assert loop_threads == {threading.main_thread().name}
    at = firsts.index("RELOADING=1")
    assert messages[at][1].startswith("MONOTONIC_USEC=") and int(messages[at][1].split("=")[1]) > 0
    assert "READY=1" in firsts[at + 1 :] and reloaded == [1]
    assert firsts[-1] == "STOPPING=1" or "STOPPING=1" in firsts
