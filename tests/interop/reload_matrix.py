"""The reload matrix: the same config edits reloaded into keepalived and into vrrpkit, side by side.

One lab, three hosts, one run: h1 runs keepalived, h2 runs vrrpkit, h3 runs keepalived as the
backup of every virtual router of both. Each scenario is one virtual router per daemon (its own
VRID and VIPs), master on h1 or h2 at start; one edit per scenario is written into the files and
every daemon whose file changed gets SIGHUP at the same moment. `ip monitor address` in each host
records every VIP that comes or goes, with the kernel's timestamps, so a holder change is counted
even if it lasts a millisecond.

Run it by hand for the table: `python tests/interop/reload_matrix.py` (root, keepalived installed).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import config, instance

from vrrpkit.lab import Lab, LabProcess, wait_until

SUBJECT_PRIORITY = 150
PEER_PRIORITY = 100
ADVERT_INT = 1.0  # VRRPv2 at 1 s: the interval most configs use, and long enough to see a flap
SKEW_TIME = (256 - PEER_PRIORITY) / 256  # the peer's, VRRPv2
MASTER_DOWN = 3 * ADVERT_INT + SKEW_TIME
# after the reload: long enough for a backup to time the master out, and for a master that preempted
# it back to be timed out again by a backup that drops its adverts (keepalived 2.2.7's VIP-list check)
WATCH = 2 * MASTER_DOWN + 1.0

ROUTE = "198.51.100.248/29"  # one virtual route added by a reload (outside every VIP of the matrix)
SCRIPTS = """vrrp_script chk_ok {
    script "/bin/true"
    interval 1
}
vrrp_script chk_fail {
    script "/bin/false"
    interval 1
}
"""

FAILING = "track_script {\n    chk_fail\n}"  # a member in FAULT of its own


@dataclass(frozen=True)
class Side:
    """What one virtual router looks like in one daemon's file, before or after the edit."""

    priority: int = SUBJECT_PRIORITY
    extra_vip: bool = False  # a second VIP (198.51.100.x)
    extra: str = ""  # more lines in the block (track_script, comments, advert_int...)
    advert_int: str = "1"
    name_suffix: str = ""
    unicast: bool = False
    version: int | None = None
    removed: bool = False  # the block is gone from the file
    typo: bool = False  # the second VIP is mistyped (an octet above 255)


@dataclass(frozen=True)
class Scenario:
    name: str
    before: Side
    after: Side
    peer_after: Side | None = None  # the backup's file changes too (an operator edits every host)
    handover: bool = False  # the edit makes the peer the rightful master
    group: bool = False  # two routers in a vrrp_sync_group; the edit touches the first only...
    both: bool = False  # ...or both
    formed: bool = False  # the group is made by the reload (the subject's file only; h3 never has it)
    member: Side | None = None  # the second member on the subject, before and after (else as the first)
    note: str = ""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("comment-only edit", Side(), Side(extra="# a comment, nothing else")),
    Scenario("priority down, still highest", Side(), Side(priority=120)),
    Scenario("priority up", Side(), Side(priority=200)),
    Scenario("priority below the peer's", Side(), Side(priority=90), handover=True),
    Scenario("add a VIP", Side(), Side(extra_vip=True), peer_after=Side(PEER_PRIORITY, extra_vip=True)),
    Scenario("remove a VIP", Side(extra_vip=True), Side(), peer_after=Side(PEER_PRIORITY)),
    Scenario("add a VIP on the master only", Side(), Side(extra_vip=True)),
    Scenario("add a track script", Side(), Side(extra="track_script {\n    chk_ok\n}")),
    Scenario("remove a track script", Side(extra="track_script {\n    chk_ok\n}"), Side()),
    Scenario("add a failing track script", Side(), Side(extra=FAILING), handover=True),
    Scenario("add a virtual route", Side(), Side(extra=f"virtual_routes {{\n    {ROUTE} via 192.0.2.3 dev eth0\n}}")),
    Scenario("advert_int 1 -> 2", Side(), Side(advert_int="2"), peer_after=Side(PEER_PRIORITY, advert_int="2")),
    Scenario("rename the instance", Side(), Side(name_suffix="_renamed")),
    Scenario("remove the instance", Side(), Side(removed=True), handover=True),
    Scenario("multicast -> unicast", Side(), Side(unicast=True), peer_after=Side(PEER_PRIORITY, unicast=True)),
    Scenario("version 2 -> 3", Side(), Side(version=3), peer_after=Side(PEER_PRIORITY, version=3)),
    Scenario("sync group: one member below the peer", Side(), Side(priority=90), group=True),
    Scenario(
        "sync group: both members below the peer", Side(), Side(priority=90), handover=True, group=True, both=True
    ),
    # A group made of members that kept their states: keepalived 2.2.7 syncs them at once (measured,
    # 2026-12-01): a member with a fault of its own takes the group to FAULT, and a group that is not
    # MASTER throughout is BACKUP, so the master among them lets its VIP go. The new group's notify
    # runs for the state its members end in, even when they agreed (two backups, two faults); for
    # two masters it does not (measured the same evening; the subject starts as BACKUP where its
    # first member's priority is below the peer's).
    Scenario("sync group made by the reload: both masters", Side(), Side(), group=True, formed=True),
    Scenario(
        "sync group made by the reload: a master and a backup",
        Side(),
        Side(),
        handover=True,
        group=True,
        formed=True,
        member=Side(priority=90),
    ),
    Scenario(
        "sync group made by the reload: a master and a member in fault",
        Side(),
        Side(),
        handover=True,
        group=True,
        formed=True,
        member=Side(extra=FAILING),
    ),
    Scenario(
        "sync group made by the reload: two members in fault",
        Side(priority=90, extra=FAILING),
        Side(priority=90, extra=FAILING),
        group=True,
        formed=True,
        member=Side(priority=90, extra=FAILING),
    ),
    Scenario(
        "sync group made by the reload: two backups",
        Side(priority=90),
        Side(priority=90),
        group=True,
        formed=True,
        member=Side(priority=90),
    ),
    Scenario(
        "sync group made by the reload: a member in fault and a backup",
        Side(priority=90, extra=FAILING),
        Side(priority=90, extra=FAILING),
        group=True,
        formed=True,
        member=Side(priority=90),
    ),
    Scenario(
        "sync group made by the reload: a backup and a member in fault",
        Side(priority=90),
        Side(priority=90),
        group=True,
        formed=True,
        member=Side(extra=FAILING),
    ),
)


