"""Make the capture corpus in this directory (README.md says what each file is).

    sudo .venv/bin/python tests/data/captures/make_captures.py          # everything (root: the lab part)
    .venv/bin/python tests/data/captures/make_captures.py --derived     # only the files made from others

The lab part runs keepalived 2.2.7 in network namespaces and captures what it sends with tcpdump
(on eth0, and on "any" for a Linux cooked capture); the derived part rewrites those frames with
scapy (VLAN tags, snap-length cuts, pcapng, several sections) and crafts what keepalived never sends
(a Cisco-style VRRPv3 checksum, fragments, broken messages). Not run by the tests: the files are
checked in, so the oracle test needs neither root nor a lab.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def conf(router: str, prio: int, instances: list[str]) -> str:
    return f"global_defs {{\n    router_id {router}\n}}\n" + "\n".join(instances)


def instance(name: str, vrid: int, prio: int, *, version: int, advert: str, vips: list[str], iface: str = "eth0",
             password: str | None = None, family6: bool = False) -> str:  # fmt: skip
    lines = [f"vrrp_instance {name} {{", "    state BACKUP", f"    interface {iface}", f"    virtual_router_id {vrid}",
             f"    priority {prio}", f"    advert_int {advert}", f"    version {version}"]  # fmt: skip
    if password:
        lines += ["    authentication {", "        auth_type PASS", f"        auth_pass {password}", "    }"]
    lines += ["    virtual_ipaddress {"] + [f"        {v}" for v in vips] + ["    }", "}"]
    return "\n".join(lines) + "\n"


def lab_captures() -> None:
    sys.path.insert(0, str(HERE.parents[2] / "src"))
    from vrrpkit.lab import Lab, wait_until

    def both(prio: int, password: str) -> str:
        return conf(f"r{prio}", prio, [
            instance("V2", 42, prio, version=2, advert="1", vips=["192.0.2.100/24"], password=password),
            instance("V3", 43, prio, version=3, advert="0.5", vips=["192.0.2.101/24"]),
            instance("V6", 44, prio, version=3, advert="0.5", vips=["fe80::44/64", "2001:db8::44/64"]),
        ])  # fmt: skip

    with Lab(name="capmk", hosts=2, ipv6=True, workdir=HERE / ".work" / "kinds") as lab:
        # keepalived's three kinds of advert, captured on eth0 and on "any" (Linux cooked v2)
        cap = lab.start_capture("h2")
        anyp = HERE / ".work" / "kinds" / "any.pcap"
        argv = ["tcpdump", "-i", "any", "-n", "-U", "-w", str(anyp), "ip proto 112 or ip6 proto 112"]
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        anyproc = lab.popen("h2", argv, **quiet)
        time.sleep(1.0)
        lab.run_keepalived("h1", both(150, "secret1"))
        lab.run_keepalived("h2", both(100, "secret1"))
        wait_until(lambda: lab.vip_holders("192.0.2.101") == {"h1"} or None, 15)
        time.sleep(3.0)
        shutil.copy(cap.stop(), HERE / "keepalived-v2-v3-v6.pcap")
        anyproc.terminate()
        anyproc.wait(5)
        shutil.copy(anyp, HERE / "keepalived-any-sll2.pcap")
        for host in lab.hosts:
            lab.fault_kill(host)

    for name, firewall in (("healthy", False), ("split-brain", True)):
        with Lab(name="capmk", hosts=2, ipv6=False, workdir=HERE / ".work" / name) as lab:
            if firewall:  # h2 drops what arrives: it takes over while h1 keeps advertising (both masters)
                lab.exec("h2", ["nft", "-f", "-"], input="table inet filter {\n chain input {\n type filter hook input "
                         "priority 0; policy accept;\n  ip protocol 112 drop\n }\n}\n")  # fmt: skip
            cap = lab.start_capture("h2")
            time.sleep(0.5)
            lab.run_keepalived("h1", conf("h1", 150, [instance("VI_1", 51, 150, version=3, advert="0.2",
                                                                vips=["192.0.2.100/24"])]))  # fmt: skip
            time.sleep(1.5)
            lab.run_keepalived("h2", conf("h2", 100, [instance("VI_1", 51, 100, version=3, advert="0.2",
                                                                vips=["192.0.2.100/24"])]))  # fmt: skip
            time.sleep(3.0)
            shutil.copy(cap.stop(), HERE / f"lab-{name}.pcap")
    ah_capture()
    if "--keep" not in sys.argv:
        shutil.rmtree(HERE / ".work", ignore_errors=True)


def ah_capture() -> None:
    """keepalived's auth_type AH (VRRPv2 in IP protocol 51): h1 then h2 start, h1 masters."""
    sys.path.insert(0, str(HERE.parents[2] / "src"))
    from vrrpkit.lab import Lab

    def ah(prio: int) -> str:
        text = instance("VI_1", 51, prio, version=2, advert="1", vips=["192.0.2.100/24"], password="secret12")
        return conf(f"r{prio}", prio, [text.replace("auth_type PASS", "auth_type AH")])

    with Lab(name="capmk", hosts=2, ipv6=False, workdir=HERE / ".work" / "ah") as lab:
        cap = lab.start_capture("h2", "ip proto 51")
        time.sleep(0.5)
        lab.run_keepalived("h1", ah(150))
        time.sleep(4.5)  # h1 takes over (Master_Down_Interval 3.4 s)
        lab.run_keepalived("h2", ah(100))
        time.sleep(4.0)
        shutil.copy(cap.stop(), HERE / "keepalived-ah.pcap")


