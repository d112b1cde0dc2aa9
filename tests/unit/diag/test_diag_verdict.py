"""The verdict logic on hand-built facts: every cause, its evidence, its fix, and how sure we are.

Each test states what one host observed (the tap, its own socket, who answered ARP for the VIP,
ICMP, IGMP, the ruleset) and checks the verdict investigate would print. No I/O.
"""

from __future__ import annotations

from ipaddress import IPv4Address, ip_interface
from pathlib import Path

from vrrpkit.core.config import InstanceConfig, UnicastPeer, Vip
from vrrpkit.core.packet import Advertisement, encode
from vrrpkit.diag import findings as F
from vrrpkit.diag import firewall as fw
from vrrpkit.diag.decode import Sighting, sight
from vrrpkit.diag.facts import Facts, PeerFacts
from vrrpkit.diag.procfs import Daemon, IfaceInfo
from vrrpkit.diag.verdict import decide

FIX = Path(__file__).parent / "fixtures"
GROUP = IPv4Address("224.0.0.18")
US, PEER, OTHER = IPv4Address("192.0.2.2"), IPv4Address("192.0.2.1"), IPv4Address("192.0.2.3")
OUR_MAC, PEER_MAC, OTHER_MAC = "02:76:6b:00:00:02", "02:76:6b:00:00:01", "02:76:6b:00:00:03"
VIP = IPv4Address("192.0.2.100")
CONF = "/etc/keepalived/keepalived.conf"
KEEPALIVED = Daemon(42, "keepalived", "keepalived --vrrp")


def instance(**kw: object) -> InstanceConfig:
    base: dict[str, object] = {"name": "VI_1", "interface": "eth0", "vrid": 51, "priority": 100, "version": 3,
                               "advert_int_cs": 20, "vips": (Vip(ip_interface("192.0.2.100/24")),)}  # fmt: skip
    base.update(kw)
    return InstanceConfig(**base)  # type: ignore[arg-type]


def adverts(src: IPAddress, mac: str, n: int = 13, *, outgoing: bool = False, ttl: int = 255, vrid: int = 51,
            prio: int = 150, vips: tuple[IPv4Address, ...] = (VIP,), version: int = 3, interval: float = 0.2,
            auth: bytes = b"") -> list[Sighting]:  # fmt: skip
    adv = Advertisement(version, vrid, prio, vips, interval, 1 if auth else 0, auth)
    payload = encode(adv, src, GROUP)
    return [sight(src, GROUP, ttl, payload, time=100 + i * interval, mac=mac, outgoing=outgoing, ifname="eth0")
            for i in range(n)]  # fmt: skip


IPAddress = IPv4Address


def facts(cfg: InstanceConfig | None = None, **kw: object) -> Facts:
    f = Facts(
        instances=[cfg or instance()],
        config_files=[CONF],
        hostname="lb-2",
        ifaces={"eth0": IfaceInfo("eth0", True, 0x1043, "up", 1500, OUR_MAC, 0)},
        addresses={"eth0": ["192.0.2.2/24"]},
        joined={"eth0": {GROUP}},
        daemons=[KEEPALIVED],
        window=2.6,
    )
    for key, value in kw.items():
        setattr(f, key, value)
    return f


def peer(addr: IPAddress = PEER, mac: str | None = PEER_MAC, icmp: int = 3, source: str = "flag",
         **kw: object) -> dict[IPAddress, PeerFacts]:  # fmt: skip
    return {addr: PeerFacts(addr, source, icmp_sent=3, icmp_received=icmp, mac=mac, **kw)}  # type: ignore[arg-type]


def codes(report: F.Report) -> list[str]:
    return [f.code for f in report.findings if f.severity is F.Severity.ERROR]


def the(report: F.Report, code: str) -> F.Finding:
    return next(f for f in report.findings if f.code == code)


def nft(name: str) -> fw.Ruleset:
    return fw.parse_nft_json((FIX / f"{name}.json").read_text())


# --- healthy -------------------------------------------------------------------------------------


