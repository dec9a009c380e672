"""A python-websockets server for picows' interoperability tests (test/client-python.test.ts).

Run with Debian's /usr/bin/python3 (python3-websockets). Listens on 127.0.0.1, port 0,
and prints "PORT <n>" on stdout once it listens. What each connection does depends on
the request path:

  /echo        send every message back as it came (text or binary); websockets
               answers pings by itself
  /fragments   send a text and a binary message as several frames each, then echo
  /ping        ping the client with a payload, wait for its pong, report "pong <hex>"
  /close       close with 4001 "bye" (a server-initiated close handshake)
  /error       close with 1011 "server error"
  /crash       raise in the handler: websockets fails the connection with 1011

Every connection's close code and reason as the server saw them are printed on
stdout as "CLOSED <path> <code> <reason>", so the test can check what arrived.
"""
import asyncio
import logging
import sys

import websockets

# The /crash case raises on purpose; its traceback is noise in the test output.
logging.getLogger("websockets").setLevel(logging.CRITICAL)


def report(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def report_close(ws, path):
    await ws.wait_closed()
    report("CLOSED %s %s %s" % (path, ws.close_code, ws.close_reason))


async def handler(ws, path=None):
    path = ws.path
    # Apart from the handler: /crash must leave it by raising, before the close.
    asyncio.ensure_future(report_close(ws, path))
    if path == "/echo":
        await echo(ws)
    elif path == "/fragments":
        await ws.send(["frag", "mented ", "t\u00e9xt"])
        await ws.send([b"\x00\x01", b"", b"\xfe\xff" * 300])
        await echo(ws)
    elif path == "/ping":
        waiter = await ws.ping(b"\x01\x02 python")
        await asyncio.wait_for(waiter, 5)
        await ws.send("pong " + b"\x01\x02 python".hex())
        await echo(ws)
    elif path == "/close":
        await ws.send("closing")
        await ws.close(4001, "bye")
    elif path == "/error":
        await ws.close(1011, "server error")
    elif path == "/crash":
        await ws.recv()
        raise RuntimeError("the handler crashed on purpose")
    else:
        await ws.close(4404, "no such path")


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        report("PORT %d" % server.sockets[0].getsockname()[1])
        # Until the test closes our stdin (or kills us).
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
