"""VirtualRouter with use_vmac and keepalived's long-tail options, literal times, no I/O.

Where each effect goes (the VMAC, the base interface, a VIP's own device), the periodic GARP of
garp_extra_if, and the options that change faults (dont_track_primary, track_src_ip,
unicast_fault_no_peer), the wire (unicast_ttl, checksum forms) or what is received (mcast_dst_ip).
"""

from __future__ import annotations

import struct
from ipaddress import ip_address, ip_interface

from vrrpkit.core import effects as fx
from vrrpkit.core.config import ChecksumCompat, InstanceConfig, UnicastPeer, Vip, VmacLink, rfc_vmac
from vrrpkit.core.packet import Advertisement, ChecksumForm, DropReason, checksum, encode, inspect
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State

ME = ip_address("192.0.2.1")
PEER = ip_address("192.0.2.2")
GROUP = ip_address("224.0.0.18")
VIP = Vip(ip_interface("192.0.2.99/24"))
VIP_ETH1 = Vip(ip_interface("198.51.100.99/24"), dev="eth1")
VMAC = VmacLink("vrrp.51", "eth0", 4, rfc_vmac(51, 4))


def cfg(**kw: object) -> InstanceConfig:
    base: dict[str, object] = {"name": "VI_1", "interface": "eth0", "vrid": 51, "vips": (VIP,)}
    base.update(kw)
    return InstanceConfig(**base)  # type: ignore[arg-type]


def master(**kw: object) -> tuple[VirtualRouter, list[fx.Effect]]:
    """An owner (priority 255) becomes MASTER at once on start(0)."""
    r = VirtualRouter(cfg(priority=255, state="MASTER", **kw), ME)
    r.start(0.0)
    return r, list(r.effects())


def of(effects: list[fx.Effect], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in effects if isinstance(e, kind)]


def v3(prio: int, src: object = PEER, dst: object = GROUP, **kw: object) -> bytes:
    adv = Advertisement(3, 51, prio, (VIP.address,), 1.0)
    return encode(adv, src, dst, **kw)  # type: ignore[arg-type]


# --- use_vmac: where adverts, VIPs and GARPs go --------------------------------------------------


def test_use_vmac_puts_adverts_vips_and_garps_on_the_vmac() -> None:
    _, effects = master(vmac=VMAC)
    assert {e.interface for e in of(effects, fx.SendAdvert)} == {"vrrp.51"}
    assert of(effects, fx.AddVips)[0].interface == "vrrp.51"
    assert [(g.interface, g.count) for g in of(effects, fx.SendGarp)] == [("vrrp.51", 5)]


def test_vmac_xmit_base_sends_adverts_from_the_base_interface_only() -> None:
    _, effects = master(vmac=VMAC, vmac_xmit_base=True)
    assert {e.interface for e in of(effects, fx.SendAdvert)} == {"eth0"}
    assert of(effects, fx.AddVips)[0].interface == "vrrp.51"
    assert of(effects, fx.SendGarp)[0].interface == "vrrp.51"


def test_garps_go_out_on_each_vips_own_interface() -> None:
    """keepalived sends a VIP's GARP where the VIP lives (its `dev`), not on the instance's interface."""
    _, effects = master(vips=(VIP, VIP_ETH1))
    assert [(g.interface, [str(v) for v in g.vips]) for g in of(effects, fx.SendGarp)] == [
        ("eth0", ["192.0.2.99/24"]), ("eth1", ["198.51.100.99/24"])]


def test_use_vmac_addr_links_carry_their_vips() -> None:
    link = VmacLink("vrrp1.51", "eth1", 4, rfc_vmac(51, 4))
    r, effects = master(vips=(VIP, VIP_ETH1), vmac=VMAC, vmac_addr_links=(link,))
    assert [g.interface for g in of(effects, fx.SendGarp)] == ["vrrp.51", "vrrp1.51"]
    assert r.config.device_of(VIP_ETH1) == "vrrp1.51"


def test_garp_extra_if_resends_one_garp_per_other_vmac_every_interval() -> None:
    link = VmacLink("vrrp1.51", "eth1", 4, rfc_vmac(51, 4))
    r, _ = master(vips=(VIP, VIP_ETH1), vmac=VMAC, vmac_addr_links=(link,), garp_extra_if_s=60,
                  garp_master_delay_cs=0)
    assert r.timers()["garp-extra-if"] == 60.0
    r.handle_timer(60.0)
    garps = of(list(r.effects()), fx.SendGarp)
    # the instance's own VMAC is kept fresh by the adverts it sends from it; only vrrp1.51 is not
    assert [(g.interface, g.count, len(g.vips)) for g in garps] == [("vrrp1.51", 1, 1)]
    assert r.timers()["garp-extra-if"] == 120.0


def test_garp_extra_if_with_xmit_base_includes_the_own_vmac_and_all_includes_plain_interfaces() -> None:
    r, _ = master(vips=(VIP, VIP_ETH1), vmac=VMAC, vmac_xmit_base=True, garp_extra_if_s=10,
                  garp_master_delay_cs=0)
    r.handle_timer(10.0)
    assert [g.interface for g in of(list(r.effects()), fx.SendGarp)] == ["vrrp.51"]
    r, _ = master(vips=(VIP, VIP_ETH1), garp_extra_if_s=10, garp_extra_if_all=True, garp_master_delay_cs=0)
    r.handle_timer(10.0)
    assert [g.interface for g in of(list(r.effects()), fx.SendGarp)] == ["eth1"]


def test_garp_extra_if_stops_when_leaving_master() -> None:
    r, _ = master(garp_extra_if_s=10, garp_extra_if_all=True, garp_master_delay_cs=0)
    r.shutdown(1.0)
    assert "garp-extra-if" not in r.timers()


