"""Ruleset analysis: would this host's firewall drop an advert, or traffic to a VIP?

The nftables fixtures are real `nft -j list ruleset` output (each `.json` sits next to the `.nft`
text it was made from, in a scratch namespace); the iptables fixtures are iptables-save text as
RHEL and Debian hosts have it.
"""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from vrrpkit.diag import firewall as fw

FIX = Path(__file__).parent / "fixtures"
PEER = ip_address("192.0.2.1")
US = ip_address("192.0.2.2")
GROUP = ip_address("224.0.0.18")


def nft(name: str) -> fw.Ruleset:
    return fw.parse_nft_json((FIX / f"{name}.json").read_text())


def ipt(name: str, family: int = 4) -> fw.Ruleset:
    return fw.parse_iptables_save((FIX / f"{name}.txt").read_text(), family)


def advert_in(src: object = PEER, dst: object = GROUP, ct: str | None = "new") -> fw.Packet:
    return fw.vrrp_packet("in", "eth0", src, dst, ct)  # type: ignore[arg-type]


def advert_out(dst: object = GROUP) -> fw.Packet:
    return fw.vrrp_packet("out", "eth0", US, dst)  # type: ignore[arg-type]


def test_policy_drop_without_a_vrrp_accept_drops_multicast_adverts() -> None:
    blocks = fw.find_blocks([nft("policy-drop-no-vrrp")], advert_in())
    assert [(b.verdict, b.chain, b.certain) for b in blocks] == [("policy-drop", "input", True)]
    assert blocks[0].where == "table inet filter chain input"


def test_unicast_adverts_may_pass_as_established_the_catalogue_2643_trap() -> None:
    """Multicast adverts are always NEW to conntrack; unicast ones can be ESTABLISHED (replies)."""
    rs = nft("policy-drop-no-vrrp")
    assert fw.find_blocks([rs], advert_in(dst=US, ct="established")) == []
    unknown = fw.find_blocks([rs], advert_in(dst=US, ct=None))
    assert unknown and not unknown[0].certain and "ct state" in " ".join(unknown[0].uncertain_because)


def test_an_accept_for_vrrp_before_the_policy_lets_adverts_in() -> None:
    assert fw.find_blocks([nft("policy-drop-vrrp-accepted")], advert_in()) == []


def test_drop_in_a_jumped_to_chain_is_found_with_its_handle() -> None:
    rs = nft("drop-vrrp-in-jump")
    [block] = fw.find_blocks([rs], advert_in())
    where = (block.family, block.table, block.chain, block.base_chain, block.handle)
    assert where == ("ip", "fw", "from_lan", "input", 4)
    assert block.text == "ip daddr 224.0.0.0/4 ip protocol 112 drop"
    assert fw.find_blocks([rs], advert_in(dst=US)) == []  # unicast adverts are not in 224.0.0.0/4
    assert fw.find_blocks([rs], fw.vrrp_packet("in", "eth1", PEER, GROUP)) == []  # other interface: no jump
    assert fw.accept_rule_for(block, "eth0", "in") == (
        'nft insert rule ip fw from_lan position 4 iifname "eth0" meta l4proto 112 accept'
    )


def test_the_protocol_s_name_reads_as_its_number() -> None:
    """The fixtures are what nft prints on a minimal Debian (no /etc/protocols: 112); a host with
    netbase prints the name instead ("right": "vrrp" in the JSON), and the rule means the same."""
    for name in ("drop-vrrp-in-jump", "policy-drop-vrrp-accepted"):
        text = (FIX / f"{name}.json").read_text()
        assert '"right": 112' in text
        named = fw.parse_nft_json(text.replace('"right": 112', '"right": "vrrp"'))
        numbered = nft(name)
        found = [[(b.table, b.chain, b.handle, b.verdict, b.certain) for b in fw.find_blocks([rs], advert_in())]
                 for rs in (named, numbered)]  # fmt: skip
        assert found[0] == found[1]
    [block] = fw.find_blocks([fw.parse_nft_json((FIX / "drop-vrrp-out.json").read_text().replace(
        '"right": 112', '"right": "vrrp"'))], advert_out())  # fmt: skip
    assert (block.hook, block.certain) == ("output", True)


def test_output_drop_is_found_and_inbound_is_clean() -> None:
    rs = nft("drop-vrrp-out")
    [block] = fw.find_blocks([rs], advert_out())
    assert (block.hook, block.certain) == ("output", True)
    assert fw.find_blocks([rs], advert_in()) == []
    assert fw.accept_rule_for(block, "eth0", "out").startswith("nft insert rule inet filter output position ")


def test_ipv6_adverts_do_not_match_an_ip_protocol_rule() -> None:
    rs = nft("drop-vrrp-out")
    pkt = fw.vrrp_packet("out", "eth0", ip_address("fe80::1"), ip_address("ff02::12"))
    assert fw.find_blocks([rs], pkt) == []


def test_unknown_expressions_make_uncertain_blocks_not_certain_ones() -> None:
    blocks = fw.find_blocks([nft("unknown-match")], advert_in())
    assert blocks and all(not b.certain for b in blocks)
    assert any("meta mark" in b.text for b in blocks)


