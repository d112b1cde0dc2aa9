"""The pure parts of io.routes, io.proc and io.fifo, without root: netlink requests and messages as bytes,
a /proc tree on disk, a FIFO in a temporary directory."""

from __future__ import annotations

import os
import socket
import struct
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from vrrpkit.core.routing import NextHop, Route, Rule
from vrrpkit.io.fifo import FifoRefused, open_fifo, path_kind
from vrrpkit.io.proc import (
    PROC_EVENT_EXEC,
    PROC_EVENT_EXIT,
    PROC_EVENT_FORK,
    ProcTable,
    parse_proc_events,
    parse_stat,
)
from vrrpkit.io.routes import (
    AddressCame,
    AddressGone,
    RouteGone,
    RuleGone,
    UnknownTable,
    parse_deletions,
    resolve_table,
    route_kwargs,
    rt_tables,
    rule_kwargs,
)

INDEX = {"eth0": 2, "eth1": 3}.get


def test_route_request_carries_what_keepalived_sends() -> None:
    route = Route(ip_network("198.51.100.0/26"), via=ip_address("192.0.2.3"), dev="eth0", src=ip_address("192.0.2.1"),
                  metric=5, table=100, metrics=(("mtu", 1400),), locked=("mtu",))
    assert route_kwargs(route, INDEX, dict) == {
        "family": socket.AF_INET, "dst": "198.51.100.0/26", "table": 100, "type": 1, "proto": 18, "scope": 0,
        "gateway": "192.0.2.3", "oif": 2, "prefsrc": "192.0.2.1", "priority": 5,
        "metrics": {"mtu": 1400, "lock": 1 << 2},
    }
    hole = Route(ip_network("198.51.100.64/26"), type=6, via=ip_address("192.0.2.3"))
    assert "gateway" not in route_kwargs(hole, INDEX, dict)  # a blackhole has no next hop
    multi = Route(ip_network("198.51.100.128/26"),
                  nexthops=(NextHop(ip_address("192.0.2.3"), "eth0", 1), NextHop(ip_address("192.0.2.4"), "eth1", 2)))
    assert route_kwargs(multi, INDEX, dict)["multipath"] == [
        {"gateway": "192.0.2.3", "oif": 2, "hops": 0}, {"gateway": "192.0.2.4", "oif": 3, "hops": 1}]
    with pytest.raises(OSError):
        route_kwargs(Route(ip_network("198.51.100.0/26"), dev="nope"), INDEX, dict)


def test_rule_request_and_table_names() -> None:
    rule = Rule(priority=200, table="vrrp", src=ip_network("198.51.100.128/26"), invert=True, fwmark=16, fwmask=255,
                iif="eth0", ip_proto=17, sport=(10, 20), dport=(30, 30), protocol=18)
    assert rule_kwargs(rule, lambda: {"vrrp": 100}) == {
        "family": socket.AF_INET, "priority": 200, "action": 1, "table": 100, "src": "198.51.100.128",
        "src_len": 26, "flags": 2, "fwmark": 16, "fwmask": 255, "iifname": "eth0", "protocol": 18,
        "ip_proto": 17, "sport_range": "10:20", "dport_range": "30:30",
    }
    assert rule_kwargs(Rule(priority=5, action="prohibit"), dict) == {
        "family": socket.AF_INET, "priority": 5, "action": 8}
    with pytest.raises(UnknownTable):
        resolve_table("nosuch", dict)


def test_rt_tables_reads_iproute2_files(tmp_path: Path) -> None:
    (tmp_path / "rt_tables").write_text("255 local\n254 main\n# comment\n100 vrrp # inline\nbad line\n")
    (tmp_path / "rt_tables.d").mkdir()
    (tmp_path / "rt_tables.d" / "x.conf").write_text("0x65 hex\n")
    names = rt_tables([str(tmp_path / "missing"), str(tmp_path / "rt_tables")], [str(tmp_path / "rt_tables.d")])
    assert names == {"local": 255, "main": 254, "vrrp": 100, "hex": 101}


def _nlmsg(kind: int, body: bytes) -> bytes:
    data = struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body
    return data + b"\0" * (-len(data) % 4)


def _attr(kind: int, value: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


def test_deletions_are_read_from_netlink_messages() -> None:
    route = _nlmsg(25, struct.pack("=BBBBBBBBI", socket.AF_INET, 26, 0, 0, 254, 18, 0, 1, 0)
                   + _attr(1, bytes([198, 51, 100, 0])) + _attr(4, struct.pack("=I", 2)))
    rule = _nlmsg(33, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 26, 0, 100, 0, 0, 1, 0)
                  + _attr(2, bytes([198, 51, 100, 128])) + _attr(6, struct.pack("=I", 200)))
    addr = _nlmsg(21, struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, 2) + _attr(2, bytes([198, 51, 100, 1])))
    other = _nlmsg(24, b"\0" * 12)  # RTM_NEWROUTE: not a deletion
    came = _nlmsg(20, struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, 3) + _attr(2, bytes([192, 0, 2, 7])))
    assert parse_deletions(route + rule + addr + other + came + b"\x01\x02") == [
        RouteGone(ip_network("198.51.100.0/26"), 254, 0, 1, 18, 2, None),
        RuleGone(socket.AF_INET, 200, 100, 1, ip_network("198.51.100.128/26"), None),
        AddressGone(2, "198.51.100.1", 32),
        AddressCame(3, "192.0.2.7", 24),  # RTM_NEWADDR: a source address may have come
    ]


