"""smtp_alert: keepalived's state-change mails, composed as 2.2.7 composes them, sent in the background.

What keepalived sends (vrrp_notify.c, smtp.c; the bytes measured against an SMTP server in a
namespace): one mail per state an instance or sync group enters (never twice the same state in a
row), to every `notification_email`, from `notification_email_from` (default `<user>@<hostname>`),
HELO `smtp_helo_name` (default the host name), subject `[<router_id>] VRRP Instance VI_1 - Entering
MASTER state` (`VRRP Group G - ...` for a group; router_id defaults to the host name), headers
Date/From/Subject/X-Mailer/To, and a one-line body. `no_email_faults` skips FAULT.

Sending never blocks the loop: each mail is a task bounded by `smtp_connect_timeout` per step. A
refused, silent or dead server is logged and counted, and the daemon goes on. keepalived's STOP
mail is queued and then lost when it exits; vrrpkit waits for pending mails for a few seconds at
stop so that mail arrives (docs/divergences.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import socket
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from vrrpkit.config.model import GlobalDefs
from vrrpkit.core.state import State
from vrrpkit.io.smtp import Mail, SmtpError, send_mail

log = logging.getLogger("vrrpkit")
SHUTDOWN_WAIT = 3.0  # seconds the daemon gives pending mails when it stops

_INSTANCE: dict[State, tuple[str, str]] = {
    State.MASTER: ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    State.BACKUP: ("Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    State.FAULT: ("Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    State.INIT: ("Stopping", "=> VRRP Instance stopping <="),
}
_GROUP: dict[State, tuple[str, str]] = {
    State.MASTER: ("Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="),
    State.BACKUP: ("Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="),
    State.FAULT: ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="),
    State.INIT: ("Stopping", "=> All VRRP group instances are now stopping <="),
}


def compose(g: GlobalDefs, kind: str, name: str, state: State, *, hostname: str, user: str,
            now: float) -> Mail | None:
    """The mail keepalived sends when instance/group `name` enters `state` (INIT = stopping), or None."""
    texts = (_INSTANCE if kind == "instance" else _GROUP).get(state)
    if texts is None or not g.notification_email:
        return None
    subject, body = texts
    router_id = g.router_id or hostname
    sender = g.notification_email_from or f"{user}@{hostname}"
    what = "VRRP Instance" if kind == "instance" else "VRRP Group"
    headers = [
        "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S %z", time.localtime(now)),
        f"From: {sender}",
        f"Subject: [{router_id}] {what} {name} - {subject}",
        "X-Mailer: Keepalived",
        "To: " + ", ".join(g.notification_email),
    ]
    return Mail(sender, g.notification_email, "\r\n".join(headers) + "\r\n\r\n" + body + "\r\n\r\n")


@dataclass
class MailStats:
    sent: int = 0
    failed: int = 0


Sender = Callable[[str, int, str, Mail, float], Coroutine[Any, Any, None]]


class Mailer:
    """Decides which transitions mail (smtp_alert, no_email_faults, no repeat) and sends them in the background."""

    def __init__(self, *, send: Sender = send_mail, wall_clock: Callable[[], float] = time.time) -> None:
        self.send = send
        self.wall_clock = wall_clock
        self.globals = GlobalDefs()
        self.enabled: dict[tuple[str, str], bool] = {}
        self.last: dict[tuple[str, str], State] = {}
        self.stats = MailStats()
        self.hostname = socket.gethostname()
        self.user = _user()
        self._tasks: set[asyncio.Task[None]] = set()

    def configure(self, g: GlobalDefs, instances: Mapping[str, bool], groups: Mapping[str, bool]) -> None:
        """Which instances and groups have smtp_alert on (already resolved against the globals)."""
        self.globals = g
        self.enabled = {("instance", n): on for n, on in instances.items()}
        self.enabled.update({("group", n): on for n, on in groups.items()})

    def changed(self, kind: str, name: str, state: State) -> None:
        """Instance or group `name` entered `state` (INIT: it stopped)."""
        key = (kind, name)
        g = self.globals
        if not self.enabled.get(key) or (g.no_email_faults and state is State.FAULT):
            return
        if self.last.get(key) is state:
            return
        self.last[key] = state
        if g.smtp_server is None:
            return
        mail = compose(g, kind, name, state, hostname=self.hostname, user=self.user, now=self.wall_clock())
        if mail is None:
            return
        host, port = g.smtp_server
        task = asyncio.get_running_loop().create_task(self._deliver(host, port, mail, g))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, host: str, port: int, mail: Mail, g: GlobalDefs) -> None:
        helo = g.smtp_helo_name or self.hostname
        subject = next((ln for ln in mail.data.split("\r\n") if ln.startswith("Subject: ")), "")[9:]
        try:
            await self.send(host, port, helo, mail, float(g.smtp_connect_timeout))
        except (SmtpError, OSError) as exc:
            self.stats.failed += 1
            log.warning("SMTP alert %r not sent to %s:%d: %s", subject, host, port, exc)
            return
        self.stats.sent += 1
        log.info("SMTP alert successfully sent: %s", subject)

    async def finish(self, timeout: float = SHUTDOWN_WAIT) -> None:
        """At stop: give pending mails (the Stopping ones above all) a bounded chance, then drop them."""
        pending = list(self._tasks)
        if not pending:
            return
        _done, late = await asyncio.wait(pending, timeout=timeout)
        if late:
            log.warning("%d SMTP alert(s) still waiting for the server at stop: dropped", len(late))
        for task in late:
            task.cancel()
            self.stats.failed += 1
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"