# A file with an error is reloaded by keepalived with its fallbacks and not at all by vrrpkit
# (docs/divergences.md); it runs on its own, since it makes vrrpkit refuse the whole file.
DIVERGING = Scenario(
    "a mistyped VIP (vrrpkit keeps the running config)", Side(extra_vip=True), Side(extra_vip=True, typo=True)
)


@dataclass
class Outcome:
    """What one daemon's VIPs did after the reload, in one scenario."""

    changes: int = 0  # holder-set changes of the scenario's VIPs, summed
    handover_at: float | None = None  # seconds after SIGHUP until the peer alone held the first VIP
    both_held: float = 0.0  # longest time two hosts held one VIP at once
    notifies: list[str] = field(default_factory=list)  # notify script calls after the reload
    final: dict[str, set[str]] = field(default_factory=dict)  # VIP -> holders at the end
    timeline: list[str] = field(default_factory=list)  # "+0.52s 192.0.2.110 -h1", for failure messages

    def row(self) -> str:
        took = "-" if self.handover_at is None else f"{self.handover_at:.2f}s"
        calls = f"{len(self.notifies)} notify" if self.notifies else "no notify"
        return f"{self.changes} change(s), handover {took}, two holders {self.both_held:.2f}s, {calls}"


# --- config text -----------------------------------------------------------------------------------


def _vips(daemon: str, index: int, extra: bool) -> list[str]:
    host = (110 if daemon == "keepalived" else 150) + index
    vips = [f"192.0.2.{host}/24"]
    if extra:
        vips.append(f"198.51.100.{host}/32")  # /32: no primary whose removal flushes the others
    return vips


def _member_vip(daemon: str, index: int) -> str:
    return f"198.51.100.{(200 if daemon == 'keepalived' else 230) + index}"


def _vrid(daemon: str, index: int, member: int = 0) -> int:
    return (10 if daemon == "keepalived" else 100) + 2 * index + member


def _notify(lab: Lab, host: str) -> str:
    """A notify script that appends `<wall time> <its arguments>` to HOST.notify.log."""
    script = lab.workdir / f"{host}.notify.sh"
    if not script.exists():
        script.write_text(f'#!/bin/sh\necho "$(date +%s.%N) $*" >> {lab.workdir / f"{host}.notify.log"}\n')
        script.chmod(0o755)
    return str(script)


def _block(lab: Lab, daemon: str, index: int, side: Side, host: str, member: int = 0) -> str:
    prefix = "K" if daemon == "keepalived" else "V"
    name = f"{prefix}{index}{'b' if member else ''}{side.name_suffix}"
    unicast_src, peers = None, ()
    if side.unicast:
        other = "h3" if host != "h3" else ("h1" if daemon == "keepalived" else "h2")
        unicast_src, peers = str(lab.addr(host)), (str(lab.addr(other)),)
    vips = _vips(daemon, index, side.extra_vip)
    if side.typo:
        vips[-1] = vips[-1].replace("198.51.100.", "198.51.100.1")
    if member:
        vips = [_member_vip(daemon, index) + "/32"]
    return instance(
        side.priority,
        name=name,
        vrid=_vrid(daemon, index, member),
        advert_int=side.advert_int,
        version=side.version,
        vips=vips,
        unicast_src=unicast_src,
        peers=peers,
        extra=f"notify {_notify(lab, host)}\n{side.extra}",
    )


