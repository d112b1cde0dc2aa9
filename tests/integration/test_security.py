"""Trust boundaries in namespaces (issue 12): each finding reproduced against the daemon as a process.

The script and file scenarios run under vrrpkit and keepalived 2.2.7 alike (the same file, the same
host), so every assertion that names keepalived's behaviour is checked against keepalived itself.
Scripts live in a directory every user can read (the test's tmp_path is root-only), so that a script
run as `nobody` can be reached at all.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confgen import VIP, config, instance, wait_holders

from vrrpkit.lab import Lab
from vrrpkit.lab.lab import wait_until
from vrrpkit.lab.process import LabProcess

pytestmark = pytest.mark.root

MakeLab = Callable[..., Lab]
NOBODY = 65534


@pytest.fixture
def public() -> Iterator[Path]:
    """A root-owned 0755 directory (path components safe for enable_script_security), removed after."""
    path = Path(tempfile.mkdtemp(prefix="vk-sec-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["vrrpkit", "keepalived"])
def daemon(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def start(lab: Lab, daemon: str, host: str, text: str) -> LabProcess:
    return lab.run_keepalived(host, text) if daemon == "keepalived" else lab.run_vrrpkit(host, text)


def script(path: Path, body: str, mode: int = 0o755) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def test_script_security_as_keepalived(make_lab: MakeLab, public: Path, daemon: str) -> None:
    """enable_script_security: the 644-then-755 race runs nothing as root; `;`-joined and `>`-prefixed
    commands are disabled with keepalived's message; a notify with a user runs as that user."""
    out = public / "out"
    out.mkdir()
    out.chmod(0o777)
    owned = public / "owned-by-nobody"
    owned.mkdir()
    os.chown(owned, NOBODY, NOBODY)
    owned.chmod(0o755)
    late = script(owned / "late.sh", f"id -u >> {out}/late\n", 0o644)  # made executable after the load
    other = script(public / "other.sh", f"id -u >> {out}/other\n")
    victim = public / "victim"
    victim.write_text("keep me\n")
    who = script(public / "who.sh", f'echo "$(id -u):$(id -g)" >> {out}/$1\n')  # a file per event: umask 0177
    scripts = "".join(
        f'vrrp_script {name} {{\n    script "{command}"\n    interval 1\n}}\n'
        for name, command in (("late", late), ("semi", f"/usr/bin/true;{other}"), ("redir", f">{victim}"))
    )
    extra = (f'track_script {{\n    late\n    semi\n    redir\n}}\n'
             f'notify_master "{who} master" nobody nogroup\nnotify_backup "{who} backup"')  # fmt: skip
    lab = make_lab(1)
    text = config(instance(100, version=3, advert_int="0.1", extra=extra), globals_="enable_script_security\n"
                  "script_user root", scripts=scripts)  # fmt: skip
    proc = start(lab, daemon, "h1", text)
    wait_holders(lab, {"h1"}, 10)  # the disabled trackers are ignored, as keepalived ignores them
    late.chmod(0o755)
    time.sleep(2.5)  # two intervals of every script
    log = proc.log()
    proc.stop()
    assert not (out / "late").exists(), "a script that failed the check at load ran after chmod"
    assert not (out / "other").exists(), "the part after ';' ran"
    assert victim.read_text() == "keep me\n", "'>' truncated a file as root"
    assert f"Script /usr/bin/true;{other} cannot be accessed - No such file or directory" in log
    assert f"Script >{victim} cannot be accessed - No such file or directory" in log
    assert "Disabling track script semi since not found/accessible" in log
    assert f"WARNING - script '{late}' is not executable for uid:gid 0:0 - disabling." in log
    assert (out / "master").read_text().splitlines()[0] == f"{NOBODY}:{NOBODY}"
    assert (out / "backup").read_text().splitlines()[0] == "0:0"