def test_healthy_master_proves_it_with_owners_adverts_peers_and_igmp() -> None:
    f = facts(vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True, prio=100), peers=peer(),
              igmp_queried={"eth0"}, igmp_reporters={"eth0": {PEER_MAC: PEER}}, vip_claims={VIP: set()})  # fmt: skip
    r = decide(f)
    assert (r.verdict, r.confidence, codes(r)) == ("healthy", F.Confidence.HIGH, [])
    assert any("only owner" in b for b in r.basis) and any("IGMP" in b for b in r.basis)


def test_healthy_backup_hears_the_one_master_on_its_socket() -> None:
    f = facts(sightings=adverts(PEER, PEER_MAC), socket_rx=[("eth0", PEER, 51)], vip_claims={VIP: {PEER_MAC}},
              peers=peer())  # fmt: skip
    r = decide(f)
    assert (r.verdict, r.confidence) == ("healthy", F.Confidence.HIGH)


def test_master_alone_with_no_known_peer_is_only_medium_sure() -> None:
    r = decide(facts(vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True)))
    assert (r.verdict, r.confidence) == ("healthy", F.Confidence.MEDIUM)


# --- the seed: multicast lost ---------------------------------------------------------------------


def test_cloud_multicast_blocked_with_convert_fix() -> None:
    f = facts(vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True, prio=100), peers=peer(),
              vip_claims={VIP: {PEER_MAC}}, igmp_queried={"eth0"}, igmp_reporters={})  # fmt: skip
    r = decide(f)
    assert (r.verdict, r.confidence) == ("multicast-blocked", F.Confidence.HIGH)
    assert codes(r) == ["multicast-blocked", "split-brain"]
    fix = the(r, "multicast-blocked").fix
    assert fix.startswith(f"vrrpkit convert --to-unicast -f {CONF} --peer 192.0.2.1 --src 192.0.2.2 -o {CONF}.unicast")
    assert "HaVip" in fix and "assign-private-ip-addresses" in fix
    assert any("answers ARP" in b for b in r.basis) and any("IGMP" in b for b in r.basis)


def test_cloud_without_peers_names_the_owner_from_the_arp_table_or_asks() -> None:
    base = {"vips_local": {VIP}, "sightings": adverts(US, OUR_MAC, outgoing=True), "vip_claims": {VIP: {PEER_MAC}}}
    r = decide(facts(**base, arp={PEER: PEER_MAC}))
    assert "--peer 192.0.2.1 " in the(r, "multicast-blocked").fix
    r = decide(facts(**base))
    assert r.verdict == "multicast-blocked" and r.confidence is F.Confidence.MEDIUM
    assert "--peer PEER_IP" in the(r, "multicast-blocked").fix


def test_owner_whose_igmp_arrives_but_not_its_adverts_is_adverts_lost() -> None:
    f = facts(vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True), peers=peer(),
              vip_claims={VIP: {PEER_MAC}}, igmp_queried={"eth0"},
              igmp_reporters={"eth0": {PEER_MAC: PEER}})  # fmt: skip
    r = decide(f)
    assert r.verdict == "adverts-lost" and "output" in the(r, "adverts-lost").fix


def test_split_brain_alone_when_the_other_masters_adverts_reach_us() -> None:
    """We hear it, it does not hear us: the cause is on its side; say so, do not guess."""
    both = adverts(US, OUR_MAC, outgoing=True, prio=150) + adverts(PEER, PEER_MAC, prio=100)
    f = facts(vips_local={VIP}, sightings=both,
              socket_rx=[("eth0", PEER, 51)], vip_claims={VIP: {PEER_MAC}}, peers=peer())  # fmt: skip
    r = decide(f)
    assert (r.verdict, codes(r)) == ("split-brain", ["split-brain"])
    assert "investigate` on 192.0.2.1" in the(r, "split-brain").fix


# --- the host's own firewall ------------------------------------------------------------------------


def test_inbound_drop_confirmed_by_tap_versus_socket() -> None:
    f = facts(vips_local={VIP}, sightings=adverts(PEER, PEER_MAC) + adverts(US, OUR_MAC, outgoing=True, prio=100),
              socket_rx=[], vip_claims={VIP: {PEER_MAC}}, peers=peer(),
              rulesets=[nft("policy-drop-no-vrrp")])  # fmt: skip
    r = decide(f)
    assert (r.verdict, r.confidence) == ("firewall-drops-vrrp", F.Confidence.HIGH)
    fd = the(r, "firewall-drops-vrrp")
    assert fd.evidence["direction"] == "in" and fd.evidence["rules"][0]["verdict"] == "policy-drop"
    assert fd.fix == 'nft insert rule inet filter input iifname "eth0" meta l4proto 112 accept'


