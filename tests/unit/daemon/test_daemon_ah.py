"""auth_type AH in the daemon (core/ah.py, io/ah_socket.py): its own protocol-51 socket, each advert
sealed with the next sequence number, each datagram opened by the instance's session first, and
what the session refuses counted and said as any dropped advert is (interop: tests/interop)."""

from __future__ import annotations

import logging
from ipaddress import IPv4Address, ip_address
from pathlib import Path

import pytest
from daemon_fakes import FakeOs, FakeRunner
from test_daemon_loop import drive, state, until

from vrrpkit.core.ah import AhSession, trailer
from vrrpkit.core.packet import AUTH_AH, Advertisement, encode
from vrrpkit.daemon.app import Daemon

CONF = """
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 255
    advert_int 1
    authentication {
        auth_type AH
        auth_pass secret12
    }
    virtual_ipaddress {
        192.0.2.99/24
    }
}
"""
PEER = IPv4Address("192.0.2.2")
GROUP = IPv4Address("224.0.0.18")


def peer_advert(session: AhSession, priority: int) -> bytes:
    """What a keepalived peer's AH socket hands over (core.ah.trailer) for its next advert."""
    message = encode(Advertisement(2, 51, priority, (ip_address("192.0.2.99"),), 1.0, auth_type=AUTH_AH), PEER, GROUP)
    sent = session.seal_round((_advert(message, priority),))[0]
    return trailer(sent.data)


def _advert(message: bytes, priority: int):  # type: ignore[no-untyped-def]
    from vrrpkit.core import effects as fx

    return fx.SendAdvert("peer", "eth0", PEER, GROUP, message, priority, 255)


def test_an_ah_instance_seals_its_adverts_and_opens_and_guards_what_it_hears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and bool(fake.sockets[("eth0", 51)].sent))
        assert ("eth0", 4) not in fake.sockets  # nothing on protocol 112: keepalived opens none either
        sock = fake.sockets[("eth0", 51)]
        listener = AhSession(b"secret12", False)  # a keepalived BACKUP hearing us
        for data, dst, _src in sock.sent:
            assert data[9] == 51 and dst == GROUP
            opened = listener.open(trailer(data), IPv4Address(data[12:16]))
            assert opened.reason is None and opened.message is not None and opened.message[4] == AUTH_AH
        assert listener.seq == len(sock.sent)  # one more per advert
        peer = AhSession(b"secret12", False)
        peer.seq = listener.seq  # it followed us, as a keepalived BACKUP does
        caplog.clear()
        lower = peer_advert(peer, 100)
        sock.deliver(lower, str(PEER))  # accepted (answered, not obeyed): our counter follows it
        router = d.instances["VI_1"].router
        await until(lambda: router.stats.advert_rcvd == 1 and "Syncing seq_num" in caplog.text)
        # keepalived's MASTER: '(VI_1) IPSEC-AH : Syncing seq_num - Increment seq', then its answer
        # two past the rival's number (measured: 12 heard, 14 sent)
        last = lambda: sock.sent[-1][0]  # noqa: E731
        await until(lambda: listener.open(trailer(last()), IPv4Address(last()[12:16])).reason is None)
        assert listener.seq == peer.seq + 2
        sock.deliver(lower, str(PEER))  # the same packet again
        await until(lambda: "ah-replayed" in caplog.text)
        assert "IPSEC-AH : sequence number" in caplog.text and router.stats.auth_failure == 1
        peer.seq = d.applier.ah.sessions["VI_1"].seq  # a keepalived peer learns our numbers as it hears us
        sock.deliver(peer_advert(peer, 100), "192.0.2.3")  # its SPI says 192.0.2.2
        await until(lambda: "bad-ah-spi" in caplog.text)
        wrong = AhSession(b"wrong", False)
        wrong.seq = peer.seq
        sock.deliver(peer_advert(wrong, 100), str(PEER))
        await until(lambda: "bad-ah-icv" in caplog.text)
        assert router.stats.auth_failure == 3 and router.stats.advert_rcvd == 1 and state(d) == "MASTER"

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, CONF, body)


def test_a_reload_keeps_a_renamed_instance_s_counter_and_a_fault_ignores_ah_datagrams(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """keepalived keeps the counter of an instance a reload keeps (a renamed one is kept in place):
    a fresh counter would send 1, which every peer drops as a replay. In FAULT, AH datagrams are
    ignored without a word, and the counter does not move."""
    from vrrpkit.config import load_string

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and len(fake.sockets[("eth0", 51)].sent) >= 2)
        session = d.applier.ah.sessions["VI_1"]
        assert d.apply_reload(load_string(CONF.replace("VI_1", "VI_9"), filename="keepalived.conf"))
        assert d.applier.ah.sessions == {"VI_9": session} and session.seq >= 2
        track = "    advert_int 1\n    track_interface {\n        eth1\n    }\n"
        tracked = CONF.replace("VI_1", "VI_9").replace("    advert_int 1\n", track)
        fake.netlink.interfaces["eth1"] = False
        assert d.apply_reload(load_string(tracked, filename="keepalived.conf"))
        await until(lambda: state(d, "VI_9") == "FAULT")
        seq, caplog_before = session.seq, len(caplog.records)
        wrong, right = AhSession(b"wrong", False), AhSession(b"secret12", False)
        right.seq = seq  # a good advert: it would move the counter, were it opened
        for peer in (wrong, right):
            fake.sockets[("eth0", 51)].deliver(peer_advert(peer, 100), str(PEER))
        await until(lambda: not fake.sockets[("eth0", 51)].inbox)
        assert session.seq == seq and not [r for r in caplog.records[caplog_before:] if "IPSEC" in r.getMessage()]
        assert d.instances["VI_9"].router.stats.auth_failure == 0

    caplog.set_level(logging.INFO, logger="vrrpkit")
    drive(tmp_path, CONF, body)


def test_a_reload_that_fails_while_building_gives_a_renamed_instance_its_counter_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vrrpkit.config import load_string

    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        await until(lambda: state(d) == "MASTER" and bool(fake.sockets[("eth0", 51)].sent))
        session = d.applier.ah.sessions["VI_1"]

        def no_room(*args: object, **kwargs: object) -> None:
            raise OSError(12, "Cannot allocate memory")

        monkeypatch.setattr(d, "_build", no_room)
        assert not d.apply_reload(load_string(CONF.replace("VI_1", "VI_9"), filename="keepalived.conf"))
        assert "VI_1" in d.instances and d.applier.ah.sessions == {"VI_1": session}

    drive(tmp_path, CONF, body)