def test_scripts_without_a_user_are_removed_under_script_security(make_lab: MakeLab, public: Path,
                                                                  daemon: str) -> None:  # fmt: skip
    """No script_user and no keepalived_script user: keepalived removes the scripts that would fall
    back to root, and keeps those with their own user."""
    if subprocess.run(["id", "keepalived_script"], capture_output=True).returncode == 0:
        pytest.skip("this host has a keepalived_script user")
    out = public / "out"
    out.mkdir()
    out.chmod(0o777)
    who = script(public / "who.sh", f"id -u >> {out}/$1\n")
    scripts = (f'vrrp_script mine {{\n    script "{who} tracked"\n    interval 1\n    user nobody\n}}\n'
               f'vrrp_script orphan {{\n    script "{who} orphan"\n    interval 1\n}}\n')  # fmt: skip
    extra = f'track_script {{\n    mine\n    orphan\n}}\nnotify_master "{who} master"'
    lab = make_lab(1)
    proc = start(lab, daemon, "h1", config(instance(100, version=3, advert_int="0.1", extra=extra),
                                           globals_="enable_script_security", scripts=scripts))  # fmt: skip
    wait_holders(lab, {"h1"}, 10)
    time.sleep(1.2)
    log = proc.log()
    proc.stop()
    assert sorted(p.name for p in out.iterdir()) == ["tracked"]
    assert set((out / "tracked").read_text().split()) == {str(NOBODY)}
    assert "Unable to set default user for vrrp script orphan - removing" in log
    assert f"Failed to set default user for notify script {who} - ignoring" in log


def _adverts_from(frames: list, address: str) -> list[float]:  # type: ignore[type-arg]
    src = bytes(int(x) for x in address.split("."))
    return [f.time for f in frames if len(f.data) >= 34 and f.data[23] == 112 and f.data[26:30] == src]


def test_track_file_fifo_and_init_file_symlink(make_lab: MakeLab, daemon: str) -> None:
    """A FIFO swapped in as a track file does not stop the adverts (the backup never takes over) and
    SIGTERM still stops the daemon; a dangling symlink as init_file makes root create nothing."""
    lab = make_lab(2)
    weight = lab.workdir / "weight"
    weight.write_text("0\n")
    dangling = lab.workdir / "dangling"
    target = lab.workdir / "created-by-root"
    dangling.symlink_to(target)
    files = (f'track_file app {{\n    file "{weight}"\n    weight 1\n}}\n'
             f'track_file init {{\n    file "{dangling}"\n    weight 1\n    init_file 7\n}}\n')  # fmt: skip
    h1 = start(
        lab,
        daemon,
        "h1",
        config(instance(150, version=3, advert_int="0.2", extra="track_file {\n    app\n    init\n}"), scripts=files),
    )
    lab.run_vrrpkit("h2", config(instance(100, version=3, advert_int="0.2")))
    wait_holders(lab, {"h1"}, 10)
    assert not target.exists(), "init_file followed a symlink"
    assert not dangling.is_symlink() and dangling.read_text() == "7\n"  # keepalived: a regular file replaces it
    weight.unlink()
    os.mkfifo(weight)
    with lab.start_capture("h2") as cap:
        time.sleep(2.0)  # 10 intervals; the backup's master-down timer is about 0.7 s
        frames = cap.frames()
    sent = _adverts_from(frames, str(lab.addr("h1")))
    assert len(sent) >= 7, f"{len(sent)} adverts in 2 s after the FIFO swap"
    assert max(b - a for a, b in itertools.pairwise(sent)) < 0.6
    assert lab.vip_holders(VIP) == {"h1"}
    t0 = time.monotonic()
    assert h1.signal(signal.SIGTERM)
    assert h1.wait(5.0) is not None, "SIGTERM did not stop the daemon"
    assert time.monotonic() - t0 < 5.0


def _fd_and_thread_counts(pid: int) -> tuple[int, int]:
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


HOLD_CLIENTS = r"""
import socket, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        continue
    socks.append(s)
slow = socket.socket()
slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
slow.connect(("127.0.0.1", port))
slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
print(len(socks), flush=True)
for _ in range(int(sys.argv[3])):
    try:
        slow.recv(1)
    except OSError:
        break
    time.sleep(1)
"""


