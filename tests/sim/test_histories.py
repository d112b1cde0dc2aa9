"""Random histories of crashes, stops, restarts, reloads, partitions and loss (hypothesis stateful testing).

Invariant (issue 2): once the network is whole and quiet for the largest Master_Down_Interval of
the hosts (plus any preempt_delay), there is exactly one MASTER per VRID; when every host preempts,
it is the one with the highest effective priority. Hypothesis prints the failing history and its
seed; SimLan is deterministic for a seed, so the history replays exactly.
"""

from __future__ import annotations

import os
from ipaddress import ip_address, ip_interface

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from vrrpkit.core.config import InstanceConfig, UnicastPeer, Vip
from vrrpkit.testing import SimLan

HOSTS = ("h1", "h2", "h3", "h4")
ADDR = {h: f"192.0.2.{i + 1}" for i, h in enumerate(HOSTS)}
VIP = Vip(ip_interface("192.0.2.99/24"))
VIP2 = Vip(ip_interface("198.51.100.99/32"))
HISTORIES = int(os.environ.get("VRRPKIT_HISTORIES", "150"))
TRIED: list[int] = []
CHECKED: list[int] = []  # hosts up at each settled check, for the coverage assertion below


class Cluster(RuleBasedStateMachine):
    lan: SimLan

    @initialize(
        seed=st.integers(0, 2**32 - 1),
        priorities=st.lists(st.integers(1, 254), min_size=len(HOSTS), max_size=len(HOSTS), unique=True),
        version=st.sampled_from([2, 3]),
        unicast=st.booleans(),
        preempt=st.lists(st.booleans(), min_size=len(HOSTS), max_size=len(HOSTS)),
        preempt_delay=st.sampled_from([0, 0, 200]),
        interval_cs=st.sampled_from([100, 200]),
    )
    def build(
        self,
        seed: int,
        priorities: list[int],
        version: int,
        unicast: bool,
        preempt: list[bool],
        preempt_delay: int,
        interval_cs: int,
    ) -> None:
        TRIED.append(seed)
        self.lan = SimLan(seed=seed, jitter=0.002)
        self.all_preempt = all(preempt) and preempt_delay == 0
        self.priority = dict(zip(HOSTS, priorities, strict=True))
        self.cfgs: dict[str, InstanceConfig] = {}
        for host, prio, pre in zip(HOSTS, priorities, preempt, strict=True):
            extra: dict[str, object] = {}
            if unicast:
                extra["unicast_src_ip"] = ip_address(ADDR[host])
                extra["unicast_peers"] = tuple(UnicastPeer(ip_address(a)) for h, a in ADDR.items() if h != host)
            cfg = InstanceConfig(
                name="VI_1",
                interface="eth0",
                vrid=51,
                priority=prio,
                version=version,  # type: ignore[arg-type]
                advert_int_cs=interval_cs,
                preempt=pre,
                preempt_delay_cs=preempt_delay if pre else 0,
                vips=(VIP,),
                **extra,  # type: ignore[arg-type]
            )
            self.cfgs[host] = cfg
            self.lan.add_host(host, ADDR[host], [cfg])
        self.quiet = 2 * (3 * interval_cs / 100 + 1) + preempt_delay / 100 + 1

    @rule(host=st.sampled_from(HOSTS))
    def crash(self, host: str) -> None:
        self.lan.crash(host)

    @rule(host=st.sampled_from(HOSTS))
    def stop(self, host: str) -> None:
        self.lan.stop(host)

    @rule(host=st.sampled_from(HOSTS))
    def start(self, host: str) -> None:
        self.lan.start(host)

    @rule(host=st.sampled_from(HOSTS), priority=st.integers(1, 254), extra_vip=st.booleans())
    def reload(self, host: str, priority: int, extra_vip: bool) -> None:
        """SIGHUP with a new priority and VIP list, applied in place (the daemon's reload)."""
        if priority in {p for h, p in self.priority.items() if h != host}:
            return  # priorities stay unique, so "the highest wins" has one answer
        cfg = self.cfgs[host].replace(priority=priority, vips=(VIP, VIP2) if extra_vip else (VIP,))
        self.cfgs[host], self.priority[host] = cfg, priority
        self.lan.reload(host, [cfg])

    @rule(split=st.lists(st.sampled_from(HOSTS), min_size=1, max_size=3, unique=True))
    def partition(self, split: list[str]) -> None:
        self.lan.partition(set(split))

    @rule()
    def heal(self) -> None:
        self.lan.heal()

    @rule(loss=st.sampled_from([0.0, 0.1, 0.3, 0.6]))
    def loss(self, loss: float) -> None:
        self.lan.set_loss(loss)

    @rule(blocked=st.booleans())
    def multicast(self, blocked: bool) -> None:
        self.lan.block_multicast(blocked)

    @rule(seconds=st.floats(0.0, 8.0))
    def run(self, seconds: float) -> None:
        self.lan.run(seconds)

    @precondition(lambda self: hasattr(self, "lan"))
    @rule()
    def settle_and_check(self) -> None:
        lan = self.lan
        CHECKED.append(sum(h.up for h in lan.hosts.values()))
        lan.heal()
        lan.set_loss(0.0)
        lan.block_multicast(False)
        lan.run(self.quiet)
        up = [h for h in HOSTS if lan.hosts[h].up]
        masters = lan.masters(vrid=51)
        if not up:
            assert masters == set()
            return
        assert len(masters) == 1, f"masters {masters} at {lan.now:.3f}"
        if self.all_preempt:
            assert masters == {max(up, key=lambda h: self.priority[h])}
        assert lan.vip_holders("192.0.2.99") == masters

    def teardown(self) -> None:
        # every history ends with the network whole again and the invariant checked
        if hasattr(self, "lan"):
            self.settle_and_check()

    @invariant()
    def vips_follow_state(self) -> None:
        if hasattr(self, "lan"):
            for host in self.lan.hosts.values():
                for router in host.routers.values():
                    held = host.vips.get(router.name, set())
                    master = router.state.value == "MASTER"
                    assert bool(held) == master
                    if master:  # all of them, after any reload: none missing, none left over
                        assert held == {v.address for v in router.config.vips + router.config.excluded_vips}


Cluster.TestCase.settings = settings(
    max_examples=HISTORIES,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
TestClusterHistories = Cluster.TestCase


def test_histories_were_checked() -> None:
    """Guards against a vacuous property: the invariant ran on many histories with hosts up."""
    assert len(TRIED) >= HISTORIES
    assert len(CHECKED) >= HISTORIES
    assert sum(1 for n in CHECKED if n >= 2) >= HISTORIES // 2
