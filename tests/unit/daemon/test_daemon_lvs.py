"""A file with virtual_server blocks: the daemon runs its VRRP part and says, once, who runs the rest."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from daemon_fakes import FakeOs, FakeRunner
from test_daemon_loop import conf, drive, state

from vrrpkit.daemon.app import Daemon

LVS = """
virtual_server 192.0.2.99 80 {
    delay_loop 6
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 192.0.2.20 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
"""


def test_virtual_servers_are_left_to_keepalived_and_said_so_once(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    async def body(d: Daemon, fake: FakeOs, runner: FakeRunner) -> None:
        assert state(d) == "BACKUP" and list(d.instances) == ["VI_1"]

    with caplog.at_level(logging.INFO, logger="vrrpkit"):
        fake, _ = drive(tmp_path, conf() + LVS + LVS.replace("192.0.2.99 80", "192.0.2.99 443"), body)
    said = [r.getMessage() for r in caplog.records if "keepalived's checker" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("keepalived.conf:")
    assert "keepalived --check" in said[0]
    # nothing of the load balancer reaches the system: only the VRRP part's address calls
    assert all("192.0.2.20" not in str(call) for call in fake.netlink.calls)
