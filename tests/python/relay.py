"""An SMTP server we did not write (aiosmtpd), standing in for the relay in tests/it/interop.rs.

    python3 tests/python/relay.py [pipelining] [refuse=ADDRESS ...]

Prints "ready PORT" once listening on 127.0.0.1, then one JSON line per message it accepts:
{"connection": N, "mail_from": ..., "rcpts": [...], "data": <bytes as latin-1>}. With
"pipelining" its EHLO also offers PIPELINING (RFC 2920): aiosmtpd reads commands one line at a
time from a buffered stream, so it takes pipelined input as any server must. Recipients named
with refuse= are answered 550.
"""
import asyncio
import itertools
import json
import sys

from aiosmtpd.smtp import SMTP

args = sys.argv[1:]
PIPELINING = "pipelining" in args
REFUSED = {a.split("=", 1)[1].lower() for a in args if a.startswith("refuse=")}
connections = itertools.count(1)


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if PIPELINING:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in REFUSED:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        line = {
            "connection": session.number,
            "mail_from": envelope.mail_from,
            "rcpts": envelope.rcpt_tos,
            "data": envelope.original_content.decode("latin-1"),
        }
        print(json.dumps(line), flush=True)
        return "250 2.0.0 Ok: queued"


class Session(SMTP):
    def connection_made(self, transport):
        super().connection_made(transport)
        self.session.number = next(connections)


async def main():
    loop = asyncio.get_running_loop()
    handler = Handler()
    server = await loop.create_server(
        lambda: Session(handler, decode_data=False, enable_SMTPUTF8=True),
        "127.0.0.1",
        0,
    )
    print("ready", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