def _file(lab: Lab, host: str, parts: Iterable[tuple[str, int, Scenario, Side]], after: bool) -> str:
    blocks, groups = [], []
    for daemon, index, scenario, side in parts:
        if side.removed:
            continue
        blocks.append(_block(lab, daemon, index, side, host))
        if scenario.group:
            member = side if scenario.both or host == "h3" else scenario.before
            if scenario.member is not None and host != "h3":
                member = scenario.member
            second = Side(priority=member.priority, extra=member.extra)
            blocks.append(_block(lab, daemon, index, second, host, member=1))
            if scenario.formed and (host == "h3" or not after):
                continue
            prefix = "K" if daemon == "keepalived" else "V"
            groups.append(
                f"vrrp_sync_group G{prefix}{index} {{\n    group {{\n"
                f"        {prefix}{index}{side.name_suffix}\n        {prefix}{index}b\n    }}\n"
                f"    notify {_notify(lab, host)}\n}}\n"
            )
    return config(*blocks, scripts=SCRIPTS) + "".join(groups)


def files(lab: Lab, scenarios: Sequence[Scenario]) -> dict[str, tuple[str, str]]:
    """host -> (config before, config after)."""
    out: dict[str, tuple[str, str]] = {}
    for host, daemon in (("h1", "keepalived"), ("h2", "vrrpkit")):
        before = [(daemon, i, s, s.before) for i, s in enumerate(scenarios)]
        after = [(daemon, i, s, s.after) for i, s in enumerate(scenarios)]
        out[host] = (_file(lab, host, before, False), _file(lab, host, after, True))
    peer_before, peer_after = [], []
    for daemon in ("keepalived", "vrrpkit"):
        for i, s in enumerate(scenarios):
            b = s.before
            base = Side(PEER_PRIORITY, b.extra_vip, "", b.advert_int, "", b.unicast, b.version)
            peer_before.append((daemon, i, s, base))
            peer_after.append((daemon, i, s, s.peer_after or base))
    out["h3"] = (_file(lab, "h3", peer_before, False), _file(lab, "h3", peer_after, True))
    return out


# --- watching the VIPs ---------------------------------------------------------------------------

_EVENT = re.compile(r"^\[(?P<ts>[^\]]+)\] (?P<deleted>Deleted )?\d+: \S+\s+inet6? (?P<addr>[0-9a-f.:]+)/")


@dataclass
class Watch:
    """`ip -ts -o monitor address` in every host: the kernel's own record of VIPs coming and going."""

    lab: Lab
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)

    def start(self) -> None:
        for host in self.lab.hosts:
            path = self.lab.workdir / f"{host}.addr-monitor.log"
            out = open(path, "wb")  # noqa: SIM115 - closed in stop()
            proc = self.lab.popen(host, ["ip", "-ts", "-o", "monitor", "address"], stdout=out)
            out.close()
            self.procs[host] = (proc, path)
        time.sleep(0.3)  # ip monitor is listening

    def stop(self) -> dict[str, list[tuple[float, str, bool]]]:
        """host -> [(wall time, address, added)] in order."""
        events: dict[str, list[tuple[float, str, bool]]] = {}
        for host, (proc, path) in self.procs.items():
            proc.terminate()
            proc.wait(5)
            events[host] = []
            for line in path.read_text().splitlines():
                m = _EVENT.match(line)
                if m:
                    ts = datetime.fromisoformat(m["ts"]).timestamp()
                    events[host].append((ts, m["addr"], m["deleted"] is None))
        return events


def outcome(
    events: dict[str, list[tuple[float, str, bool]]],
    start: dict[str, set[str]],
    vips: Sequence[str],
    since: float,
    until: float,
    peer: str,
) -> Outcome:
    """Replay the address events after `since` from the holders at `since`."""
    result = Outcome()
    merged = sorted((ts, host, addr, added) for host, evs in events.items() for ts, addr, added in evs if ts >= since)
    for vip in vips:
        holders = set(start.get(vip, set()))
        two_since: float | None = since if len(holders) > 1 else None
        for ts, host, addr, added in merged:
            if addr != vip:
                continue
            new = holders | {host} if added else holders - {host}
            if new == holders:
                continue
            result.changes += 1
            holders = new
            if len(holders) > 1 and two_since is None:
                two_since = ts
            elif len(holders) <= 1 and two_since is not None:
                result.both_held = max(result.both_held, ts - two_since)
                two_since = None
            if vip == vips[0] and holders == {peer} and result.handover_at is None:
                result.handover_at = ts - since
            result.timeline.append(f"{ts - since:+.2f}s {vip} {'+' if added else '-'}{host}")
        if two_since is not None:
            result.both_held = max(result.both_held, until - two_since)
        result.final[vip] = holders
    return result


