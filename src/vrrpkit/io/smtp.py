"""One mail through one SMTP server, asynchronously and with a deadline, as keepalived's smtp.c talks.

keepalived speaks plain RFC 821 (HELO, MAIL FROM, one RCPT TO per recipient, DATA, QUIT), checks
each reply code (220, 250, 250, 250, 354, 250) and gives up on the first unexpected one. So does
this client; every step is bounded by the connect timeout (`smtp_connect_timeout`), so a server
that accepts the connection and then says nothing costs one background task for that long, never
the protocol loop. The message text is the caller's (keepalived's headers and body are built in
`daemon.mail`); lines are dot-stuffed here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

MAX_REPLY = 8192  # keepalived's reply buffer is 512 bytes; a bigger reply is a broken or hostile server


class SmtpError(Exception):
    """The server refused, went away, answered nonsense or took too long; `stage` says where."""

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(f"{stage}: {detail}")
        self.stage = stage


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    data: str  # headers, blank line, body; CRLF line ends


async def _reply(reader: asyncio.StreamReader, stage: str, timeout: float) -> int:
    """The code of the last line of a (possibly multi-line) reply."""
    total = 0
    while True:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except TimeoutError:
            raise SmtpError(stage, f"no reply within {timeout:g} s") from None
        except (OSError, ValueError) as exc:  # ValueError: a line longer than the stream limit
            raise SmtpError(stage, str(exc)) from exc
        if not line:
            raise SmtpError(stage, "the server closed the connection")
        total += len(line)
        if total > MAX_REPLY:
            raise SmtpError(stage, "reply too long")
        if len(line) < 4 or not line[:3].isdigit():
            raise SmtpError(stage, f"malformed reply {line[:40]!r}")
        if line[3:4] != b"-":
            return int(line[:3])


def dot_stuff(data: str) -> bytes:
    """RFC 5321 4.5.2: a line starting with '.' gets one more; the data ends with CRLF.CRLF."""
    lines = data.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return ("".join(("." + ln if ln.startswith(".") else ln) + "\r\n" for ln in lines) + ".\r\n").encode()


async def send_mail(host: str, port: int, helo: str, mail: Mail, timeout: float) -> None:
    """Deliver `mail`, or raise SmtpError / OSError; every network step waits at most `timeout`."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=MAX_REPLY), timeout)
    except TimeoutError:
        raise SmtpError("connect", f"timeout connecting to {host}:{port}") from None
    except OSError as exc:
        raise SmtpError("connect", f"{host}:{port}: {exc.strerror or exc}") from exc
    try:
        steps: list[tuple[str, bytes | None, Sequence[int]]] = [
            ("greeting", None, (220,)),
            ("HELO", f"HELO {helo}\r\n".encode(), (250,)),
            ("MAIL", f"MAIL FROM:<{mail.sender}>\r\n".encode(), (250,)),
        ]
        steps += [("RCPT", f"RCPT TO:<{r}>\r\n".encode(), (250, 251)) for r in mail.recipients]
        steps += [("DATA", b"DATA\r\n", (354,)), ("body", dot_stuff(mail.data), (250,))]
        for stage, command, expected in steps:
            if command is not None:
                writer.write(command)
                try:
                    await asyncio.wait_for(writer.drain(), timeout)
                except (TimeoutError, OSError) as exc:
                    raise SmtpError(stage, f"cannot send: {exc or 'timeout'}") from exc
            code = await _reply(reader, stage, timeout)
            if code not in expected:
                raise SmtpError(stage, f"server answered {code}")
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.drain(), timeout)
            await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), timeout)
