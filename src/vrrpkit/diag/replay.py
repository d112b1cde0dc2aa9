"""``investigate -r FILE``: the facts a capture holds, for the same verdict rules as a live investigation.

A capture sent by a colleague says nothing about the host it was taken on (no firewall, no
addresses, no daemon): what it has is the adverts, with their times. So the Facts built here hold
the sightings (filed under the interface the configuration names, when one is given with -f),
the configuration if given, the capture's duration as the window, and its tally; the verdict rules
that need the host skip themselves (``Facts.capture`` is set), and the capture rules judge the
adverts over the whole file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import IO

from vrrpkit.diag.capture import CaptureError, CaptureReader
from vrrpkit.diag.facts import Facts
from vrrpkit.diag.findings import Report
from vrrpkit.diag.frames import Tally, decode_frames
from vrrpkit.diag.timeline import Timeline
from vrrpkit.diag.verdict import decide
from vrrpkit.diag.watch import VridTable

KEPT_SIGHTINGS = 2000  # Facts keep the first ones (who is who); the table and timeline see them all


class CaptureProblem(Exception):
    """Not a capture, or unreadable: the CLI prints it on one line and exits 2."""


def investigate_capture(
    stream: IO[bytes],
    name: str,
    files: list[str] | None = None,
    iface: str | None = None,
    config_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """The verdict from a capture stream (and a configuration, when ``files`` is given), in bounded
    memory: the VRID table and the timeline are fed frame by frame, the Facts keep a sample."""
    facts = Facts(hostname=f"capture {name}")
    if files:
        from vrrpkit.config import load_files

        parsed = load_files(files, config_id)
        facts.config_files = list(files)
        facts.instances = [c for c in parsed.instances if iface is None or c.interface == iface]
        facts.diagnostics = [{"file": d.file, "line": d.line, "column": d.column, "rule": d.rule, "message": d.message,
                              "severity": str(getattr(d.severity, "value", d.severity)), "text": str(d)}
                             for d in parsed.diagnostics]  # fmt: skip
    names = sorted({c.interface for c in facts.instances})
    ifname = iface or (names[0] if len(names) == 1 else "capture")
    try:
        reader = CaptureReader(stream)
    except CaptureError as exc:
        raise CaptureProblem(f"{name}: {exc}") from exc
    tally = Tally()
    table = VridTable(facts.instances)
    timeline = Timeline()
    for result in decode_frames(reader, tally):
        if progress is not None and result.frame.number % 4096 == 0:
            pos = reader.position()
            if pos is not None:
                progress(pos)
        if result.decoded is None:
            continue
        s = dataclasses.replace(result.decoded.sighting, ifname=ifname, time=result.frame.time)
        if s.probe is not None:
            continue
        table.feed(s)
        timeline.feed(s)
        if len(facts.sightings) < KEPT_SIGHTINGS:
            facts.sightings.append(s)
    timeline.finish(tally.last_time)
    facts.capture = {"file": name, "interface": ifname, **tally.as_dict()}
    facts.window = float(facts.capture["duration"])
    facts.notes += [f"the capture: {note}" for note in reader.notes]
    return decide(facts, table, timeline)
