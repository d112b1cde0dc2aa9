"""Make the pictures in docs/images from the real thing (run as root: `scripts/screenshots`).

Nothing here is drawn by hand: a lab with two `vrrpkit run` hosts serves its status pages, headless
Chromium inside a host photographs them (a master with some history, then a split brain when the
lab's switch drops multicast), tcpdump on h2 records the whole story for `vrrpkit watch -r --report`,
and `vrrpkit demo --report` writes the demo's page; files are photographed with no network. Each
picture is the top of the page in a 1280-pixel-wide window, as a person first sees it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from vrrpkit.lab import Lab, wait_until
from vrrpkit.lab.browser import screenshot, screenshot_offline

ROOT = Path(__file__).resolve().parents[1]
PORT = 9650

CONF = """\
global_defs {{
    router_id {host}
}}
vrrp_track_file maintenance {{
    file "{flag}"
    weight 0
}}
vrrp_instance VI_WEB {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {web}
    advert_int 1
    virtual_ipaddress {{
        192.0.2.99/24
    }}
    track_file {{
        maintenance
    }}
}}
vrrp_instance VI_DB {{
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority {db}
    advert_int 1
    virtual_ipaddress {{
        192.0.2.98/24
    }}
}}
"""

FETCH = textwrap.dedent("""\
    import sys, urllib.request
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        sys.stdout.write(r.read().decode())
""")


def page(lab: Lab, host: str) -> str:
    done = lab.exec(host, [sys.executable, "-c", FETCH, f"http://{lab.addr(host)}:{PORT}/"], check=False, timeout=20)
    return done.stdout


def say(text: str) -> None:
    print(f"screenshots: {text}", file=sys.stderr, flush=True)


def status_pages(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp, Lab(name="shots", hosts=2, workdir=tmp) as lab:
        flags = {h: Path(tmp) / f"{h}.maintenance" for h in lab.hosts}
        for host in lab.hosts:
            flags[host].write_text("0\n")
        prio = {"h1": (150, 100), "h2": (100, 150)}

        def run(host: str) -> None:
            conf = CONF.format(host=host, flag=flags[host], web=prio[host][0], db=prio[host][1])
            lab.run_vrrpkit(host, conf, ["--metrics", f"{lab.addr(host)}:{PORT}"])

        say("h2 starts alone, then h1 joins and takes VI_WEB over")
        capture = lab.start_capture("h2")
        run("h2")
        time.sleep(8)
        run("h1")
        time.sleep(12)
        say("h1 goes into maintenance (track_file) and back")
        flags["h1"].write_text("1\n")
        time.sleep(10)
        flags["h1"].write_text("0\n")
        time.sleep(12)
        screenshot(lab.netns("h1"), f"http://{lab.addr('h1')}:{PORT}/", out / "status-master.png", (1280, 760))
        say("the switch drops multicast: split brain")
        lab.cloud(True)
        ok = wait_until(lambda: all("banner split-brain" in page(lab, h) for h in lab.hosts), 30)
        if not ok:
            raise SystemExit("screenshots: no split-brain banner within 30 s")
        time.sleep(3)
        screenshot(lab.netns("h1"), f"http://{lab.addr('h1')}:{PORT}/", out / "status-split-brain.png", (1280, 760))
        pcap = capture.stop().rename(Path(tmp) / "h2-eth0.pcap")
        say("vrrpkit watch -r on h2's capture of all of it")
        report = Path(tmp) / "capture.html"
        subprocess.run([sys.executable, "-m", "vrrpkit", "watch", "-r", pcap.name, "--report", str(report)],
                       check=False, stdout=subprocess.DEVNULL, cwd=tmp)  # fmt: skip
        screenshot_offline(report, out / "capture-report.png", (1280, 620))


def demo_report(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "demo.html"
        say("vrrpkit demo --report")
        subprocess.run([sys.executable, "-m", "vrrpkit", "demo", "--name", "shotsdemo", "--report", str(report)],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        (out / "demo-report.html").write_text(report.read_text())
        screenshot_offline(report, out / "demo-report.png", (1280, 1040))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("which", nargs="*", choices=["status", "demo"], default=["status", "demo"])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if "status" in args.which:
        status_pages(args.out)
    if "demo" in args.which:
        demo_report(args.out)
    say(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