# --- faults --------------------------------------------------------------------------------------


def test_dont_track_primary_ignores_the_own_link() -> None:
    r, _ = master(dont_track_primary=True)
    r.link_changed(False, 1.0)
    assert r.state is State.MASTER
    r, _ = master()
    r.link_changed(False, 1.0)
    assert r.state is State.FAULT and r.fault_reason == "interface eth0 down"


def test_vmac_fault_names_the_vmac() -> None:
    r, _ = master(vmac=VMAC)
    r.link_changed(False, 1.0)
    assert r.fault_reason == "interface vrrp.51 down"


def test_track_src_ip_faults_while_the_source_is_missing() -> None:
    r = VirtualRouter(cfg(unicast_src_ip=ME, unicast_peers=(UnicastPeer(PEER),), track_src_ip=True), None)
    r.start(0.0)
    assert r.state is State.BACKUP
    r.source_changed(False, 1.0)
    assert r.state is State.FAULT and "track_src_ip" in (r.fault_reason or "")
    r.source_changed(True, 2.0)
    assert r.state is State.BACKUP
    plain = VirtualRouter(cfg(unicast_src_ip=ME, unicast_peers=(UnicastPeer(PEER),)), None)
    plain.start(0.0)
    plain.source_changed(False, 1.0)
    assert plain.state is State.BACKUP


def test_unicast_fault_no_peer() -> None:
    r = VirtualRouter(cfg(unicast_fault_no_peer=True), ME)
    r.start(0.0)
    assert r.state is State.FAULT and r.fault_reason == "no unicast peers (unicast_fault_no_peer)"
    assert r.destinations() == ()


# --- the wire ------------------------------------------------------------------------------------


def test_unicast_ttl_sets_the_ttl_of_unicast_adverts_only() -> None:
    _, effects = master(unicast_peers=(UnicastPeer(PEER),), unicast_src_ip=ME, unicast_ttl=5)
    assert {e.ttl for e in of(effects, fx.SendAdvert)} == {5}
    _, effects = master()
    assert {e.ttl for e in of(effects, fx.SendAdvert)} == {255}


def test_mcast_dst_ip_sends_to_and_listens_on_its_group() -> None:
    other = ip_address("224.0.0.19")
    r, effects = master(version=3, mcast_group4=other)
    assert {e.dst for e in of(effects, fx.SendAdvert)} == {other}
    r.datagram_received(v3(100, dst=GROUP), PEER, GROUP, 255, 1.0)
    drops = of(list(r.effects()), fx.PacketDropped)
    assert [d.reason for d in drops] == [DropReason.WRONG_GROUP]
    assert r.stats.dropped == {}  # another group's traffic is not ours to count


def _form(data: bytes, dst: object) -> ChecksumForm:
    return inspect(data, ME, dst, GROUP).checksum_form  # type: ignore[arg-type]


def test_v3_checksum_as_v2_sends_no_pseudo_header_and_takes_any_checksum() -> None:
    r, effects = master(version=3, v3_checksum_as_v2=True)
    advert = of(effects, fx.SendAdvert)[0]
    assert checksum(advert.data) == 0 and _form(advert.data, GROUP) is ChecksumForm.NONE
    bad = bytearray(v3(100, src=ip_address("192.0.2.3")))
    bad[6:8] = b"\x12\x34"
    assert r.datagram_received(bytes(bad), ip_address("192.0.2.3"), GROUP, 255, 1.0) is not None


def test_old_unicast_checksum_always_auto_and_never() -> None:
    peers = {"unicast_peers": (UnicastPeer(PEER),), "unicast_src_ip": ME, "version": 3}
    _, effects = master(old_unicast_checksum=ChecksumCompat.ALWAYS, **peers)
    assert _form(of(effects, fx.SendAdvert)[0].data, PEER) is ChecksumForm.IPV4_PSEUDO_GROUP
    # AUTO: current form until a peer uses the old one, then the old one for good
    r, effects = master(**peers)
    assert _form(of(effects, fx.SendAdvert)[0].data, PEER) is ChecksumForm.IPV4_PSEUDO
    r.datagram_received(v3(100, dst=ME, form=ChecksumForm.IPV4_PSEUDO_GROUP), PEER, ME, 255, 1.0)
    after = list(r.effects())
    assert [m.kind for m in of(after, fx.Mismatch)] == [fx.MismatchKind.OLD_CHECKSUM]
    assert _form(of(after, fx.SendAdvert)[0].data, PEER) is ChecksumForm.IPV4_PSEUDO_GROUP
    # NEVER: the old form is a bad checksum
    r, _ = master(old_unicast_checksum=ChecksumCompat.NEVER, **peers)
    r.datagram_received(v3(100, dst=ME, form=ChecksumForm.IPV4_PSEUDO_GROUP), PEER, ME, 255, 1.0)
    assert [d.reason for d in of(list(r.effects()), fx.PacketDropped)] == [DropReason.BAD_CHECKSUM]


def test_no_virtual_ipaddress_sends_and_takes_v3_adverts_without_addresses() -> None:
    r, effects = master(version=3, vips=(), no_virtual_ipaddress=True)
    data = of(effects, fx.SendAdvert)[0].data
    assert struct.unpack("!B", data[3:4])[0] == 0  # count
    empty = encode(Advertisement(3, 51, 100, (), 1.0), PEER, GROUP, allow_empty=True)
    assert r.datagram_received(empty, PEER, GROUP, 255, 1.0) is not None
    plain, _ = master(version=3)
    assert plain.datagram_received(empty, PEER, GROUP, 255, 1.0) is None