def test_keepalived_strict_table_drops_traffic_to_the_vip_only() -> None:
    rs = nft("keepalived-strict")
    [block] = fw.find_blocks([rs], fw.vip_packet("eth0", ip_address("192.0.2.100")))
    assert (block.table, block.chain, block.text) == ("keepalived", "in", "ip daddr @vips drop")
    assert fw.find_blocks([rs], fw.vip_packet("eth0", US)) == []
    assert fw.find_blocks([rs], advert_in()) == [] and fw.find_blocks([rs], advert_out()) == []


def test_vrrpkit_no_accept_table_never_looks_like_a_vrrp_drop() -> None:
    """Its ip6 concatenation rule cannot be evaluated, but it can only ever match IPv6."""
    rs = nft("vrrpkit-no-accept")
    assert fw.find_blocks([rs], advert_in()) == [] and fw.find_blocks([rs], advert_out()) == []
    [block] = fw.find_blocks([rs], fw.vip_packet("eth0", ip_address("192.0.2.100")))
    assert (block.table, block.handle, block.certain) == ("vrrpkit", 8, True)


def test_iptables_reject_at_the_end_of_input_rejects_adverts() -> None:
    rs = ipt("iptables-rhel-reject")
    [block] = fw.find_blocks([rs], advert_in())
    assert (block.source, block.verdict, block.position) == ("iptables", "reject", 5)
    assert fw.accept_rule_for(block, "eth0", "in") == "iptables -t filter -I INPUT 5 -i eth0 -p 112 -j ACCEPT"
    assert fw.find_blocks([rs], advert_in(ct="established")) == []


def test_iptables_accept_in_a_user_chain_and_return() -> None:
    rs = ipt("iptables-vrrp-accepted")
    assert fw.find_blocks([rs], advert_in()) == []
    [block] = fw.find_blocks([rs], advert_in(dst=US))  # only 224.0.0.18 is accepted: unicast hits the policy
    assert block.verdict == "policy-drop"


def test_iptables_output_drop_by_protocol_number() -> None:
    rs = ipt("iptables-out-drop")
    [block] = fw.find_blocks([rs], advert_out())
    assert block.text == "-A OUTPUT -o eth0 -p 112 -j DROP"
    assert fw.find_blocks([rs], fw.vrrp_packet("out", "eth1", US, GROUP)) == []


def test_ip6tables_negated_destination() -> None:
    rs = ipt("ip6tables-unicast-only", family=6)
    group6 = ip_address("ff02::12")
    [block] = fw.find_blocks([rs], fw.vrrp_packet("in", "eth0", ip_address("fe80::1"), group6))
    assert block.verdict == "policy-drop"
    assert fw.find_blocks([rs], fw.vrrp_packet("in", "eth0", ip_address("fe80::1"), ip_address("2001:db8::2"))) == []


def test_firewalld_gets_a_firewall_cmd_fix() -> None:
    block = fw.find_blocks([nft("policy-drop-no-vrrp")], advert_in())[0]
    fix = fw.accept_rule_for(block, "eth0", "in", firewalld=True)
    assert fix.startswith("firewall-cmd --permanent --add-rich-rule='rule protocol value=\"112\" accept'")


def test_fixes_name_protocol_112_by_number_and_vips_by_address() -> None:
    """No fix may need /etc/protocols (minimal images lack netbase): 112, never `vrrp`; a VIP fix
    matches the VIP's address in each tool's own syntax."""
    nft_block = fw.find_blocks([nft("policy-drop-no-vrrp")], advert_in())[0]
    ipt_block = fw.find_blocks([ipt("iptables-rhel-reject")], advert_in())[0]
    vip4, vip6 = ip_address("192.0.2.100"), ip_address("2001:db8::100")
    fixes = [fw.accept_rule_for(b, "eth0", d, fwd) for b in (nft_block, ipt_block) for d in ("in", "out")
             for fwd in (False, True)]  # fmt: skip
    assert all("vrrp" not in f for f in fixes) and all("112" in f for f in fixes)
    assert fw.accept_rule_for(nft_block, "eth0", "in", vip=vip4).endswith('iifname "eth0" ip daddr 192.0.2.100 accept')
    assert fw.accept_rule_for(nft_block, "eth0", "in", vip=vip6).endswith('ip6 daddr 2001:db8::100 accept')
    assert fw.accept_rule_for(ipt_block, "eth0", "in", vip=vip4).endswith("-i eth0 -d 192.0.2.100 -j ACCEPT")
    assert "destination address=\"192.0.2.100\"" in fw.accept_rule_for(ipt_block, "eth0", "in", True, vip=vip4)


@pytest.mark.parametrize("doc", ["", "{}", '{"nftables": [{"rule": {"family": "ip", "table": "x", "chain": "y"}}]}'])
def test_odd_documents_parse_to_empty_rulesets(doc: str) -> None:
    rs = fw.parse_nft_json(doc or "{}")
    assert fw.find_blocks([rs], advert_in()) == []


def test_jump_loops_are_bounded() -> None:
    doc = {"nftables": [
        {"chain": {"family": "ip", "table": "t", "name": "input", "hook": "input", "prio": 0, "policy": "accept",
                   "type": "filter"}},
        {"chain": {"family": "ip", "table": "t", "name": "a"}},
        {"rule": {"family": "ip", "table": "t", "chain": "input", "handle": 1, "expr": [{"jump": {"target": "a"}}]}},
        {"rule": {"family": "ip", "table": "t", "chain": "a", "handle": 2, "expr": [{"jump": {"target": "a"}}]}},
    ]}  # fmt: skip
    assert fw.find_blocks([fw.parse_nft_json(doc)], advert_in()) == []
