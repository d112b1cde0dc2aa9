"""Who was master of which VRID when: master periods, priority-0 handovers, gaps and overlaps (pure).

``VridTable`` answers "what is wrong now"; a capture replayed offline (``watch -r``) and a status page
also need the history: each sender's runs of adverts (a run ends when the sender falls silent for
longer than its Master_Down_Interval, or sends priority 0), the moments no master advertised for
longer than Master_Down_Interval (the backups would have taken over: a gap), and the times two
masters advertised together (an overlap longer than one interval; a pre-emption overlaps by one
advert only). Fed the same Sightings as the table, in time order; ``finish(end)`` closes the books.

Master_Down_Interval is RFC 3768/9568's: 3 x the advertised interval + Skew_Time, with Skew_Time
(256 - priority) / 256 s for VRRPv2 and (256 - priority) x interval / 256 for VRRPv3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vrrpkit.core.config import IPAddress
from vrrpkit.diag import findings as F
from vrrpkit.diag.decode import FIELD_END, Sighting
from vrrpkit.diag.findings import Finding, Severity

Key = tuple[str, int, int]  # (interface, family, vrid)


def master_down_interval(version: int, interval: float, priority: int) -> float:
    """RFC 3768 / RFC 9568: how long a backup waits for a master's advert before it takes over."""
    skew = (256 - priority) / 256 if version == 2 else (256 - priority) * interval / 256
    return 3 * interval + skew


@dataclass
class Run:
    """One uninterrupted stretch of adverts from one sender for one VRID."""

    src: IPAddress
    mac: str
    start: float
    end: float
    priority: int
    interval: float
    version: int
    adverts: int = 1
    priorities: list[tuple[float, int]] = field(default_factory=list)  # (time, priority) at each change
    ended_by: str | None = None  # "priority-0", "silence", or None while it lasts

    @property
    def master(self) -> bool:
        return any(p > 0 for _t, p in self.priorities)

    def down_interval(self, backup_priority: int = 1) -> float:
        return master_down_interval(self.version, self.interval or 1.0, backup_priority)

    def as_dict(self) -> dict[str, Any]:
        return {"src": str(self.src), "mac": self.mac, "from": round(self.start, 6), "to": round(self.end, 6),
                "seconds": round(self.end - self.start, 6), "adverts": self.adverts, "priority": self.priority,
                "priorities": [{"time": round(t, 6), "priority": p} for t, p in self.priorities],
                "interval": self.interval, "version": self.version, "ended_by": self.ended_by}  # fmt: skip


# Bounds whatever the link sends (watch and investigate -r are fed by anyone who can send): senders
# followed at once per VRID, and master runs kept per VRID (the oldest are forgotten first).
MAX_CURRENT = 32
MAX_RUNS = 512

@dataclass
class VridHistory:
    key: Key
    runs: list[Run] = field(default_factory=list)
    current: dict[IPAddress, Run] = field(default_factory=dict)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    handovers: list[dict[str, Any]] = field(default_factory=list)
    last_master_advert: float | None = None
    last_mdi: float = 0.0

    def overlaps(self) -> list[dict[str, Any]]:
        """Pairs of master runs of different senders that share more than one advert interval."""
        masters = [r for r in self.runs if r.master]
        out: list[dict[str, Any]] = []
        for i, a in enumerate(masters):
            for b in masters[i + 1 :]:
                if a.src == b.src:
                    continue
                start, end = max(a.start, b.start), min(a.end, b.end)
                if end - start > max(a.interval, b.interval):
                    first, second = sorted((a, b), key=lambda r: r.start)
                    out.append({"from": round(start, 6), "to": round(end, 6), "seconds": round(end - start, 6),
                                "masters": [{"src": str(r.src), "became_master": round(r.start, 6),
                                             "priority": r.priority} for r in (first, second)]})  # fmt: skip
        return sorted(out, key=lambda o: o["from"])