def test_stat_lines_with_odd_process_names() -> None:
    line = "42 (a) b (c)) S 1 42 42 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0"
    info = parse_stat(42, line)
    assert info is not None and (info.comm, info.zombie, info.start) == ("a) b (c)", False, 123456)
    assert parse_stat(1, "1 (init) Z 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0").zombie  # type: ignore[union-attr]
    assert parse_stat(1, "garbage") is None


def _fake_proc(root: Path, pid: int, comm: str, argv: tuple[str, ...] = (), state: str = "S", start: int = 1) -> None:
    d = root / str(pid)
    d.mkdir(exist_ok=True)
    (d / "stat").write_text(f"{pid} ({comm}) {state} 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0\n")
    if argv:
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


def test_a_scan_reads_new_processes_and_a_bounded_slice_of_the_rest(tmp_path: Path) -> None:
    """10,000 processes: the first scan reads each once, later scans only what changed plus a fixed slice."""
    for pid in range(100, 10100):
        _fake_proc(tmp_path, pid, f"worker{pid % 7}")
    table = ProcTable(str(tmp_path), refresh_per_scan=256)
    table.scan()
    assert len(table.procs) == 10000 and table.reads == 10000
    before = table.reads
    table.scan(hot=[100, 101])
    assert table.reads - before <= 256 + 2  # nothing new: the slice and the hot pids
    _fake_proc(tmp_path, 20000, "haproxy")
    (tmp_path / "100" / "stat").unlink()
    os.rmdir(tmp_path / "100")
    before = table.reads
    table.scan()
    assert table.procs[20000].comm == "haproxy" and 100 not in table.procs
    assert table.reads - before <= 256 + 1
    # between scans only the tracked pids are re-read: a death costs one read to notice
    (tmp_path / "20000" / "stat").unlink()
    before = table.reads
    table.check([20000])
    assert 20000 not in table.procs and table.reads - before == 1
    # a renamed process is seen within len/refresh scans, without re-reading everything each time
    _fake_proc(tmp_path, 5000, "renamed")
    for _ in range(10000 // 256 + 1):
        table.scan()
    assert table.procs[5000].comm == "renamed"


def test_command_lines_are_read_only_when_asked(tmp_path: Path) -> None:
    _fake_proc(tmp_path, 7, "nginx", ("/usr/sbin/nginx", "-g", "daemon off;"))
    _fake_proc(tmp_path, 8, "zombie", state="Z")
    plain, full = ProcTable(str(tmp_path)), ProcTable(str(tmp_path), cmdline=True)
    plain.scan()
    full.scan()
    assert plain.procs[7].argv is None and plain.reads == 2
    assert full.procs[7].argv == ("/usr/sbin/nginx", "-g", "daemon off;") and full.procs[8].zombie


def test_proc_connector_events_are_parsed_and_threads_skipped() -> None:
    def event(what: int, payload: bytes) -> bytes:
        body = struct.pack("=IIIIHH", 1, 1, 0, 0, 16 + len(payload), 0) + struct.pack("=IIQ", what, 0, 0) + payload
        return _nlmsg(3, body)

    fork = event(PROC_EVENT_FORK, struct.pack("=iiii", 10, 10, 11, 11))
    thread = event(PROC_EVENT_FORK, struct.pack("=iiii", 10, 10, 12, 10))
    exe = event(PROC_EVENT_EXEC, struct.pack("=ii", 11, 11))
    gone = event(PROC_EVENT_EXIT, struct.pack("=iiII", 11, 11, 0, 17))
    assert parse_proc_events(fork + thread + exe + gone) == [
        (PROC_EVENT_FORK, 11, 10), (PROC_EVENT_EXEC, 11, -1), (PROC_EVENT_EXIT, 11, -1)]


def test_fifo_without_reader_never_blocks_and_counts_what_it_drops(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.fifo")
    fifo = open_fifo(path)
    assert fifo.created and path_kind(path) == "fifo"
    line = 'INSTANCE "VI_1" MASTER 150\n'
    sent = sum(fifo.write(line) for _ in range(10000))  # nobody reads: the pipe fills, then lines drop
    assert 0 < sent < 10000 and fifo.dropped == 10000 - sent
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    assert os.read(reader, len(line)) == line.encode()  # a late reader gets what waited in the pipe
    os.close(reader)
    fifo.close()
    assert path_kind(path) is None  # we created it, so it goes


def test_a_path_that_is_not_a_fifo_is_refused(tmp_path: Path) -> None:
    regular = tmp_path / "file"
    regular.write_text("precious\n")
    with pytest.raises(FifoRefused, match="not a FIFO"):
        open_fifo(str(regular))
    assert regular.read_text() == "precious\n"
    os.mkfifo(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(FifoRefused, match="symlink"):
        open_fifo(str(tmp_path / "link"))
    existing = open_fifo(str(tmp_path / "real"))
    existing.close()
    assert path_kind(str(tmp_path / "real")) == "fifo"  # not ours: left in place
