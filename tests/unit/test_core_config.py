"""InstanceConfig invariants and keepalived's strict-mode protocol effects."""

from __future__ import annotations

from ipaddress import ip_address, ip_interface

import pytest

from vrrpkit.core.config import InstanceConfig, UnicastPeer, Vip, apply_strict
from vrrpkit.core.packet import DropReason
from vrrpkit.core.stats import Stats


def make(**kw: object) -> InstanceConfig:
    base: dict[str, object] = {"name": "VI_1", "interface": "eth0", "vrid": 51}
    base.update(kw)
    return InstanceConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw",
    [
        {"vrid": 0},
        {"vrid": 256},
        {"priority": 0},
        {"priority": 256},
        {"advert_int_cs": 150},
        {"advert_int_cs": 0},
        {"version": 3, "advert_int_cs": 4096},
        {"auth_type": 3},
        {"auth_type": 2, "version": 3},  # AH is VRRPv2 over IPv4 only
        {"auth_type": 2, "vips": (Vip(ip_interface("2001:db8::1/64")),)},
        {"auth_pass": b"123456789"},
        {"version": 3, "vips": (Vip(ip_interface("192.0.2.1/24")), Vip(ip_interface("2001:db8::1/64")))},
    ],
)
def test_invalid_configs_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make(**kw)


def test_family_is_derived_from_vips_then_sources_then_peers() -> None:
    assert make().family == 4
    assert make(version=3, vips=(Vip(ip_interface("fe80::1/64")),)).is_ipv6
    assert make(version=3, unicast_src_ip=ip_address("2001:db8::1")).family == 6
    assert make(version=3, mcast_src_ip=ip_address("192.0.2.1")).family == 4
    peer6 = make(version=3, unicast_peers=(UnicastPeer(ip_address("2001:db8::2")),))
    assert peer6.is_ipv6 and peer6.unicast and peer6.group == ip_address("ff02::12")
    assert make().group == ip_address("224.0.0.18")


def test_accept_mode_defaults() -> None:
    assert make().accept_mode is True
    assert make(strict=True).accept_mode is False
    assert make(strict=True, priority=255).accept_mode is True
    assert make(strict=True, accept=True).accept_mode is True


def test_strict_mode_effects() -> None:
    plain = make(auth_type=1, auth_pass=b"x")
    assert apply_strict(plain) is plain
    strict = apply_strict(
        make(strict=True, auth_type=1, auth_pass=b"x", preempt_delay_cs=500, state="MASTER", priority=100)
    )
    assert (strict.auth_type, strict.auth_pass, strict.preempt_delay_cs) == (0, b"", 0)
    assert strict.lower_prio_no_advert and not strict.higher_prio_send_advert
    assert strict.garp_lower_prio_repeat == 0 and strict.state == "BACKUP"
    owner = apply_strict(make(strict=True, priority=255))
    assert owner.owner_ignore_adverts and owner.state == "MASTER"


def test_vip_rendering_and_stats() -> None:
    vip = Vip(ip_interface("192.0.2.99/24"), label="eth0:1")
    assert str(vip) == "192.0.2.99/24" and vip.address == ip_address("192.0.2.99")
    stats = Stats()
    stats.count_drop(DropReason.BAD_TTL)
    stats.count_drop(DropReason.OWN_ADVERT)
    assert stats.as_dict()["ip_ttl_err"] == 1
    assert stats.as_dict()["dropped"] == {"bad-ttl": 1, "own-advert": 1}
