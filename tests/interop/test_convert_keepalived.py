"""`convert --to-unicast` never writes a file that keepalived 2.2.7 rejects: real `keepalived -t` on
what it writes.

Every config of tests/interop/corpus (keepalived's own doc/samples included) and a use_vmac file is
converted as the CLI does (peers 192.0.2.11 and 2001:db8::11, this host 192.0.2.10 / 2001:db8::10
on eth0 and eth1); where the CLI would write the result (it has no error), `keepalived -t` runs on
input and output inside a namespace that has those interfaces and addresses: the output may only
repeat complaints the input already drew (conversion removes strict mode's), and a file keepalived
took cleanly must stay clean. keepalived only parses (-t); nothing is sent. About 10 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from vrrpkit.config import load_string
from vrrpkit.config.convert import ConvertError, new_errors, to_unicast
from vrrpkit.config.files import FileLoader

pytestmark = [pytest.mark.root, pytest.mark.interop]

KEEPALIVED = "/usr/sbin/keepalived"
CORPUS = Path(__file__).parent / "corpus"
PEERS = ["192.0.2.11", "2001:db8::11"]
SRC = {"eth0": "192.0.2.10", "eth0/6": "2001:db8::10", "eth1": "198.51.100.10", "eth1/6": "2001:db8:1::10"}
LINE = re.compile(r"^\((?:[^:()]+: )?Line \d+\) ")
VMAC = """global_defs {
    router_id lab
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    use_vmac
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.100/24
    }
}
"""

if os.geteuid() != 0 or not Path(KEEPALIVED).exists() or shutil.which("ip") is None:
    pytest.skip("needs root, iproute2 and keepalived (Debian package)", allow_module_level=True)


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    name = f"vkv-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for ifname, v4, v6 in (("eth0", "192.0.2.10/24", "2001:db8::10/64"), ("eth1", "198.51.100.10/24",
                                                                             "2001:db8:1::10/64")):  # fmt: skip
            for cmd in (
                ["link", "add", ifname, "type", "veth", "peer", "name", f"{ifname}p"],
                ["addr", "add", v4, "dev", ifname],
                ["addr", "add", v6, "dev", ifname, "nodad"],
                ["link", "set", ifname, "up"],
                ["link", "set", f"{ifname}p", "up"],
            ):
                subprocess.run(["ip", "-n", name, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def complaints(ns: str, conf: Path, tmp: Path) -> tuple[int, set[str]]:
    """keepalived -t's exit status and its complaints, without the line numbers (they move)."""
    tmp.mkdir(parents=True, exist_ok=True)
    pids = [arg for flag in "prcb" for arg in (f"-{flag}", str(tmp / f"{flag}.pid"))]
    cmd = ["ip", "netns", "exec", ns, KEEPALIVED, "-t", "-f", str(conf), "-n", "-l", "-D", *pids]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=conf.parent)
    said = {LINE.sub("", ln.strip()) for ln in p.stderr.splitlines() if ln.strip()}
    # Without strict mode (convert comments it out) keepalived only notes what strict mode refused
    return p.returncode, {s.replace("at least one is sensible", "at least one is required") for s in said}


@dataclass
class Case:
    name: str
    source: Path
    converted: Path | None  # None: convert refuses, or would write nothing (the result has errors)


def cases(tmp: Path) -> list[Case]:
    vmac = tmp / "use_vmac.conf"
    vmac.write_text(VMAC)
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md" and "inc_glob" not in p.parts)
    out = []
    for i, path in enumerate([vmac, *files]):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        try:
            converted = to_unicast(text, PEERS, src=SRC, filename=str(path), config_id="vrrpkit-test")
        except (ConvertError, ValueError):
            out.append(Case(path.name, path, None))
            continue
        before = load_string(text, filename=str(path), config_id="vrrpkit-test", loader=FileLoader())
        after = load_string(converted, filename=str(path), config_id="vrrpkit-test", loader=FileLoader())
        if new_errors(before, after)[0]:
            out.append(Case(path.name, path, None))
            continue
        target = path.parent / f".converted-{os.getpid()}-{i}-{path.name}"  # beside it: includes resolve
        target.write_text(converted, encoding="utf-8", errors="surrogateescape")
        out.append(Case(path.name, path, target))
    return out


def test_convert_output_passes_keepalived_t_as_well_as_its_input(netns: str, tmp_path: Path) -> None:
    all_cases = cases(tmp_path)
    written = [c for c in all_cases if c.converted is not None]
    try:

        def judge(i_case: tuple[int, Case]) -> str | None:
            i, case = i_case
            assert case.converted is not None
            rc_in, before = complaints(netns, case.source, tmp_path / f"in{i}")
            rc_out, after = complaints(netns, case.converted, tmp_path / f"out{i}")
            new = after - before
            if new or (rc_in == 0 and rc_out != 0):
                return f"{case.name}: keepalived -t exit {rc_in} -> {rc_out}, new complaints {sorted(new)}"
            return None

        with ThreadPoolExecutor(max_workers=4) as pool:
            problems = [p for p in pool.map(judge, enumerate(written)) if p]
    finally:
        for case in written:
            assert case.converted is not None
            case.converted.unlink(missing_ok=True)
    print(f"\n{len(written)} of {len(all_cases)} files converted and checked with keepalived -t")
    assert len(written) >= 25, [c.name for c in all_cases if c.converted is None]
    assert written[0].name == "use_vmac.conf"
    assert not problems, "\n".join(problems)
