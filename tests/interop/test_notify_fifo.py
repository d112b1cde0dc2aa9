"""Notify FIFOs: keepalived 2.2.7 and vrrpkit run through the same sequence on the same host, and what each
wrote to its FIFO must be the same bytes.

Sequence: start (BACKUP), MASTER, the reader goes away, a priority change (track_file with
notify_priority_changes) while nobody reads, a new reader, stop. Then the same with two instances
in a sync group, for the GROUP lines; and the notify scripts of such a group (start to stop). About
30 s of namespace time.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from needs import KEEPALIVED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import config, instance, wait_holders

from vrrpkit.lab import Lab, LabProcess, wait_until

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
TRACKED = "notify_priority_changes\ntrack_file {\n    prio\n}"


def track_file(prio: Path) -> str:
    return f"track_file prio {{\n    file {prio}\n    weight 1\n}}\n"


def start(lab: Lab, daemon: str, text: str) -> LabProcess:
    return lab.run_keepalived("h1", text) if daemon == "keepalived" else lab.run_vrrpkit("h1", text)


def read_some(fifo: Path, want: int, timeout: float = 10.0) -> list[str]:
    """A reader that takes `want` lines and goes away."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while data.count(b"\n") < want and time.monotonic() < deadline:
            try:
                data += os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.02)
    finally:
        os.close(fd)
    return data.decode().splitlines()


def single(lab: Lab, daemon: str) -> list[str]:
    fifo, prio = lab.workdir / f"{daemon}-1.fifo", lab.workdir / f"{daemon}-1.prio"
    prio.write_text("0\n")
    os.mkfifo(fifo)
    text = track_file(prio) + config(instance(150, version=3, advert_int="0.1", extra=TRACKED),
                                     globals_=f"vrrp_notify_fifo {fifo}")
    proc = start(lab, daemon, text)
    lines = read_some(fifo, 2)  # BACKUP, MASTER: then this reader goes away
    prio.write_text("-20\n")  # 150 -> 130 while MASTER, written while nobody reads
    assert proc.wait_for_log("130", 5), proc.log()[-2000:]
    rest: list[bytes] = []
    reader = threading.Thread(target=lambda: rest.append(fifo.read_bytes()))  # a new reader, until the close
    reader.start()
    time.sleep(0.2)
    proc.stop(timeout=10)
    reader.join(10)
    assert not reader.is_alive(), f"{daemon} never closed its FIFO"
    return lines + rest[0].decode().splitlines()


def grouped(lab: Lab, daemon: str) -> list[str]:
    fifo = lab.workdir / f"{daemon}-2.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    text = "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_2\n    }\n}\n" + config(
        instance(150, version=3, advert_int="0.1"),
        instance(200, name="VI_2", vrid=52, version=3, advert_int="0.1", vips=("192.0.2.101/24",)),
        globals_=f"vrrp_notify_fifo {fifo}")
    proc = start(lab, daemon, text)
    wait_holders(lab, {"h1"}, 10)
    assert wait_until(lambda: lab.vip_holders("192.0.2.101") == {"h1"}, 5)
    proc.stop(timeout=10)
    reader.join(10)
    return got[0].decode().splitlines()


def test_fifo_lines_are_keepalived_lines(make_lab: MakeLab) -> None:
    lab = make_lab(1)
    keepalived, vrrpkit = single(lab, "keepalived"), single(lab, "vrrpkit")
    print("\nkeepalived:\n" + "\n".join(keepalived) + "\nvrrpkit:\n" + "\n".join(vrrpkit))
    assert keepalived == ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150',
                          'INSTANCE "VI_1" MASTER_PRIORITY 130', 'INSTANCE "VI_1" STOP 130']
    assert vrrpkit == keepalived


def test_group_lines_are_keepalived_lines(make_lab: MakeLab) -> None:
    """The GROUP lines and each instance's lines match keepalived's exactly, in order: the group goes
    MASTER only once every member's timer has fired ("only sync to master if everyone wants to"),
    and the member whose timer fired last is announced first."""
    lab = make_lab(1)
    keepalived, vrrpkit = grouped(lab, "keepalived"), grouped(lab, "vrrpkit")
    print("\nkeepalived:\n" + "\n".join(keepalived) + "\nvrrpkit:\n" + "\n".join(vrrpkit))
    assert keepalived[0] == 'GROUP "G1" BACKUP 0' and keepalived[-1] == 'GROUP "G1" STOP 0'
    assert vrrpkit == keepalived


def group_scripts(lab: Lab, daemon: str) -> list[str]:
    out = lab.workdir / f"{daemon}-scripts.txt"
    out.touch()
    note = f"\"/bin/sh -c 'echo $0 $* >> {out}'\""
    group = (f"vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    notify {note}\n"
             f"    notify_stop \"/bin/sh -c 'echo group-stop >> {out}'\"\n}}\n")  # fmt: skip
    text = group + config(
        instance(150, version=3, advert_int="0.1", extra=f"notify {note}"),
        instance(200, name="VI_2", vrid=52, version=3, advert_int="0.1", vips=("192.0.2.101/24",)),
        globals_="enable_script_security\nscript_user root")
    proc = start(lab, daemon, text)
    assert wait_until(lambda: "GROUP G1 MASTER 0" in out.read_text(), 10), (out.read_text(), proc.log()[-2000:])
    proc.stop(timeout=10)
    assert wait_until(lambda: "group-stop" in out.read_text() and "STOP" in out.read_text(), 5), out.read_text()
    time.sleep(0.3)
    return sorted(out.read_text().splitlines())


def test_group_notify_scripts_run_as_keepalived_runs_them(make_lab: MakeLab) -> None:
    """keepalived 2.2.7 (measured): a group's notify and notify_stop run when the daemon stops
    (`GROUP G1 STOP 0`); vrrpkit wrote the FIFO line but ran no script. Scripts run side by side,
    so their lines are compared as a multiset."""
    lab = make_lab(1)
    keepalived, vrrpkit = group_scripts(lab, "keepalived"), group_scripts(lab, "vrrpkit")
    print("\nkeepalived:\n" + "\n".join(keepalived) + "\nvrrpkit:\n" + "\n".join(vrrpkit))
    assert {"GROUP G1 STOP 0", "group-stop", "INSTANCE VI_1 STOP 150"} <= set(keepalived), keepalived
    assert vrrpkit == keepalived
