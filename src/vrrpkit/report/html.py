"""The page shell and the small pieces every page uses: escaping, tables, times, durations.

Everything a page shows may come from a config file or the wire (instance names, script names,
interface names, addresses in adverts), so every value goes through `esc` on its way into text or an
attribute; the only unescaped strings are the markup written here. The style sheet is inline and
the page links nothing: it must render the same offline, in a terminal browser (tables and plain
text carry every fact the SVG shows) and in headless Chromium.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

# State colours, shared by the badges and the timeline bands (and named in the legend).
COLOURS = {
    "MASTER": "#2f9e44",
    "BACKUP": "#4a7fc1",
    "FAULT": "#d9480f",
    "INIT": "#adb5bd",
    "holds": "#2f9e44",
    "split": "#c92a2a",
    "gap": "#f08c00",
    "unknown": "#dee2e6",
}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
  color:#212529;background:#f8f9fa;font-size:14px}
header{background:#343a40;color:#f8f9fa;padding:10px 20px;display:flex;gap:24px;align-items:baseline;
  flex-wrap:wrap}
header h1{font-size:18px;margin:0}
header span{color:#ced4da}
main{padding:12px 20px 24px}
h2{font-size:15px;margin:20px 0 8px}
table{border-collapse:collapse;background:#fff;margin:4px 0 8px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{border:1px solid #dee2e6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#e9ecef;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.instances{width:100%}
.banner{padding:10px 14px;margin:10px 0;border-radius:4px;font-weight:600;color:#fff}
.banner.split-brain{background:#c92a2a}
.banner small{font-weight:400}
header small{font-weight:400;font-size:13px;color:#ced4da}
.banner.fault{background:#d9480f}
.banner.passed{background:#2f9e44}
.state{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px}
.state.MASTER{background:#2f9e44}.state.BACKUP{background:#4a7fc1}.state.FAULT{background:#d9480f}
.state.INIT{background:#868e96}
.bad{color:#c92a2a;font-weight:600}
.muted{color:#868e96}
.ok{color:#2f9e44}
ul.plain{margin:0;padding-left:16px}
svg{background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08);display:block;margin:4px 0 8px}
svg text{font-family:system-ui,"DejaVu Sans",sans-serif;font-size:12px;fill:#343a40}
pre{background:#fff;border:1px solid #dee2e6;padding:8px;margin:4px 0 8px;white-space:pre-wrap;word-break:break-word}
td pre{white-space:pre-wrap;word-break:break-word;border:0;padding:0;margin:0;background:none}
footer{padding:8px 20px;color:#868e96;font-size:12px}
"""


def esc(value: object) -> str:
    """Text for an element or a quoted attribute: `<`, `>`, `&` and both quotes escaped."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, refresh: int | None = None, header: str = "", footer: str = "") -> str:
    """One self-contained HTML document; `body`, `header` and `footer` are markup (already escaped)."""
    meta = f'<meta http-equiv="refresh" content="{int(refresh)}">\n' if refresh else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{meta}<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header>{header}</header>\n<main>\n{body}\n</main>\n"
        f"<footer>{footer}</footer>\n</body>\n</html>\n"
    )


@dataclass(frozen=True)
class Cell:
    """A table cell: markup (escaped already) and a class (`num` right-aligns a count)."""

    markup: str
    cls: str = ""


def num(value: object) -> Cell:
    return Cell(esc(value), "num")


def table(head: Sequence[str], rows: Iterable[Sequence[str | Cell]], *, cls: str = "",
          row_ids: Sequence[str] = ()) -> str:  # fmt: skip
    """A table whose cells are markup (escape values first); `head` is plain text."""
    out = [f'<table class="{esc(cls)}">' if cls else "<table>", "<tr>"]
    out += [f"<th>{esc(h)}</th>" for h in head]
    out.append("</tr>")
    for n, row in enumerate(rows):
        rid = f' id="{esc(row_ids[n])}"' if n < len(row_ids) else ""
        out.append(f"<tr{rid}>")
        for cell in row:
            if isinstance(cell, Cell):
                out.append(f'<td class="{esc(cell.cls)}">{cell.markup}</td>' if cell.cls else f"<td>{cell.markup}</td>")
            else:
                out.append(f"<td>{cell}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def state_badge(state: str) -> str:
    return f'<span class="state {esc(state)}">{esc(state)}</span>'


def clock(t: float, *, ms: bool = False) -> str:
    """Wall-clock time of day in the host's zone (what its logs say), optionally with milliseconds."""
    stamp = datetime.fromtimestamp(t)
    return stamp.strftime("%H:%M:%S") + (f".{stamp.microsecond // 1000:03d}" if ms else "")


def day_clock(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """3.2 s, 4 min 05 s, 2 h 03 min, 3 d 04 h: short, and exact to what a person reads."""
    s = max(0.0, seconds)
    if s < 60:
        return f"{s:.1f} s"
    whole = int(s)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600:02d} h"


def items(values: Iterable[str], empty: str = "-") -> str:
    """Escaped values one per line (a cell with several addresses), or a muted dash."""
    shown = [esc(v) for v in values]
    return "<br>".join(shown) if shown else f'<span class="muted">{esc(empty)}</span>'
