"""`vrrpkit run` starts exactly when keepalived 2.2.7 starts, and with keepalived's fallbacks.

- tests/interop/startup/fallbacks.conf has a mistake in every instance (a typo'd keyword, priority
  300 and 0, an invalid VIP, advert_int 0, a typo'd block that ends the instance early...):
  keepalived runs it, and so does vrrpkit; both daemons run it on isolated hosts and the adverts each
  sends for each VRID (version, priority, interval, addresses) must be the same. `--strict` refuses.
- tests/interop/startup/refuse_*.conf: keepalived exits ("permanent error CONFIG"); vrrpkit run
  does not start either (exit 1, the reason on its line).
- A typo'd `priorty 150` next to keepalived as the peer (priority 120): vrrpkit runs the instance
  at keepalived's default 100, so keepalived stays master; with the peer gone it takes over and
  advertises 100, as keepalived on the same file would. About 25 s of namespace time.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path

import pytest
from needs import KEEPALIVED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import VIP, config, instance, wait_holders

from vrrpkit.core.packet import InvalidPacket, decode
from vrrpkit.lab import Lab, wait_until
from vrrpkit.lab.pcap import read_pcap
from vrrpkit.lab.process import keepalived_argv

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
STARTUP = Path(__file__).parent / "startup"
REFUSED = sorted(STARTUP.glob("refuse_*.conf"))
Advert = tuple[int, int, float, tuple[str, ...]]


def adverts(pcap: Path, sender: object = None) -> dict[int, Advert]:
    """The first advert with a priority above 0 per VRID in a capture (from `sender` only, if given):
    (version, priority, interval, VIPs)."""
    found: dict[int, Advert] = {}
    for frame in read_pcap(pcap):
        data = frame.data
        if data[12:14] != b"\x08\x00" or data[23] != 112:
            continue
        ihl = (data[14] & 0x0F) * 4
        src, dst = ip_address(data[26:30]), ip_address(data[30:34])
        if sender is not None and src != sender:
            continue
        try:
            adv = decode(data[14 + ihl :], src, dst)
        except InvalidPacket:
            continue
        if adv.priority:
            found.setdefault(adv.vrid, (adv.version, adv.priority, adv.interval, tuple(map(str, adv.addresses))))
    return found


def test_run_falls_back_like_keepalived_and_strict_refuses(make_lab: MakeLab) -> None:
    lab = make_lab(2, ipv6=False)
    lab.partition({"h1"}, {"h2"})  # each daemon alone: both become master of every VRID
    text = (STARTUP / "fallbacks.conf").read_text()
    caps = {host: lab.start_capture(host) for host in ("h1", "h2")}
    lab.run_keepalived("h1", text)
    vk = lab.run_vrrpkit("h2", text)
    vrids = {61, 62, 63, 64, 65, 66}

    def both() -> bool:
        return all(set(adverts(c.path)) >= vrids for c in caps.values())

    done = wait_until(both, 15, interval=0.5)
    seen = {host: adverts(c.stop()) for host, c in caps.items()}
    assert done, f"not every VRID advertised: {seen}\n{vk.log()[-3000:]}"
    assert seen["h2"] == seen["h1"], f"keepalived {seen['h1']}\nvrrpkit {seen['h2']}"
    assert seen["h1"][61][1] == 100  # `priorty 150`: ignored, keepalived's default priority
    assert "starting with keepalived's fallbacks" in vk.log()
    strict = lab.exec("h2", Lab.vrrpkit_argv("run", "--strict", "-f", str(vk.conf_path)), check=False, timeout=20)
    assert strict.returncode == 1 and "(--strict)" in strict.stderr.splitlines()[-1], strict.stderr[-2000:]


@pytest.mark.parametrize("conf", REFUSED, ids=[p.stem for p in REFUSED])
def test_run_refuses_where_keepalived_refuses(make_lab: MakeLab, conf: Path, tmp_path: Path) -> None:
    lab = make_lab(1, ipv6=False)
    mine = tmp_path / conf.name
    shutil.copy(conf, mine)
    ka = lab.exec("h1", keepalived_argv("keepalived", mine), check=False, timeout=20)
    assert ka.returncode != 0, f"keepalived ran {conf.name}:\n{ka.stdout[-2000:]}{ka.stderr[-2000:]}"
    vk = lab.exec("h1", Lab.vrrpkit_argv("run", "-f", str(mine), "--control", str(tmp_path / "c.sock")), check=False,
                  timeout=20)  # fmt: skip
    assert vk.returncode == 1, vk.stderr[-2000:]
    assert "keepalived 2.2.7 would not run this configuration either; not starting" in vk.stderr.splitlines()[-1]


def test_typo_runs_at_keepalived_default_priority_beside_keepalived(make_lab: MakeLab) -> None:
    lab = make_lab(2, ipv6=False)
    typo = config(instance(150, version=3, advert_int="0.1")).replace("priority 150", "priorty 150")
    lab.run_keepalived("h2", config(instance(120, version=3, advert_int="0.1")))
    wait_holders(lab, {"h2"}, 10)
    vk = lab.run_vrrpkit("h1", typo)
    assert vk.wait_for_log("Startup complete", timeout=10), vk.log()
    time.sleep(1.0)  # longer than Master_Down_Interval: a priority-150 vrrpkit would have preempted by now
    assert lab.vip_holders(VIP) == {"h2"}
    assert "unknown keyword `priorty`" in vk.log()
    cap = lab.start_capture("h1")
    lab.processes("h2")[0].stop()
    wait_holders(lab, {"h1"}, 5)
    time.sleep(0.3)
    assert adverts(cap.stop(), lab.addr("h1"))[51][1] == 100  # what keepalived sends on the same file
    assert vk.conf_path is not None
    strict = lab.exec("h1", Lab.vrrpkit_argv("run", "--strict", "-f", str(vk.conf_path)), check=False, timeout=20)
    assert strict.returncode == 1 and "unknown keyword `priorty`" in strict.stderr, strict.stderr[-2000:]