def test_http_idle_and_slow_clients_cannot_starve_the_daemon(make_lab: MakeLab) -> None:
    """300 idle HTTP clients and one reading a byte a second: thread and fd counts stay bounded and
    the adverts stay on time."""
    lab = make_lab(2)
    port = "9651"
    h1 = lab.run_vrrpkit("h1", config(instance(150, version=3, advert_int="0.1")),
                         extra_args=["--metrics", f"127.0.0.1:{port}"])  # fmt: skip
    lab.run_vrrpkit("h2", config(instance(100, version=3, advert_int="0.1")))
    wait_holders(lab, {"h1"}, 10)
    before = _fd_and_thread_counts(h1.pid)
    holder = lab.popen("h1", [sys.executable, "-c", HOLD_CLIENTS, "300", port, "6"], stdout=subprocess.PIPE,
                       text=True)  # fmt: skip
    try:
        assert holder.stdout is not None
        opened = int(holder.stdout.readline() or 0)
        with lab.start_capture("h2") as cap:
            time.sleep(2.0)
            during = _fd_and_thread_counts(h1.pid)
            frames = cap.frames()
    finally:
        holder.kill()
        holder.wait()
    fetch = f"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:{port}/metrics',timeout=5).status)"
    status = lab.exec("h1", [sys.executable, "-c", fetch], check=False, timeout=15)
    sent = _adverts_from(frames, str(lab.addr("h1")))
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert opened > 0
    assert during[1] <= before[1] + 2, f"threads {before[1]} -> {during[1]}"
    assert during[0] <= before[0] + 80, f"fds {before[0]} -> {during[0]}"
    assert len(sent) >= 15 and max(gaps) < 0.3, (len(sent), max(gaps, default=None))
    assert lab.vip_holders(VIP) == {"h1"}
    assert status.stdout.strip() == "200", status.stderr  # and a scrape works once they are gone


SEND_BAD = r"""
import socket, struct, sys, time
from vrrpkit.core.packet import checksum
n, ttl, good_sum = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "good"
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, 25, b"eth0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
body = struct.pack("!BBBBHH4s", 0x31, 51, 200, 1, 10, 0, bytes([192, 0, 2, 100]))
body = body[:6] + struct.pack("!H", checksum(body) ^ (0 if good_sum else 0x5555)) + body[8:]
for _ in range(n):
    s.sendto(body, ("224.0.0.18", 0))
    time.sleep(0.001)  # a burst would overflow the receiver's socket buffer: the kernel would drop some
"""


def test_bad_packets_give_a_bounded_number_of_log_lines(make_lab: MakeLab) -> None:
    """300 VRRPv3 adverts to a VRRPv2 instance (a neighbour on the wrong version): a bounded number
    of log lines, every one counted (keepalived 2.2.7 logs all 300). 300 with TTL 64 and 300 with a
    bad checksum never reach the daemon: the socket's kernel filter drops them (io/vrrp_filter.py,
    docs/reliability.md), so they cost nothing and log nothing."""
    lab = make_lab(2)
    h1 = lab.run_vrrpkit("h1", config(instance(100)))
    wait_holders(lab, {"h1"}, 10)
    for ttl, checksum in (("255", "good"), ("64", "good"), ("255", "bad")):
        lab.exec("h2", [sys.executable, "-c", SEND_BAD, "300", ttl, checksum], timeout=30)
    time.sleep(0.5)
    lines = [line for line in h1.log().splitlines() if "version-mismatch" in line]
    assert 1 <= len(lines) <= 3, lines[:5]
    assert not [line for line in h1.log().splitlines() if "bad-ttl" in line or "bad-checksum" in line]
    doc = json.loads(lab.exec("h1", Lab.vrrpkit_argv("status", "--json")).stdout)
    dropped = doc["instances"][0]["counters"]["dropped"]
    assert dropped == {"version-mismatch": 300}, dropped
    assert lab.vip_holders(VIP) == {"h1"}


