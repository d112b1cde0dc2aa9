"""The transition table against the RFC's state descriptions (RFC 5798 6.4, RFC 3768 6.4)."""

from __future__ import annotations

import pytest

from vrrpkit.core.state import TRANSITIONS, Event, IllegalTransition, State, mermaid, next_state

# What the RFC text says each state does, as (state, event) -> next state.
RFC_5798 = {
    # 6.4.1 Initialize: "If the Priority = 255 ... transition to the {Master} state" else "{Backup}"
    (State.INIT, Event.STARTUP_OWNER): State.MASTER,
    (State.INIT, Event.STARTUP): State.BACKUP,
    # 6.4.2 Backup: "If the Master_Down_Timer fires ... Transition to the {Master} state";
    # "If a Shutdown event is received ... Transition to the {Initialize} state"
    (State.BACKUP, Event.MASTER_DOWN): State.MASTER,
    (State.BACKUP, Event.SHUTDOWN): State.INIT,
    # 6.4.3 Master: "If the Priority in the ADVERTISEMENT is greater than the local Priority ...
    # Transition to the {Backup} state"; Shutdown -> {Initialize} after sending priority 0
    (State.MASTER, Event.HIGHER_PRIORITY): State.BACKUP,
    (State.MASTER, Event.SHUTDOWN): State.INIT,
}

# keepalived's additions: FAULT (interface down / failed weight-0 tracker), preempt_delay, sync groups,
# tracked routes.
KEEPALIVED = {
    (State.INIT, Event.FAULT): State.FAULT,
    (State.BACKUP, Event.FAULT): State.FAULT,
    (State.MASTER, Event.FAULT): State.FAULT,
    (State.FAULT, Event.RECOVERED): State.BACKUP,
    (State.FAULT, Event.SHUTDOWN): State.INIT,
    (State.BACKUP, Event.SYNC_MASTER): State.MASTER,
    (State.MASTER, Event.SYNC_BACKUP): State.BACKUP,
    (State.INIT, Event.SYNC_FAULT): State.FAULT,
    (State.BACKUP, Event.SYNC_FAULT): State.FAULT,
    (State.MASTER, Event.SYNC_FAULT): State.FAULT,
    # a tracked virtual route/rule deleted while MASTER: priority 0, BACKUP, re-election (measured, 2.2.7)
    (State.MASTER, Event.RESIGN): State.BACKUP,
}


def test_table_is_exactly_rfc_plus_keepalived() -> None:
    assert {**RFC_5798, **KEEPALIVED} == TRANSITIONS


def test_every_state_is_reachable_and_can_shut_down() -> None:
    reached = {State.INIT} | set(TRANSITIONS.values())
    assert reached == set(State)
    for state in (State.BACKUP, State.MASTER, State.FAULT):
        assert next_state(state, Event.SHUTDOWN) is State.INIT


def test_illegal_transition_is_a_local_error() -> None:
    with pytest.raises(IllegalTransition):
        next_state(State.INIT, Event.MASTER_DOWN)


def test_diagram_is_drawn_from_the_table() -> None:
    diagram = mermaid()
    assert diagram.startswith("stateDiagram-v2")
    assert diagram.count("-->") == len(TRANSITIONS)