def test_outbound_drop_confirmed_by_no_advert_leaving_while_master() -> None:
    f = facts(vips_local={VIP}, sightings=adverts(PEER, PEER_MAC, prio=100), socket_rx=[("eth0", PEER, 51)],
              vip_claims={VIP: {PEER_MAC}}, peers=peer(), rulesets=[nft("drop-vrrp-out")])  # fmt: skip
    r = decide(f)
    assert (r.verdict, r.confidence) == ("firewall-drops-vrrp", F.Confidence.HIGH)
    assert the(r, "firewall-drops-vrrp").evidence["direction"] == "out"


def test_rule_contradicted_by_traffic_is_only_a_warning() -> None:
    f = facts(sightings=adverts(PEER, PEER_MAC), socket_rx=[("eth0", PEER, 51)], vip_claims={VIP: {PEER_MAC}},
              peers=peer(), rulesets=[nft("policy-drop-no-vrrp")])  # fmt: skip
    r = decide(f)
    assert r.verdict == "healthy"
    assert the(r, "firewall-drops-vrrp").severity is F.Severity.WARNING


def test_rule_seen_but_no_traffic_yet_is_an_error_of_medium_confidence() -> None:
    f = facts(vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True), rulesets=[nft("policy-drop-no-vrrp")])
    r = decide(f)
    assert (r.verdict, r.confidence) == ("firewall-drops-vrrp", F.Confidence.MEDIUM)


def test_rp_filter_when_no_rule_explains_the_lost_adverts() -> None:
    off_link = IPv4Address("198.51.100.7")
    f = facts(sightings=adverts(off_link, PEER_MAC), socket_rx=[], vip_claims={VIP: {PEER_MAC}})
    f.ifaces["eth0"].rp_filter = 1
    r = decide(f)
    assert r.verdict == "rp-filter-drops-vrrp" and "rp_filter=2" in the(r, "rp-filter-drops-vrrp").fix
    f.ifaces["eth0"].rp_filter = 0
    assert decide(f).verdict == "host-drops-vrrp"


# --- what the adverts say ---------------------------------------------------------------------------


def test_ttl_rewritten_on_the_path() -> None:
    heard = [("eth0", PEER, 51)]  # the kernel delivers them: the TTL check is the daemon's
    r = decide(facts(sightings=adverts(PEER, PEER_MAC, ttl=64), socket_rx=heard, vip_claims={VIP: {PEER_MAC}}))
    assert r.verdict == "ttl-not-255" and the(r, "ttl-not-255").evidence["ttl"] == 64
    assert "vrrpkit convert --to-unicast" in the(r, "ttl-not-255").fix


def test_auth_and_interval_and_version_mismatch() -> None:
    cfg = instance(version=2, advert_int_cs=100, auth_type=1, auth_pass=b"secret2")
    heard = [("eth0", PEER, 51)]
    f = facts(cfg, sightings=adverts(PEER, PEER_MAC, version=2, interval=1.0, auth=b"secret1"), socket_rx=heard)
    r = decide(f)
    assert r.verdict == "auth-mismatch"
    assert '"secret1"' in the(r, "auth-mismatch").message and "authentication" in the(r, "auth-mismatch").fix
    f = facts(instance(version=2, advert_int_cs=200), sightings=adverts(PEER, PEER_MAC, version=2, interval=1.0),
              socket_rx=heard)
    r = decide(f)
    assert r.verdict == "interval-mismatch" and "advert_int" in the(r, "interval-mismatch").fix
    r = decide(facts(instance(version=2, advert_int_cs=100), sightings=adverts(PEER, PEER_MAC, version=3, interval=1.0),
                     socket_rx=heard))
    assert r.verdict == "version-mismatch"


def test_foreign_router_on_our_vrid() -> None:
    f = facts(vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True) +
              adverts(OTHER, OTHER_MAC, prio=200, vips=(IPv4Address("192.0.2.200"),)), peers=peer())  # fmt: skip
    r = decide(f)
    assert (r.verdict, r.confidence) == ("vrid-collision", F.Confidence.HIGH)
    c = the(r, "vrid-collision")
    assert c.evidence["their_vips"] == ["192.0.2.200"] and "`virtual_router_id 1`" in c.fix


