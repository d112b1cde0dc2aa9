"""Differential test: `vrrpkit check` against the real `keepalived -t` (Debian's keepalived 2.2.7).

For every config of the corpus (tests/interop/corpus, valid and broken) both run inside a network
namespace of our own that has the interface the configs name (eth0, 192.0.2.10/24), so that host
checks see the same host keepalived sees:

- keepalived complains (exit != 0)  => check reports at least a warning;
- keepalived is happy (exit 0)      => check reports no error;
- keepalived names a line           => check has a diagnostic on that line of that file;

except what `vrrpkit.config.divergences` lists (the only allow-list). keepalived runs with -n -l -D
and pid files of its own in a temp dir, so it never touches a keepalived of the host; nothing is
sent anywhere (`-t` only parses). The namespace is deleted in the fixture's teardown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from vrrpkit.config import load_string
from vrrpkit.config.convert import to_unicast
from vrrpkit.config.divergences import by_key, laxer_messages, stricter_rules

pytestmark = pytest.mark.interop

KEEPALIVED = "/usr/sbin/keepalived"
HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
SAMPLES = CORPUS / "keepalived-samples"  # keepalived's own doc/samples (GPL, see its README)
SEED = HERE.parent / "unit" / "config" / "data" / "seed.conf"
LINE_RE = re.compile(r"^\((?:(?P<file>[^:()]+): )?Line (?P<line>\d+)\) (?P<msg>.*)$")

if os.geteuid() != 0 or not Path(KEEPALIVED).exists() or shutil.which("ip") is None:
    pytest.skip("needs root, iproute2 and keepalived (Debian package)", allow_module_level=True)


def corpus_files() -> list[Path]:
    files = sorted(CORPUS.glob("*.conf"))
    files += sorted(p / "keepalived.conf" for p in CORPUS.iterdir() if p.is_dir() and p != SAMPLES)
    files += sorted(SAMPLES.iterdir())
    return [*files, SEED]


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    name = f"vkc-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (
            ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
            ["addr", "add", "192.0.2.10/24", "dev", "eth0"],
            ["link", "set", "eth0", "up"],
            ["link", "set", "eth0p", "up"],
            ["link", "set", "lo", "up"],
        ):
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@dataclass
class KaRun:
    rc: int
    stderr: str

    def lines(self, config: Path) -> list[tuple[str, int, str]]:
        """(file, line, message) for every complaint of keepalived that names a line, once each.

        keepalived parses the file in each of its processes (parent, VRRP, checker), so `-t` may print
        the same complaint up to four times; it is one complaint.
        """
        out: dict[tuple[str, int, str], None] = {}
        for raw in self.stderr.splitlines():
            m = LINE_RE.match(raw.strip())
            if m:
                file = m.group("file") or str(config)
                out[(str(Path(file) if os.path.isabs(file) else config.parent / file), int(m.group("line")),
                     m.group("msg"))] = None
        return list(out)


def keepalived_t(ns: str, config: Path, tmp: Path) -> KaRun:
    tmp.mkdir(parents=True, exist_ok=True)
    cmd = ["ip", "netns", "exec", ns, KEEPALIVED, "-t", "-f", str(config), "-n", "-l", "-D",
           "-p", str(tmp / "k.pid"), "-r", str(tmp / "v.pid"), "-c", str(tmp / "c.pid")]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired as exc:
        return KaRun(124, f"timeout: {exc}")
    return KaRun(p.returncode, p.stderr)


def vrrpkit_check(ns: str, config: Path) -> tuple[int, dict[str, object]]:
    cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "vrrpkit", "check", "-f", str(config), "--json",
           "--config-id", "vrrpkit-test"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, json.loads(p.stdout)


@dataclass
class Outcome:
    config: Path
    ka: KaRun
    rc: int
    doc: dict[str, object]

    @property
    def diags(self) -> list[dict[str, object]]:
        return list(self.doc["diagnostics"])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def outcomes(netns: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    tmp = tmp_path_factory.mktemp("ka")

    def one(i_cfg: tuple[int, Path]) -> Outcome:
        i, cfg = i_cfg
        ka = keepalived_t(netns, cfg, tmp / str(i))
        rc, doc = vrrpkit_check(netns, cfg)
        return Outcome(cfg, ka, rc, doc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, enumerate(corpus_files())))
    return {str(o.config.relative_to(HERE.parent)): o for o in results}


def _same_file(ka_file: str, ours: str, config: Path) -> bool:
    a = Path(ka_file) if os.path.isabs(ka_file) else config.parent / ka_file
    return Path(ours).resolve() == a.resolve()


def _excused(msg: str) -> bool:
    return any(re.search(rx, msg) for rx in laxer_messages())


def judge(o: Outcome) -> tuple[list[str], int, int]:
    """Problems with one outcome, plus (lines keepalived named, lines we matched).

    A line keepalived names and check does not is a problem unless the divergence table excuses
    keepalived's message there; excused or not, it counts as a miss in the closing numbers.
    """
    problems: list[str] = []
    sev = {d["severity"] for d in o.diags}
    complaints = [ln for ln in o.ka.stderr.splitlines() if ln.strip()]
    if o.ka.rc != 0 and not sev & {"error", "warning"} and not all(_excused(c) for c in complaints):
        problems.append(f"keepalived -t exits {o.ka.rc} but check reports no warning")
    if o.ka.rc == 0:
        allowed = stricter_rules()
        errors = [d for d in o.diags if d["severity"] == "error" and d["rule"] not in allowed]
        if errors:
            problems.append(f"keepalived -t accepts it but check reports errors: {errors}")
    if o.ka.rc == 2 and not any("stops reading" in str(d["message"]) for d in o.diags):
        problems.append("keepalived -t stops reading the file (exit 2) but check does not say so")
    named = matched = 0
    for file, line, msg in o.ka.lines(o.config):
        named += 1
        if any(d["line"] == line and _same_file(file, str(d["file"]), o.config) for d in o.diags):
            matched += 1
        elif not _excused(msg):
            problems.append(f"keepalived names {file}:{line} ({msg}) but check has nothing there")
    return problems, named, matched


@pytest.mark.parametrize("config", [str(p.relative_to(HERE.parent)) for p in corpus_files()])
def test_check_agrees_with_keepalived(outcomes: dict[str, Outcome], config: str) -> None:
    o = outcomes[config]
    problems, _, _ = judge(o)
    assert not problems, "\n".join([*problems, "keepalived -t said:", o.ka.stderr,
                                    *(f"{d['line']}: {d['severity']} {d['rule']}" for d in o.diags)])


def _pending(msg: str) -> bool:
    """Lines inside route/rule blocks: issue 11 implements those blocks (see the divergence's `why`)."""
    try:
        rx = by_key("routes-rules-not-linted").keepalived_message
    except KeyError:  # the routes have landed and the entry is gone: every line counts
        return False
    return rx is not None and re.search(rx, msg) is not None


def test_agreement_summary(outcomes: dict[str, Outcome]) -> None:
    """The closing note's numbers: configs in agreement, lines matched, and every miss with its reason."""
    assert len(outcomes) >= 70
    agree = named = matched = pending = 0
    misses: list[str] = []
    for o in outcomes.values():
        problems, n, m = judge(o)
        agree += not problems
        named += n
        matched += m
        for file, line, msg in o.ka.lines(o.config):
            if not any(d["line"] == line and _same_file(file, str(d["file"]), o.config) for d in o.diags):
                misses.append(f"  {Path(file).name}:{line} {msg}")
                pending += _pending(msg)
    print(f"\ndifferential vs keepalived -t 2.2.7: {agree}/{len(outcomes)} configs agree, "
          f"{matched}/{named} named lines matched ({100 * matched / named:.1f}%), "
          f"{matched}/{named - pending} outside route/rule blocks ({100 * matched / (named - pending):.1f}%); "
          f"misses (each excused in vrrpkit.config.divergences):", *misses, sep="\n")
    assert agree == len(outcomes)
    assert matched >= 0.95 * (named - pending)


def test_corpus_has_both_kinds(outcomes: dict[str, Outcome]) -> None:
    accepted = sum(o.ka.rc == 0 for o in outcomes.values())
    assert accepted >= 15 and len(outcomes) - accepted >= 25


# --- the seed (../shared/seed/multicast-investigate.md), verbatim with its Chinese comments ----------


def test_seed_keepalived_complains_and_check_warns(outcomes: dict[str, Outcome]) -> None:
    o = outcomes[str(SEED.relative_to(HERE.parent))]
    assert o.ka.rc != 0
    assert "Strict mode does not support authentication" in o.ka.stderr
    rules = {d["rule"] for d in o.diags}
    assert {"strict-drops-auth", "strict-no-accept", "multicast-may-be-dropped"} <= rules
    assert o.rc == 0  # warnings only: keepalived runs it


def test_seed_converted_is_accepted_by_keepalived(netns: str, tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    out = to_unicast(text, ["192.0.2.11"], src="192.0.2.10", filename="seed.conf")
    conf = tmp_path / "seed-unicast.conf"
    conf.write_text(out, encoding="utf-8")
    ka = keepalived_t(netns, conf, tmp_path / "ka")
    # The seed's own script (check.sh, without enable_script_security) is all keepalived may still mention:
    # conversion must remove every other complaint (strict mode, authentication).
    rest = [ln for ln in ka.stderr.splitlines()
            if ln.strip() and "check_web" not in ln and "SECURITY VIOLATION" not in ln]
    assert rest == [], ka.stderr
    assert "执行定义的脚本" in out and "按需修改" in out  # the Chinese comments survive
    assert load_string(out, "seed-unicast.conf").ok


def test_converted_strict_config_passes_keepalived_cleanly(netns: str, tmp_path: Path) -> None:
    text = (CORPUS / "bad_strict_auth.conf").read_text()
    out = to_unicast(text, ["192.0.2.11", "192.0.2.12"], src="192.0.2.10", filename="x.conf")
    conf = tmp_path / "converted.conf"
    conf.write_text(out)
    ka = keepalived_t(netns, conf, tmp_path / "ka")
    assert ka.rc == 0, ka.stderr
    rc, doc = vrrpkit_check(netns, conf)
    assert rc == 0 and doc["ok"], doc