FUZZ_PROBE = r"""
import os, random, socket, struct, sys
from vrrpkit.core.packet import checksum
from vrrpkit.diag import probe_wire as pw
n, peer = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, 25, b"eth0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
req = pw.ProbeMessage(pw.Kind.REQUEST, pw.Path.VRRP_UNICAST, 1234, 1, 0)
good = bytearray(pw.encode_vrrp(req))
zero = bytearray(good)
zero[1] = 0  # VRID 0
zero[6:8] = b"\0\0"
zero[6:8] = struct.pack("!H", checksum(bytes(zero)))
s.sendto(bytes(zero), (peer, 0))
s.sendto(bytes(zero), ("224.0.0.18", 0))
rnd = random.Random(12)
for i in range(n):
    data = bytearray(good) if i % 2 else bytearray(rnd.randbytes(rnd.randrange(0, 120)))
    for _ in range(rnd.randrange(1, 6)):
        if data:
            data[rnd.randrange(len(data))] = rnd.randrange(256)
    dst = "224.0.0.18" if i % 3 == 0 else peer
    s.sendto(bytes(data), (dst, 0))
    u.sendto(bytes(data[8:]), (peer, pw.UDP_PORT))
"""


def test_probe_survives_vrid_zero_and_random_requests(make_lab: MakeLab) -> None:
    """A VRID-0 request and 10,000 random or mutated ones leave the probe running and answering."""
    lab = make_lab(2, ipv6=False)
    peers = f"{lab.addr('h1')},{lab.addr('h2')}"
    argv = Lab.vrrpkit_argv("probe", "--peer", peers, "-i", "eth0", "--count", "40", "--interval", "0.1",
                            "--wait", "1", "--json")  # fmt: skip
    probe = lab.popen("h1", argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        lab.exec("h2", [sys.executable, "-c", FUZZ_PROBE, "10000", str(lab.addr("h1"))], timeout=60)
        assert wait_until(lambda: probe.poll() is None or None, 0.1)
        stdout, stderr = probe.communicate(timeout=30)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
    assert probe.returncode in (0, 1), stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    assert '"format_version"' in stdout


def test_the_daemon_keeps_only_the_capabilities_it_needs(make_lab: MakeLab, public: Path) -> None:
    """Dropped before any socket is opened, and still enough for everything after: VIPs (netlink),
    the no_accept nft table, GARP, a reload that opens an IPv6 socket, scripts as another user."""
    from vrrpkit.io import caps

    out = public / "out"
    out.mkdir()
    out.chmod(0o777)
    who = script(public / "who.sh", f"grep -E '^Cap(Eff|Bnd)' /proc/self/status > {out}/$1-$(id -u)\n")
    extra = f'no_accept\nnotify_master "{who} master"\nnotify_backup "{who} backup" nobody nogroup'
    lab = make_lab(1)
    text = config(instance(100, version=3, advert_int="0.1", extra=extra), globals_="script_user root")
    h1 = lab.run_vrrpkit("h1", text)
    wait_holders(lab, {"h1"}, 10)
    keep = caps.mask(caps.DAEMON_KEEPS)
    seen = caps.current(h1.pid)
    assert (seen["Eff"], seen["Prm"], seen["Bnd"], seen["Inh"]) == (keep, keep, keep, 0), seen
    # the shell creates the file before grep writes it: wait for both lines, not for the file
    master = out / "master-0"
    assert wait_until(lambda: (master.exists() and master.read_text().count("\n") >= 2) or None, 5)
    root_script = dict(line.split(":\t") for line in master.read_text().splitlines())
    assert int(root_script["CapBnd"], 16) == keep  # a root script cannot get more than the daemon kept
    assert (out / "backup-65534").exists()  # switching user still works
    nft = lab.exec("h1", ["nft", "list", "tables"]).stdout
    assert "vrrpkit" in nft, nft  # the no_accept table was installed after the drop
    v6 = instance(100, name="VI_6", vrid=52, version=3, advert_int="0.1", vips=("2001:db8::100/64",))
    assert h1.conf_path is not None
    h1.conf_path.write_text(text + v6)
    h1.signal(signal.SIGHUP)
    assert wait_until(lambda: lab.vip_holders("2001:db8::100") == {"h1"} or None, 10), h1.log()[-2000:]