class Timeline:
    """The history of every VRID heard, one Sighting at a time; ``flags`` gathers gap/handover findings."""

    def __init__(self) -> None:
        self.vrids: dict[Key, VridHistory] = {}
        self.flags: list[Finding] = []
        self.start: float | None = None
        self.end: float | None = None

    def feed(self, s: Sighting) -> list[Finding]:
        if s.probe is not None or s.raw is None or not s.raw.present(FIELD_END["interval"]):
            return []
        t = s.time
        self.start = t if self.start is None else min(self.start, t)
        self.end = t if self.end is None else max(self.end, t)
        r = s.raw
        key = (s.ifname, s.family, r.vrid)
        hist = self.vrids.setdefault(key, VridHistory(key))
        run = hist.current.get(s.src)
        if run is not None and t - run.end > run.down_interval():
            run.ended_by = "silence"
            del hist.current[s.src]
            run = None
        new: list[Finding] = []
        if r.priority > 0:
            new += self._gap(hist, t, r.vrid, s)
        if run is None:
            run = Run(s.src, s.mac, t, t, r.priority, r.interval, r.version, priorities=[(t, r.priority)])
            if len(hist.current) >= MAX_CURRENT:  # spoofed senders: forget the one heard least recently
                stale = min(hist.current.values(), key=lambda x: x.end)
                stale.ended_by = "silence"
                del hist.current[stale.src]
            hist.runs.append(run)
            del hist.runs[:-MAX_RUNS]  # overlaps() compares runs pairwise: keep that bounded too
            hist.current[s.src] = run
        else:
            run.end, run.adverts = t, run.adverts + 1
            run.interval = r.interval or run.interval
            if r.priority != run.priority:
                run.priorities.append((t, r.priority))
            run.priority = r.priority
        if r.priority == 0:
            run.ended_by = "priority-0"
            del hist.current[s.src]
            new += self._handover(hist, run, t)
        self.flags += new
        return new

    def _gap(self, hist: VridHistory, t: float, vrid: int, s: Sighting) -> list[Finding]:
        last, mdi = hist.last_master_advert, hist.last_mdi
        interval = s.raw.interval if s.raw else 1.0
        hist.last_master_advert = t
        hist.last_mdi = master_down_interval(s.raw.version if s.raw else 3, interval or 1.0, 1)
        if last is None or t - last <= mdi:
            return []
        gap = {"from": round(last, 6), "to": round(t, 6), "seconds": round(t - last, 6),
               "master_down_interval": round(mdi, 6), "next_master": str(s.src)}  # fmt: skip
        hist.gaps.append(gap)
        return [Finding(F.MASTER_GAP, Severity.WARNING,
                        f"no master advertised VRID {vrid} for {t - last:.2f} s (Master_Down_Interval {mdi:.2f} s): "
                        f"the backups took over or nobody was master; {s.src} advertises again",
                        {"interface": hist.key[0], "vrid": vrid, **gap})]  # fmt: skip

    def _handover(self, hist: VridHistory, run: Run, t: float) -> list[Finding]:
        event = {"time": round(t, 6), "src": str(run.src), "master_since": round(run.start, 6)}
        hist.handovers.append(event)
        hist.last_master_advert = None  # a backup takes over after Skew_Time: not a gap
        return [Finding(F.HANDOVER, Severity.INFO,
                        f"{run.src} gave up mastership of VRID {hist.key[2]} (priority 0, it is stopping or "
                        "leaving MASTER): a backup takes over after Skew_Time",
                        {"interface": hist.key[0], "vrid": hist.key[2], **event})]  # fmt: skip

    def finish(self, end: float | None = None) -> list[Finding]:
        """Close every run at ``end`` (the capture's last timestamp): a master silent for longer than
        its Master_Down_Interval by then stopped; and no master at the end of the capture is a gap."""
        end = self.end if end is None else end
        new: list[Finding] = []
        if end is None:
            return new
        for hist in self.vrids.values():
            for src, run in list(hist.current.items()):
                if end - run.end > run.down_interval():
                    run.ended_by = "silence"
                    del hist.current[src]
            last = hist.last_master_advert
            if last is not None and end - last > hist.last_mdi and not hist.current:
                gap = {"from": round(last, 6), "to": round(end, 6), "seconds": round(end - last, 6),
                       "master_down_interval": round(hist.last_mdi, 6), "next_master": None}  # fmt: skip
                hist.gaps.append(gap)
                new.append(Finding(F.MASTER_GAP, Severity.WARNING,
                                   f"no master advertised VRID {hist.key[2]} for the last {end - last:.2f} s of the "
                                   "capture: the master stopped and no backup took over (or the capture lost them)",
                                   {"interface": hist.key[0], "vrid": hist.key[2], **gap}))  # fmt: skip
        self.flags += new
        return new

    def as_dict(self) -> dict[str, Any]:
        """The timeline as data: per VRID, each sender's runs (master periods), handovers, gaps, overlaps."""
        out = []
        for key in sorted(self.vrids):
            hist = self.vrids[key]
            out.append({
                "interface": key[0], "family": key[1], "vrid": key[2],
                "masters": [r.as_dict() for r in hist.runs if r.master],
                "releases": [r.as_dict() for r in hist.runs if not r.master],
                "handovers": hist.handovers,
                "gaps": hist.gaps,
                "overlaps": hist.overlaps(),
            })  # fmt: skip
        return {"start": self.start, "end": self.end, "vrids": out}