# --- VIP traffic, peers, config, interface ------------------------------------------------------------


def test_strict_mode_table_blocks_the_vip_we_hold() -> None:
    f = facts(instance(strict=True), vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True),
              rulesets=[nft("keepalived-strict")])  # fmt: skip
    r = decide(f)
    assert (r.verdict, r.confidence) == ("strict-mode-blocks-vip", F.Confidence.HIGH)
    assert "`accept`" in the(r, "strict-mode-blocks-vip").fix


def test_strict_config_on_a_backup_is_a_warning() -> None:
    r = decide(facts(instance(strict=True), sightings=adverts(PEER, PEER_MAC), socket_rx=[("eth0", PEER, 51)],
                     vip_claims={VIP: {PEER_MAC}}))  # fmt: skip
    assert r.verdict == "healthy"
    assert the(r, "strict-mode-blocks-vip").severity is F.Severity.WARNING


def test_peer_down_and_peer_daemon_down() -> None:
    base = {"vips_local": {VIP}, "sightings": adverts(US, OUR_MAC, outgoing=True)}
    r = decide(facts(**base, peers=peer(icmp=0, mac=None)))
    assert (r.verdict, r.confidence) == ("peer-down", F.Confidence.HIGH)
    r = decide(facts(**base, peers=peer(proto_unreachable=True)))
    assert r.verdict == "peer-down" and "protocol unreachable" in the(r, "peer-down").message


def test_unicast_peers_from_the_config_are_checked_too() -> None:
    cfg = instance(unicast_src_ip=US, unicast_peers=(UnicastPeer(PEER),))
    r = decide(facts(cfg, vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True),
                     peers=peer(icmp=0, mac=None, source="config")))  # fmt: skip
    assert r.verdict == "peer-down"


def test_config_errors_and_missing_or_down_interfaces() -> None:
    diag = {"file": CONF, "line": 3, "column": 5, "severity": "error", "rule": "syntax", "message": "x",
            "text": f"{CONF}:3:5: error: x [syntax]"}  # fmt: skip
    r = decide(facts(diagnostics=[diag]))
    assert r.verdict == "config-error" and f"{CONF}:3:5" in the(r, "config-error").message
    f = facts()
    f.ifaces["eth0"] = IfaceInfo("eth0", False)
    assert decide(f).verdict == "config-error"
    f.ifaces["eth0"] = IfaceInfo("eth0", True, 0x1002, "down")
    assert decide(f).verdict == "interface-down"


def test_nobody_holds_the_vip() -> None:
    r = decide(facts(vip_claims={VIP: set()}))
    assert r.verdict == "no-master"


def test_daemon_without_the_group_joined() -> None:
    r = decide(facts(joined={"eth0": set()}, sightings=adverts(PEER, PEER_MAC), vip_claims={VIP: {PEER_MAC}}))
    assert "group-not-joined" in codes(r)


def test_leftover_vip_without_adverts() -> None:
    r = decide(facts(daemons=[], vips_local={VIP}))
    assert r.verdict == "adverts-not-sent" and "no VRRP daemon" in the(r, "adverts-not-sent").message


def test_report_shape() -> None:
    doc = decide(facts(vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True))).as_dict()
    assert set(doc) >= {"verdict", "confidence", "basis", "findings", "interfaces", "instances", "vip_owners", "peers"}
    assert set(doc["findings"][0]) == {"code", "severity", "message", "evidence", "fix", "confidence"}


def test_a_listed_peer_with_other_vips_is_config_drift_not_another_cluster() -> None:
    f = facts(vips_local={VIP}, sightings=adverts(US, OUR_MAC, outgoing=True) +
              adverts(PEER, PEER_MAC, prio=200, vips=(IPv4Address("192.0.2.200"),)), peers=peer())  # fmt: skip
    r = decide(f)
    assert r.verdict == "vrid-collision" and "configurations differ" in the(r, "vrid-collision").message
    assert "virtual_ipaddress" in the(r, "vrid-collision").fix