# --- the run ------------------------------------------------------------------------------------


def _start(lab: Lab, texts: dict[str, tuple[str, str]]) -> dict[str, LabProcess]:
    procs = {"h1": lab.run_keepalived("h1", texts["h1"][0]), "h3": lab.run_keepalived("h3", texts["h3"][0])}
    procs["h2"] = lab.run_vrrpkit("h2", texts["h2"][0])
    return procs


def _holders(lab: Lab, vips: Iterable[str]) -> dict[str, set[str]]:
    return {vip: lab.vip_holders(vip) for vip in vips}


def run_matrix(lab: Lab, scenarios: Sequence[Scenario] = SCENARIOS) -> dict[str, dict[str, Outcome]]:
    """scenario name -> {"keepalived": Outcome, "vrrpkit": Outcome}."""
    texts = files(lab, scenarios)
    procs = _start(lab, texts)
    vips_of: dict[tuple[str, str], list[str]] = {}
    for i, s in enumerate(scenarios):
        for daemon in ("keepalived", "vrrpkit"):
            vips = [v.split("/")[0] for v in _vips(daemon, i, True)]
            if s.group:
                vips.append(_member_vip(daemon, i))
            vips_of[(s.name, daemon)] = vips
    firsts = [vips[0] for vips in vips_of.values()]
    starts = {s.name: s.before.priority > PEER_PRIORITY for s in scenarios}  # else h3 is master at start
    expect = {
        vips[0]: {("h1" if daemon == "keepalived" else "h2") if starts[name] else "h3"}
        for (name, daemon), vips in vips_of.items()
    }
    ready = wait_until(lambda: _holders(lab, firsts) == expect, 25, interval=0.2)
    if not ready:
        logs = "\n".join(f"--- {p.host} {p.kind}\n{p.log()[-3000:]}" for p in procs.values())
        raise AssertionError(f"masters not settled: {_holders(lab, firsts)}\n{logs}")
    time.sleep(2 * ADVERT_INT)  # scripts have reported, GARPs are out
    watch = Watch(lab)
    watch.start()
    all_vips = [v for vips in vips_of.values() for v in vips]
    start = _holders(lab, all_vips)
    for host, (before, after) in texts.items():
        if after != before:
            assert procs[host].conf_path is not None
            procs[host].conf_path.write_text(after)
    since = time.time()
    for host, (before, after) in texts.items():
        if after != before:
            procs[host].signal(signal.SIGHUP)
    time.sleep(WATCH)
    until = time.time()
    events = watch.stop()
    table: dict[str, dict[str, Outcome]] = {}
    for i, s in enumerate(scenarios):
        table[s.name] = {}
        for daemon, host in (("keepalived", "h1"), ("vrrpkit", "h2")):
            result = table[s.name][daemon] = outcome(events, start, vips_of[(s.name, daemon)], since, until, "h3")
            result.notifies = _notifies(lab, host, daemon, i, since)
    return table


def _notifies(lab: Lab, host: str, daemon: str, index: int, since: float) -> list[str]:
    """The subject's notify calls for one scenario after `since`: `INSTANCE K3 MASTER 150`, `GROUP GK3 ...`."""
    prefix = "K" if daemon == "keepalived" else "V"
    names = {f"{prefix}{index}", f"{prefix}{index}b", f"{prefix}{index}_renamed", f"G{prefix}{index}"}
    path = lab.workdir / f"{host}.notify.log"
    calls = []
    for line in path.read_text().splitlines() if path.exists() else []:
        stamp, _, args = line.partition(" ")
        fields = args.split()
        if float(stamp) >= since and len(fields) > 1 and fields[1] in names:
            calls.append(args)
    return calls


def render(table: dict[str, dict[str, Outcome]]) -> str:
    lines = ["| edit (reloaded on the master) | keepalived 2.2.7 | vrrpkit |", "| --- | --- | --- |"]
    for name, row in table.items():
        lines.append(f"| {name} | {row['keepalived'].row()} | {row['vrrpkit'].row()} |")
    return "\n".join(lines)


def main(argv: Sequence[str] = ()) -> int:
    with Lab(hosts=3, ipv6=False, workdir=Path(argv[0]) if argv else None) as lab:
        table = run_matrix(lab)
        print(render(table))
        for name, row in table.items():
            for daemon, out in row.items():
                print(f"{name} / {daemon}: {'; '.join(out.timeline)}")
        for p in lab.processes():
            print(f"--- {p.host} {p.kind} {p.log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
