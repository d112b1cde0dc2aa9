"""The AH sessions of auth_type AH instances (core/ah.py), by instance name: what seals each advert
and opens each datagram, kept across reloads as keepalived keeps an instance's counter.

The daemon's side of keepalived's AH rules: an instance in FAULT or INIT ignores AH datagrams
without a word (nor does its counter move); a MASTER that accepts a lower priority sets its counter
one past the rival's before its answer is sealed; a rename keeps the session, a restart drops it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vrrpkit.core import effects as fx
from vrrpkit.core.ah import AhSession, ah_key
from vrrpkit.core.config import IPAddress
from vrrpkit.core.packet import AUTH_AH, DropReason
from vrrpkit.core.state import State
from vrrpkit.daemon.instance import Instance
from vrrpkit.daemon.routes import rekeyed


class AhSessions:
    def __init__(self) -> None:
        self.sessions: dict[str, AhSession] = {}

    def of(self, inst: Instance) -> AhSession:
        """The instance's session, made on first use, its key and mode kept to the config."""
        cfg = inst.cfg
        session = self.sessions.get(inst.name)
        if session is None:
            session = self.sessions[inst.name] = AhSession(cfg.auth_pass, cfg.unicast)
        elif session.key != ah_key(cfg.auth_pass) or session.unicast != cfg.unicast:
            session.configure(cfg.auth_pass, cfg.unicast)
        return session

    def seal(self, inst: Instance, effect: fx.SendAdvert) -> fx.SendAdvert:
        return self.of(inst).seal_next(effect)

    def open(self, inst: Instance, payload: bytes, src: IPAddress) -> bytes | None:
        """The VRRP message of a datagram from the AH socket, or None: refused (and said by the
        router), or for an instance in FAULT or INIT."""
        router = inst.router
        if router.state is State.FAULT or router.state is State.INIT:
            return None
        if inst.cfg.auth_type != AUTH_AH:  # a VRID an AH peer uses where we do not
            router.refused(DropReason.AUTH_TYPE_MISMATCH, src, "an AH packet, auth_type AH not configured")
            return None
        opened = self.of(inst).open(payload, src)
        if opened.message is None:
            assert opened.reason is not None
            router.refused(opened.reason, src, opened.detail)
        return opened.message

    def heard(self, inst: Instance, message: bytes, src: IPAddress, accepted_before: int) -> None:
        """After the router took an opened advert: keepalived's MASTER that accepts a lower priority
        sets its counter one past the rival's ('IPSEC-AH : Syncing seq_num', said with the 'lower
        priority' line), so that its answer, sealed next, is two past it."""
        router = inst.router
        if router.stats.advert_rcvd == accepted_before or router.state is not State.MASTER or len(message) < 3:
            return
        theirs = message[2]
        if theirs and src != router.address and not router.outranks_us(theirs, src):
            session = self.of(inst)
            session.synced(session.seq)

    def renamed(self, renamed: Mapping[str, str], gone: Iterable[str]) -> None:
        """A reload renamed instances in place (their sessions go with them) and stopped or
        restarted others (they start afresh, as keepalived starts them)."""
        self.sessions = rekeyed(self.sessions, renamed, gone)