def derived() -> None:
    from scapy.all import IP, Dot1AD, Dot1Q, Ether, IPv6, PcapNgWriter, PcapWriter, Raw, fragment, rdpcap, wrpcap
    from scapy.layers.inet6 import ICMPv6EchoRequest
    from scapy.layers.vrrp import VRRPv3

    base = rdpcap(str(HERE / "keepalived-v2-v3-v6.pcap"))
    eth = [p for p in base if Ether in p][:12]
    # 802.1Q and 802.1ad (QinQ) tagged copies
    tagged, qinq = [], []
    for p in eth:
        inner = p[Ether].payload
        t = Ether(src=p.src, dst=p.dst) / Dot1Q(vlan=10, prio=6) / inner.copy()
        q = Ether(src=p.src, dst=p.dst) / Dot1AD(vlan=100) / Dot1Q(vlan=20) / inner.copy()
        t.time = q.time = p.time
        tagged.append(t)
        qinq.append(q)
    wrpcap(str(HERE / "keepalived-vlan-8021q.pcap"), tagged)
    wrpcap(str(HERE / "keepalived-qinq-8021ad.pcap"), qinq)
    # snap-length cuts: inside the IPv4 addresses / auth data, inside the VRRP header, inside IPv6
    for snap in (44, 50, 60, 70):
        subprocess.run(["editcap", "-s", str(snap), str(HERE / "keepalived-v2-v3-v6.pcap"),
                        str(HERE / f"keepalived-snap{snap}.pcap")], check=True, capture_output=True)  # fmt: skip
    # pcapng copies, nanosecond pcap, and one pcapng of two sections with different link types
    subprocess.run(["editcap", "-F", "pcapng", str(HERE / "keepalived-vlan-8021q.pcap"), str(HERE / ".a.pcapng")],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["editcap", "-F", "pcapng", str(HERE / "keepalived-any-sll2.pcap"), str(HERE / ".b.pcapng")],
                   check=True, capture_output=True)  # fmt: skip
    (HERE / "two-sections-ether-sll2.pcapng").write_bytes((HERE / ".a.pcapng").read_bytes()
                                                           + (HERE / ".b.pcapng").read_bytes())  # fmt: skip
    (HERE / ".a.pcapng").unlink()
    (HERE / ".b.pcapng").unlink()
    subprocess.run(["editcap", "-F", "pcapng", str(HERE / "lab-split-brain.pcap"),
                    str(HERE / "lab-split-brain.pcapng")], check=True, capture_output=True)  # fmt: skip
    w = PcapWriter(str(HERE / "keepalived-nanoseconds.pcap"), nano=True)
    for p in eth[:6]:
        w.write(p)
    w.close()
    # crafted: what keepalived does not send
    mac, group = "02:00:5e:10:00:01", "01:00:5e:00:00:12"
    t0 = 1700000000.0

    def v3(**kw: object) -> VRRPv3:
        return VRRPv3(vrid=60, priority=120, ipcount=1, addrlist=["192.0.2.160"], adv=100, **kw)

    good = Ether(src=mac, dst=group) / IP(src="192.0.2.9", dst="224.0.0.18", ttl=255) / v3()
    msg = bytes(good[VRRPv3])
    nopseudo = bytearray(msg)
    nopseudo[6:8] = b"\0\0"
    s = sum(int.from_bytes(nopseudo[i:i + 2], "big") for i in range(0, len(nopseudo), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    nopseudo[6:8] = (~s & 0xFFFF).to_bytes(2, "big")
    head = Ether(src=mac, dst=group) / IP(src="192.0.2.9", dst="224.0.0.18", ttl=255, proto=112)
    cisco = head.copy() / Raw(bytes(nopseudo))
    badsum = Ether(src=mac, dst=group) / IP(src="192.0.2.9", dst="224.0.0.18", ttl=255) / v3(chksum=0x1234)
    longer = head.copy() / Raw(msg + b"\0" * 4)
    ttl64 = Ether(src=mac, dst=group) / IP(src="192.0.2.9", dst="224.0.0.18", ttl=64) / v3()
    unknown = head.copy() / Raw(bytes([0x32]) + msg[1:])
    big = Ether(src=mac, dst=group) / IP(src="192.0.2.9", dst="224.0.0.18", ttl=255, id=77) / VRRPv3(
        vrid=61, priority=120, ipcount=200, addrlist=[f"192.0.2.{i % 250 + 1}" for i in range(200)])
    frags = [Ether(src=mac, dst=group) / f for f in fragment(big[IP], fragsize=400)]
    icmp6 = Ether(src=mac, dst="33:33:00:00:00:01") / Dot1Q(vlan=10) / IPv6(src="fe80::9", dst="ff02::1") / \
        ICMPv6EchoRequest()
    crafted = [cisco, badsum, longer, ttl64, unknown, *frags[:2], icmp6, good]
    for i, p in enumerate(crafted):
        p.time = t0 + i * 0.1
    wrpcap(str(HERE / "crafted-edge-cases.pcap"), crafted)
    ng = PcapNgWriter(str(HERE / "crafted-edge-cases.pcapng"))
    for p in crafted:
        ng.write(p)
    ng.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--derived", action="store_true", help="only rebuild the files made from the lab captures")
    ap.add_argument("--keep", action="store_true", help="keep the lab's logs and configs in .work/")
    args = ap.parse_args()
    if not args.derived:
        lab_captures()
    derived()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
