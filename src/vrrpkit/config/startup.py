"""Whether keepalived 2.2.7 would run a configuration at all: `vrrpkit run` starts exactly when it would.

keepalived starts on most mistakes with a fallback (an unknown keyword is ignored, an invalid
priority becomes 100, an invalid VIP is skipped), and `load_string` already computes those
fallbacks. Run in a namespace on every config of tests/interop/corpus and on more broken files
(tests/interop/test_run_fallbacks.py), keepalived 2.2.7 exits with "permanent error CONFIG" (status
2) instead, for the whole daemon, when a keyword misses a parameter it cannot do without (it stops
reading the file there: `ParseResult.stopped_at`), or when any instance:

- has no valid virtual_router_id ("the virtual router id must be set");
- has no `interface` ("Unknown interface!");
- names an interface that does not exist: its own, a track_interface or a VIP's `dev`
  ("Non-existent interface specified in configuration"), unless global_defs has
  `dynamic_interfaces` (measured: then it starts, the instance in FAULT until the interface comes);
- has no virtual address while speaking VRRPv3 (IPv6 always does) or in strict mode
  ("No VIP specified; at least one is required");
- shares its VRID, family and interface with another instance ("VI_1 and VI_2 both use VRID 51").

A file without any vrrp_instance keeps keepalived running idle: that is not a refusal here (a
reload may empty the file), but `vrrpkit run` does not start on it, since there is nothing to run.
Pure: the host's interfaces come in as a function.
"""

from __future__ import annotations

from collections.abc import Callable

from vrrpkit.config.model import ParseResult
from vrrpkit.core.config import InstanceConfig, TrackKind


def interfaces_named(cfg: InstanceConfig) -> list[str]:
    """Every interface an instance names (its own, tracked ones, VIP devs), each once, in file order."""
    names = [cfg.interface]
    names += [t.name for t in cfg.tracks if t.kind is TrackKind.INTERFACE]
    names += [v.dev for v in cfg.vips + cfg.excluded_vips if v.dev]
    return list(dict.fromkeys(names))


def refusals(result: ParseResult, interface_exists: Callable[[str], bool] | None = None) -> list[str]:
    """Why keepalived 2.2.7 would not run this configuration (empty: it would), with file:line.

    `interface_exists` checks the host; None skips the host checks (offline)."""
    out = []
    if result.stopped_at is not None:
        at = result.stopped_at
        out.append(f"{at.file}:{at.line}:{at.column}: a keyword without its parameter: keepalived stops reading "
                   "the file here and exits")  # fmt: skip
    out += [f"{d.file}:{d.line}:{d.column}: {d.message}" for d in result.diagnostics if d.rule == "vrid-missing"]
    seen: dict[tuple[str, int, int], str] = {}
    for cfg in result.instances:
        where = _where(result, cfg.name)
        if not cfg.interface:
            out.append(f"{where}: vrrp_instance {cfg.name} has no interface (keepalived 2.2.7: 'Unknown interface!')")
        elif interface_exists is not None and not result.globals.dynamic_interfaces:
            missing = [n for n in interfaces_named(cfg) if not interface_exists(n)]
            if missing:
                out.append(f"{where}: vrrp_instance {cfg.name}: interface {', '.join(missing)} does not exist "
                           "(keepalived: 'Non-existent interface specified in configuration')")  # fmt: skip
        if not cfg.vips and (cfg.version == 3 or cfg.strict):
            why = "strict mode" if cfg.strict else "VRRPv3"
            out.append(f"{where}: vrrp_instance {cfg.name} has no virtual address, which {why} requires "
                       "(keepalived: 'No VIP specified; at least one is required')")  # fmt: skip
        key = (cfg.interface, cfg.family, cfg.vrid)
        if key in seen:
            out.append(f"{where}: {seen[key]} and {cfg.name} both use VRID {cfg.vrid} with IPv{cfg.family} on "
                       f"interface {cfg.interface}")  # fmt: skip
        seen.setdefault(key, cfg.name)
    return out


def _where(result: ParseResult, name: str) -> str:
    src = result.sources.get(name)
    return f"{src.file}:{src.line}:{src.column}" if src is not None else name
