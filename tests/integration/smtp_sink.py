"""A real SMTP server (aiosmtpd) for namespace tests: every message, with its envelope, as one JSON line.

    python smtp_sink.py HOST PORT OUT.jsonl [--silent]

It writes OUT.jsonl.ready once it listens. With --silent it accepts connections and never says a
word (the server that hangs a naive client forever).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any


class Sink:
    def __init__(self, out: Path) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        record = {"helo": session.host_name, "from": envelope.mail_from, "rcpt": envelope.rcpt_tos,
                  "data": envelope.original_content.decode(errors="replace")}
        with self.out.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        return "250 OK"


async def silent(host: str, port: int) -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; waits for the client to give up

    server = await asyncio.start_server(hold, host, port)
    async with server:
        await server.serve_forever()


def main() -> None:
    host, port, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    ready = Path(str(out) + ".ready")
    if "--silent" in sys.argv:
        loop = asyncio.new_event_loop()
        task = loop.create_task(silent(host, port))
        loop.call_later(0.2, ready.touch)
        loop.run_until_complete(task)
        return
    from aiosmtpd.controller import Controller

    controller = Controller(Sink(out), hostname=host, port=port)
    controller.start()
    ready.touch()
    asyncio.new_event_loop().run_forever()


if __name__ == "__main__":
    main()
