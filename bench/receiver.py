"""The receiver the bench sends postbacks to: `python -m bench.receiver --listen HOST:PORT ...`.

One process serves every address:port it is given (each is a separate receiver as far as the
delivery engine's per-host limits go). Paths:

- `/pb/<ms>?tx=...`: answers 200 after <ms> milliseconds (0: at once), recording when `tx` arrived;
- `/hang?...`: never answers; the client times out;
- `/_arrivals`: the recorded {tx: unix time} since the last call, then forgets them;
- `/_count`: requests answered since start.
"""

import argparse
import asyncio
import json
import signal
import time

from aiohttp import web

HANG_FOREVER = 3600.0


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.count = 0

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path.startswith("/pb/"):
            arrived = time.time()
            tx = request.query.get("tx")
            if tx is not None:
                self.arrivals[tx] = arrived
            self.count += 1
            delay = int(path[4:] or 0)
            if delay:
                await asyncio.sleep(delay / 1000)
            return web.Response(text="OK")
        if path == "/hang":
            await asyncio.sleep(HANG_FOREVER)
            return web.Response(status=504)
        if path == "/_arrivals":
            arrivals, self.arrivals = self.arrivals, {}
            return web.Response(text=json.dumps(arrivals), content_type="application/json")
        if path == "/_count":
            return web.Response(text=str(self.count))
        return web.Response(status=404, text="unknown path")


async def serve(listen: list[tuple[str, int]]) -> None:
    receiver = Receiver()
    server = web.Server(receiver.handle, access_log=None)
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(server, host, port, reuse_address=True, backlog=4096)
        for host, port in listen
    ]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"receiver ready on {len(servers)} sockets", flush=True)
    await stop.wait()
    for srv in servers:
        srv.close()
    await server.shutdown(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", nargs="+", required=True, help="host:port ...")
    args = parser.parse_args()
    listen = [(item.rsplit(":", 1)[0], int(item.rsplit(":", 1)[1])) for item in args.listen]
    asyncio.run(serve(listen))


if __name__ == "__main__":
    main()
