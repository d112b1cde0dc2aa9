"""Log sinks: journald's native protocol (decoded back from the datagram), syslog, stderr, -S/-D/-G/-l."""

from __future__ import annotations

import io
import logging
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from vrrpkit.daemon import logsetup
from vrrpkit.daemon.logsetup import LogOptions


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """configure() rewires the process-wide "vrrpkit" logger; put it back for the other tests."""
    loggers = [logging.getLogger(name) for name in ("vrrpkit", "vrrpkit.detail")]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, handlers, level, propagate in saved:
        for h in lg.handlers:
            if h not in handlers:
                h.close()
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def decode_journal(data: bytes) -> dict[str, str]:
    """journald's parser for the native format (systemd's journald-native.c), written from the spec."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            pos = end + 1
        else:
            key = line
            (size,) = struct.unpack_from("<Q", data, end + 1)
            value = data[end + 9 : end + 9 + size]
            assert data[end + 9 + size : end + 10 + size] == b"\n"
            pos = end + 10 + size
        out[key.decode()] = value.decode()
    return out


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "journal.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


def receive(sock: socket.socket) -> dict[str, str]:
    data, ancdata, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(4))
    if not data and ancdata:  # a large record arrives as a memfd
        fd = struct.unpack("i", ancdata[0][2][:4])[0]
        with os.fdopen(fd, "rb") as fh:
            fh.seek(0)
            data = fh.read()
    return decode_journal(data)


def test_facility_names_and_numbers_as_keepalived_reads_them() -> None:
    assert logsetup.parse_facility("0") == 16 and logsetup.parse_facility("7") == 23
    assert logsetup.parse_facility("local3") == 19
    assert (logsetup.parse_facility("daemon"), logsetup.parse_facility("user")) == (3, 1)
    for bad in ("8", "kern", "local8", ""):
        with pytest.raises(ValueError):
            logsetup.parse_facility(bad)


def test_priorities_follow_syslog() -> None:
    levels = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
    assert [logsetup.priority_of(level) for level in levels] == [7, 6, 4, 3, 2]


def test_journal_records_carry_priority_facility_and_the_instance_fields(journal: tuple[str, socket.socket]) -> None:
    path, sock = journal
    plan = logsetup.configure(LogOptions(facility=logsetup.parse_facility("1")), env={}, stream=io.StringIO(),
                              journal_path=path)  # fmt: skip
    assert plan.journal == path
    log = logging.getLogger("vrrpkit")
    log.info("(VI_1) Entering MASTER STATE", extra=logsetup.fields(instance="VI_1", vrid=51, state="MASTER"))
    rec = receive(sock)
    assert rec["MESSAGE"] == "(VI_1) Entering MASTER STATE"
    assert (rec["PRIORITY"], rec["SYSLOG_FACILITY"], rec["SYSLOG_IDENTIFIER"]) == ("6", "17", "vrrpkit")
    assert (rec["INSTANCE"], rec["VRID"], rec["STATE"]) == ("VI_1", "51", "MASTER")
    assert rec["CODE_FUNC"] == "test_journal_records_carry_priority_facility_and_the_instance_fields"
    log.error("two\nlines")
    rec = receive(sock)
    assert (rec["MESSAGE"], rec["PRIORITY"]) == ("two\nlines", "3")


def test_a_record_too_big_for_a_datagram_goes_through_a_memfd(journal: tuple[str, socket.socket]) -> None:
    path, sock = journal
    logsetup.configure(LogOptions(), env={}, stream=io.StringIO(), journal_path=path)
    big = "x" * 300_000
    logging.getLogger("vrrpkit").warning(big)
    assert receive(sock)["MESSAGE"] == big


def test_stderr_only_when_there_is_no_journal_or_syslog(tmp_path: Path) -> None:
    stream = io.StringIO()
    plan = logsetup.configure(LogOptions(), env={}, stream=stream, journal_path=str(tmp_path / "none"),
                              syslog_path=str(tmp_path / "none"))  # fmt: skip
    assert (plan.journal, plan.syslog, plan.console) == (None, None, True)
    logging.getLogger("vrrpkit").warning("(VI_1) Entering FAULT STATE")
    assert stream.getvalue().rstrip().endswith("warning: (VI_1) Entering FAULT STATE")


def test_no_syslog_flag_keeps_the_journal_out(journal: tuple[str, socket.socket]) -> None:
    path, _ = journal
    plan = logsetup.configure(LogOptions(syslog=False), env={}, stream=io.StringIO(), journal_path=path)
    assert (plan.journal, plan.console) == (None, True)


def test_syslog_socket_when_journald_is_absent(tmp_path: Path) -> None:
    path = str(tmp_path / "log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    try:
        plan = logsetup.configure(LogOptions(facility=3), env={}, stream=io.StringIO(),
                                  journal_path=str(tmp_path / "none"), syslog_path=path)  # fmt: skip
        assert plan.syslog == path
        logging.getLogger("vrrpkit").warning("hello")
        data = sock.recv(4096)
        assert data.startswith(b"<28>vrrpkit[")  # daemon(3) * 8 + warning(4)
        assert data.rstrip(b"\x00").endswith(b"]: hello")
    finally:
        sock.close()
        logsetup.configure(LogOptions(syslog=False), env={}, stream=io.StringIO())


def test_stderr_that_is_the_journal_is_not_written_twice(journal: tuple[str, socket.socket], tmp_path: Path) -> None:
    path, _ = journal
    with open(tmp_path / "stream", "w") as fh:
        st = os.fstat(fh.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert logsetup.stderr_is_journal(env, fh.fileno())
        plan = logsetup.configure(LogOptions(), env=env, stream=fh, journal_path=path)  # type: ignore[arg-type]
        assert (plan.journal, plan.console) == (path, False)
        plan = logsetup.configure(LogOptions(console=True), env=env, stream=fh, journal_path=path)  # type: ignore[arg-type]
        assert plan.console  # -l asks for the console anyway, as keepalived's -l does
    assert not logsetup.stderr_is_journal({"JOURNAL_STREAM": "1:2"}, 0)


def test_detail_lines_only_with_dash_d(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "none")
    for detail, expected in ((0, ["plain"]), (1, ["plain", "detail"]), (2, ["plain", "detail", "debug"])):
        stream = io.StringIO()
        logsetup.configure(LogOptions(detail=detail), env={}, stream=stream, journal_path=nowhere, syslog_path=nowhere)
        logging.getLogger("vrrpkit").info("plain")
        logging.getLogger(logsetup.DETAIL).info("detail")
        logging.getLogger("vrrpkit").debug("debug")
        assert [line.rsplit(": ", 1)[1] for line in stream.getvalue().splitlines()] == expected
