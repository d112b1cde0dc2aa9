"""Every command of one configuration, resolved and checked once, as keepalived does at each (re)load.

keepalived decides at start-up and at every reload which commands it will run, as whom, and which
it disables (``io.scripts``). A disabled vrrp_script is also taken off the instances that track
it ("Disabling track script X since not found/accessible"), so that it neither fails them nor holds
them waiting: measured with keepalived 2.2.7, an instance tracking only disabled scripts becomes
MASTER. A disabled notify command is simply never run. Nothing here runs a process; the daemon
builds a ``ScriptSet`` together with reading the files, off the loop on reload.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from vrrpkit.config.model import ParseResult
from vrrpkit.core.config import TrackKind
from vrrpkit.io.scripts import DefaultUser, Lookup, Script, default_user, lookup_user, script_for

NotifyKey = tuple[str, str, str]  # ("instance" | "group", name, event)


@dataclass(frozen=True)
class ScriptSet:
    track: Mapping[str, Script] = field(default_factory=dict)  # vrrp_script name -> resolved
    notify: Mapping[NotifyKey, Script] = field(default_factory=dict)
    log: tuple[tuple[int, str], ...] = ()  # (logging level, keepalived's line), in keepalived's order

    @property
    def removed(self) -> frozenset[str]:
        """The vrrp_scripts keepalived takes off every tracker."""
        return frozenset(name for name, s in self.track.items() if not s.runnable)

    def notify_of(self, kind: str, owner: str) -> dict[str, Script]:
        """event -> the command to run, for one instance ("instance") or sync group ("group")."""
        return {e: s for (k, o, e), s in self.notify.items() if k == kind and o == owner and s.runnable}

    def fifo_scripts(self) -> dict[str, Script]:
        """notify_fifo / vrrp_notify_fifo -> its `_script`, when it may run."""
        return {o: s for (k, o, _e), s in self.notify.items() if k == "fifo" and s.runnable}

    def apply(self, result: ParseResult) -> ParseResult:
        """The configuration as keepalived runs it: no tracker of a removed script."""
        gone = self.removed
        if not gone:
            return result
        instances = tuple(
            dataclasses.replace(
                cfg, tracks=tuple(t for t in cfg.tracks if not (t.kind is TrackKind.SCRIPT and t.name in gone))
            )
            for cfg in result.instances
        )
        return dataclasses.replace(result, instances=instances)


def resolve_scripts(result: ParseResult, *, lookup: Lookup = lookup_user, path_env: str | None = None) -> ScriptSet:
    """Resolve every vrrp_script and notify command of ``result`` (``ParseResult.script_uses``)."""
    g = result.globals
    security = g.enable_script_security
    uses = result.script_uses()
    log: list[tuple[int, str]] = []
    # keepalived 2.2.7 looks up a script_user written in global_defs as it parses, but its default
    # user (keepalived_script) only when a script is configured: without one it says nothing
    # about users (measured), and the user database (NSS modules) is never loaded.
    default = DefaultUser(None)
    if uses or g.script_user:
        default = default_user(g.script_user, g.script_group, security, lookup)
        if default.message is not None:
            log.append((logging.WARNING if default.user is None else logging.INFO, default.message))
    track: dict[str, Script] = {}
    notify: dict[NotifyKey, Script] = {}
    for use in uses:
        script = script_for(use.command, use.user, default, kind=use.kind, name=use.owner, security=security,
                            lookup=lookup, path_env=path_env)  # fmt: skip
        if use.kind == "vrrp_script":
            track[use.owner] = script
        else:
            notify[use.key] = script
        for note in script.notes:
            log.append((logging.WARNING, note))
        if script.disabled is not None:
            log.append((logging.WARNING, script.disabled))
            if use.kind == "vrrp_script" and script.refusal in ("not-found", "insecure", "wrong-type"):
                why = "due to insecure" if script.refusal != "not-found" else "since not found/accessible"
                log.append((logging.WARNING, f"Disabling track script {use.owner} {why}"))
    ran = [s for s in (*track.values(), *notify.values()) if s.runnable]
    if ran and not security:
        insecure = " There are insecure scripts." if any(s.insecure for s in ran) else ""
        log.append((logging.WARNING, f"SECURITY VIOLATION - scripts are being executed but script_security "
                    f"not enabled.{insecure}"))  # fmt: skip
    return ScriptSet(track, notify, tuple(log))
