"""`vrrpkit check` on this host: every script case on its line, evaluated by the same code the
daemon uses (``diag.hostfacts.script_verdict`` over ``io.scripts``), with keepalived's words."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from vrrpkit.cli.cmd_check import check
from vrrpkit.config.host import HostFacts
from vrrpkit.diag.hostfacts import script_verdict


@pytest.fixture
def public() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root (chown)")
    d = Path(tempfile.mkdtemp(prefix="vrrpkit-check-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_every_case_on_its_line(public: Path) -> None:
    owned = public / "owned"
    owned.mkdir()
    os.chown(owned, 65534, 65534)
    unsafe = owned / "unsafe.sh"
    unsafe.write_text("#!/bin/sh\n")
    unsafe.chmod(0o755)
    noexec = public / "noexec.sh"
    noexec.write_text("#!/bin/sh\n")
    noexec.chmod(0o644)
    plain = public / "plain.sh"
    plain.write_text("exit 0\n")
    plain.chmod(0o755)
    conf = public / "keepalived.conf"
    conf.write_text(
        "global_defs {\n  enable_script_security\n  script_user root\n}\n"  # 1-4
        f'vrrp_script semi {{\n  script "/usr/bin/true;{public}/x"\n}}\n'  # 5
        f'vrrp_script noexec {{\n  script "{noexec}"\n}}\n'  # 8
        f'vrrp_script unsafe {{\n  script "{unsafe}"\n}}\n'  # 11
        'vrrp_script byname {\n  script "true"\n}\n'  # 14
        f'vrrp_script plain {{\n  script "{plain}"\n}}\n'  # 17
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 7\n  priority 100\n"  # 20-23
        "  virtual_ipaddress {\n    10.0.0.100/24\n  }\n"  # 24-26
        f'  notify_master "{public}/gone.sh"\n  notify_backup "/bin/true" ghost-user-vrrpkit\n}}\n'  # 27-28
    )
    _results, diags = check([str(conf)], None, HostFacts(interfaces={"eth0": ()}, script_check=script_verdict))
    got = {(d.line, d.rule): d.message for d in diags if d.rule.startswith("host-script")}
    assert (
        f"'Script /usr/bin/true;{public}/x cannot be accessed - No such file or directory'"
        in got[(5, "host-script-missing")]
    )
    assert (
        f"'WARNING - script '{noexec}' is not executable for uid:gid 0:0 - disabling.'"
        in got[(8, "host-script-disabled")]
    )
    assert f"'Unsafe permissions found for script '{unsafe}' - disabling.'" in got[(11, "host-script-disabled")]
    assert "resolved by path search to" in got[(14, "host-script-path-search")]
    assert "Please add a #! shebang" in got[(17, "host-script-no-shebang")]
    assert f"Script {public}/gone.sh cannot be accessed" in got[(27, "host-script-missing")]
    assert "Script user 'ghost-user-vrrpkit' does not exist" in got[(28, "host-script-user-missing")]
    assert len(got) == 7, got
