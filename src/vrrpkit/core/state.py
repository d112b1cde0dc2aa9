"""The VRRP state machine's transitions, held as data.

RFC 5798 section 6.4 (RFC 3768 6.4 for v2) names three states; keepalived adds FAULT (an instance
whose interface is down or whose weight-0 tracker fails holds no VIP and sends nothing). Every
transition the router can make is a row below; the router refuses any other, so a missing row is a
bug caught by tests rather than a silent odd state. The table also draws the docs' diagram.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"


class Event(StrEnum):
    STARTUP = "startup"  # Initialize, priority != 255: Backup (RFC 5798 6.4.1)
    STARTUP_OWNER = "startup as address owner"  # Initialize, priority == 255: Master
    MASTER_DOWN = "master down timer expired"  # Backup 6.4.2
    HIGHER_PRIORITY = "received higher priority advertisement"  # Master 6.4.3
    RESIGN = "a tracked virtual route or rule was deleted"  # keepalived: give up, then re-elect
    SHUTDOWN = "shutdown"  # 6.4.2 / 6.4.3 Shutdown event
    FAULT = "fault"  # keepalived: interface down, tracker failed, no source address
    RECOVERED = "fault cleared"
    SYNC_MASTER = "sync group member became master"
    SYNC_BACKUP = "sync group member became backup"
    SYNC_FAULT = "sync group member entered fault"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.INIT, Event.STARTUP): State.BACKUP,
    (State.INIT, Event.STARTUP_OWNER): State.MASTER,
    (State.INIT, Event.FAULT): State.FAULT,
    (State.INIT, Event.SYNC_FAULT): State.FAULT,
    (State.BACKUP, Event.MASTER_DOWN): State.MASTER,
    (State.BACKUP, Event.SYNC_MASTER): State.MASTER,
    (State.BACKUP, Event.FAULT): State.FAULT,
    (State.BACKUP, Event.SYNC_FAULT): State.FAULT,
    (State.BACKUP, Event.SHUTDOWN): State.INIT,
    (State.MASTER, Event.HIGHER_PRIORITY): State.BACKUP,
    (State.MASTER, Event.RESIGN): State.BACKUP,
    (State.MASTER, Event.SYNC_BACKUP): State.BACKUP,
    (State.MASTER, Event.FAULT): State.FAULT,
    (State.MASTER, Event.SYNC_FAULT): State.FAULT,
    (State.MASTER, Event.SHUTDOWN): State.INIT,
    (State.FAULT, Event.RECOVERED): State.BACKUP,
    (State.FAULT, Event.SHUTDOWN): State.INIT,
}


class IllegalTransition(RuntimeError):
    """A local error: the router was asked for a transition the table does not hold."""


def next_state(state: State, event: Event) -> State:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"no transition from {state.value} on {event.value!r}") from None


def mermaid() -> str:
    """The state diagram for the docs, drawn from the table so the two cannot disagree."""
    lines = ["stateDiagram-v2"]
    for (src, event), dst in TRANSITIONS.items():
        lines.append(f"    {src.value} --> {dst.value}: {event.value}")
    return "\n".join(lines)
