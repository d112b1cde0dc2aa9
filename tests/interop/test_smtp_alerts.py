"""smtp_alert against a real SMTP server (aiosmtpd) in a namespace, keepalived 2.2.7 beside vrrpkit.

The same configuration under each daemon: one mail per transition, with keepalived's envelope,
headers (but the Date) and body. keepalived's Stopping mail never leaves (it exits first); vrrpkit's
does. A server that accepts and never answers, and one that is not there, cost the daemon nothing:
transitions happen on time, the failures are logged and counted. About 30 s of namespace time.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from needs import KEEPALIVED

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from confgen import config, instance, wait_holders

from vrrpkit.lab import Lab, wait_until

pytestmark = KEEPALIVED

MakeLab = Callable[..., Lab]
SINK = Path(__file__).resolve().parent.parent / "integration" / "smtp_sink.py"


def mail_globals(port: int, timeout: int = 5) -> str:
    return (f"notification_email {{\n    ops@example.com\n    oncall@example.com\n}}\n"
            f"notification_email_from vrrp@example.com\nsmtp_server 192.0.2.2 {port}\n"
            f"smtp_connect_timeout {timeout}\nsmtp_helo_name h1.example.com")


def sink(lab: Lab, port: int, out: Path, *extra: str) -> None:
    lab.popen("h2", [sys.executable, str(SINK), "192.0.2.2", str(port), str(out), *extra])
    assert wait_until(lambda: Path(str(out) + ".ready").exists(), 10), "the SMTP sink did not start"


def mails(out: Path) -> list[dict[str, object]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines()]


def without_date(mail: dict[str, object]) -> dict[str, object]:
    data = str(mail["data"])
    assert data.startswith("Date: ")
    return {**mail, "data": data.split("\r\n", 1)[1]}


def test_one_mail_per_transition_with_keepalived_subject_and_body(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    got: dict[str, list[dict[str, object]]] = {}
    for n, daemon in enumerate(("keepalived", "vrrpkit")):
        out = lab.workdir / f"{daemon}.mail.jsonl"
        sink(lab, 2525 + n, out)
        text = config(instance(150, version=3, advert_int="0.1", extra="smtp_alert"),
                      globals_=mail_globals(2525 + n))
        proc = (lab.run_keepalived if daemon == "keepalived" else lab.run_vrrpkit)("h1", text)
        wait_holders(lab, {"h1"}, 10)
        assert wait_until(lambda o=out: len(mails(o)) >= 2, 10), proc.log()[-2000:]
        proc.stop(timeout=10)
        time.sleep(0.5)
        got[daemon] = mails(out)
    subjects = [str(m["data"]).split("\r\n")[2] for m in got["vrrpkit"]]
    print("\n" + "\n".join(subjects))
    assert subjects == ["Subject: [lab] VRRP Instance VI_1 - Entering BACKUP state",
                        "Subject: [lab] VRRP Instance VI_1 - Entering MASTER state",
                        "Subject: [lab] VRRP Instance VI_1 - Stopping"]
    assert len(got["keepalived"]) == 2  # keepalived's Stopping mail dies with it (measured)
    assert [without_date(m) for m in got["vrrpkit"][:2]] == [without_date(m) for m in got["keepalived"]]
    assert got["vrrpkit"][0]["helo"] == "h1.example.com"
    assert got["vrrpkit"][0]["rcpt"] == ["ops@example.com", "oncall@example.com"]


def status(lab: Lab) -> dict[str, object]:
    return dict(json.loads(lab.exec("h1", Lab.vrrpkit_argv("status", "--json"), timeout=10).stdout))


def test_a_silent_or_absent_server_never_holds_the_daemon(make_lab: MakeLab) -> None:
    lab = make_lab(2)
    out = lab.workdir / "silent.jsonl"
    sink(lab, 2600, out, "--silent")
    # a server that never answers, with keepalived's default 30 s timeout: the BACKUP mail hangs on it
    vk = lab.run_vrrpkit("h1", config(instance(150, version=3, advert_int="0.1", extra="smtp_alert"),
                                      globals_=mail_globals(2600, timeout=30)))
    wait_holders(lab, {"h1"}, 10)  # MASTER on time, while that mail still waits
    assert "not sent" not in vk.log() and status(lab)["counters"]["mails_sent"] == 0  # type: ignore[index]
    assert vk.stop(timeout=15) == 0  # the stop waits a bounded time for mail, then drops it
    assert "still waiting for the server at stop: dropped" in vk.log()
    # a server that is not there: each mail fails at once, is logged and counted, and nothing else changes
    vk = lab.run_vrrpkit("h1", config(instance(150, version=3, advert_int="0.1", extra="smtp_alert"),
                                      globals_=mail_globals(2601)))
    wait_holders(lab, {"h1"}, 10)
    assert vk.wait_for_log("not sent to 192.0.2.2:2601", 10), vk.log()[-2000:]
    assert wait_until(lambda: status(lab)["counters"]["mails_failed"] == 2, 5)  # type: ignore[index]
    assert status(lab)["instances"][0]["state"] == "MASTER"  # type: ignore[index]
    assert vk.stop(timeout=15) == 0
    assert not mails(out)
