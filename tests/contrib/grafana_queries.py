"""The Grafana dashboard's queries and the metric names they read, for the tests that check them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "contrib" / "grafana" / "vrrpkit-dashboard.json"
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
# what Grafana substitutes before a query reaches Prometheus
VARIABLES = {"$__rate_interval": "1m", "$job": "vrrpkit", "$instance": ".*"}


def queries(doc: dict[str, Any] | None = None) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and templating queries."""
    doc = doc if doc is not None else json.loads(DASHBOARD.read_text())
    found = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    for var in doc["templating"]["list"]:
        query = var.get("query")
        text = query.get("query") if isinstance(query, dict) else None
        if text:
            found.append(text)
    return found


def substituted(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression (or Grafana's label_values(METRIC, LABEL)) reads."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, regexes)
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # range selectors
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"(?<![\w:])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", " ", e)  # numbers
    label_values = re.match(r"\s*label_values\(\s*([A-Za-z_:][\w:]*)", e)
    if label_values:
        return {label_values.group(1)}
    names = set()
    for m in re.finditer(r"[A-Za-z_:][\w:]*", e):
        if e[m.end() :].lstrip().startswith("(") or m.group(0) in KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(m.group(0))
    return names


def exposition_names(text: str) -> set[str]:
    """The names a /metrics text makes queryable: every sample's, and every declared family's (a
    family with no sample yet, e.g. drops before the first drop; a counter as NAME_total)."""
    names = {m.group(1) for m in re.finditer(r"^([A-Za-z_:][\w:]*)(?:\{| )", text, re.MULTILINE)}
    for m in re.finditer(r"^# TYPE ([A-Za-z_:][\w:]*) (\w+)", text, re.MULTILINE):
        name, kind = m.groups()
        names.add(name + "_total" if kind == "counter" and not name.endswith("_total") else name)
    return names
