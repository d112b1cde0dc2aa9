"""The lab switch's nft rules, checked to the character without root (vrrpkit.lab.faults is pure)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from vrrpkit.lab import Lab
from vrrpkit.lab.faults import fault_rules, table_script

Groups = Sequence[Sequence[str]]
PORTS = {"h1": "labh1", "h2": "labh2", "h3": "labh3", "h4": "labh4"}
FLUSH = [
    "flush chain bridge vrrpkit_lab_lab lab_cloud",
    "flush chain bridge vrrpkit_lab_lab lab_loss",
    "flush chain bridge vrrpkit_lab_lab lab_partition",
]


def lines(cloud: bool = False, loss: dict[str, int] | None = None, partition: Groups = ()) -> list[str]:
    script = fault_rules("vrrpkit_lab_lab", PORTS, cloud=cloud, loss=loss, partition=partition)
    assert script.endswith("\n")  # nft -f needs the last line terminated
    return script.splitlines()


def test_no_faults_only_empties_the_chains() -> None:
    assert lines() == FLUSH
    assert lines(cloud=False, loss={}, partition=[]) == FLUSH


def test_the_table_is_a_bridge_forward_hook_that_jumps_to_the_fault_chains_in_order() -> None:
    assert table_script("vrrpkit_lab_lab") == (
        "table bridge vrrpkit_lab_lab {\n"
        "  chain forward {\n"
        "    type filter hook forward priority 0; policy accept;\n"
        "    jump lab_partition\n"
        "    jump lab_loss\n"
        "    jump lab_cloud\n"
        "  }\n"
        "  chain lab_partition { }\n"
        "  chain lab_loss { }\n"
        "  chain lab_cloud { }\n"
        "}\n"
    )


def test_cloud_drops_ipv4_and_ipv6_multicast_but_lets_neighbour_discovery_through() -> None:
    t = "bridge vrrpkit_lab_lab"
    nd = "nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect"  # 133-137
    assert lines(cloud=True) == [
        *FLUSH,
        f'add rule {t} lab_cloud ip daddr 224.0.0.0/4 counter drop comment "cloud-ipv4"',
        f'add rule {t} lab_cloud ip6 daddr ff00::/8 icmpv6 type {{ {nd} }} counter accept comment "cloud-nd"',
        f'add rule {t} lab_cloud ip6 daddr ff00::/8 counter drop comment "cloud-ipv6"',
    ]


def test_loss_drops_a_percentage_each_way_per_host_sorted_by_host() -> None:
    t = "bridge vrrpkit_lab_lab"
    assert lines(loss={"h3": 5, "h1": 30}) == [
        *FLUSH,
        f'add rule {t} lab_loss iifname "labh1" numgen random mod 100 < 30 counter drop comment "loss-h1-in"',
        f'add rule {t} lab_loss oifname "labh1" numgen random mod 100 < 30 counter drop comment "loss-h1-out"',
        f'add rule {t} lab_loss iifname "labh3" numgen random mod 100 < 5 counter drop comment "loss-h3-in"',
        f'add rule {t} lab_loss oifname "labh3" numgen random mod 100 < 5 counter drop comment "loss-h3-out"',
    ]


def test_partition_cuts_every_pair_of_groups_both_ways_and_nothing_within_a_group() -> None:
    t = "bridge vrrpkit_lab_lab lab_partition"
    drop = 'counter drop comment "partition"'
    assert lines(partition=[["h1"], ["h2", "h3"], ["h4"]]) == [
        *FLUSH,
        f"add rule {t} iifname {{ labh1 }} oifname {{ labh2, labh3 }} {drop}",
        f"add rule {t} iifname {{ labh2, labh3 }} oifname {{ labh1 }} {drop}",
        f"add rule {t} iifname {{ labh1 }} oifname {{ labh4 }} {drop}",
        f"add rule {t} iifname {{ labh4 }} oifname {{ labh1 }} {drop}",
        f"add rule {t} iifname {{ labh2, labh3 }} oifname {{ labh4 }} {drop}",
        f"add rule {t} iifname {{ labh4 }} oifname {{ labh2, labh3 }} {drop}",
    ]


def test_all_faults_together_go_in_one_script_in_chain_order() -> None:
    got = lines(cloud=True, loss={"h2": 50}, partition=[["h1"], ["h3"]])
    chains = [line.split()[4] for line in got[3:]]
    assert chains == ["lab_cloud"] * 3 + ["lab_loss"] * 2 + ["lab_partition"] * 2


def test_a_host_without_a_port_is_an_error_not_a_silent_rule() -> None:
    with pytest.raises(KeyError):
        fault_rules("t", {"h1": "labh1"}, loss={"h9": 10})


def test_the_lab_hands_its_switch_ports_to_the_rules() -> None:
    lab = Lab(name="vk", hosts=2)  # not brought up: names only
    assert lab.topo.ports() == {"h1": "vkh1", "h2": "vkh2"}
    assert 'iifname "vkh2" numgen random mod 100 < 7' in fault_rules(lab.nft_table, lab.topo.ports(), loss={"h2": 7})


def test_a_drop_pattern_drops_the_same_vrrp_packets_each_way() -> None:
    """Deterministic loss for comparing two daemons: the n-th VRRP packet each way is dropped when
    n modulo DROP_PERIOD is in the pattern (sorted, without repeats); an empty pattern is no rule."""
    from vrrpkit.lab.faults import DROP_PERIOD

    t = "bridge vrrpkit_lab_lab"
    script = fault_rules("vrrpkit_lab_lab", PORTS, drops={"h1": [7, 3, 3], "h2": []})
    assert script.splitlines()[3:] == [
        f'add rule {t} lab_loss iifname "labh1" meta l4proto 112 numgen inc mod {DROP_PERIOD} {{ 3, 7 }} '
        'counter drop comment "drops-h1-in"',
        f'add rule {t} lab_loss oifname "labh1" meta l4proto 112 numgen inc mod {DROP_PERIOD} {{ 3, 7 }} '
        'counter drop comment "drops-h1-out"',
    ]
