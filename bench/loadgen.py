"""An HTTP load generator for where wrk is not installed: `python -m bench.loadgen URL`.

It keeps `--connections` requests in flight for `--seconds` and prints wrk's summary line,
`Requests/sec: N`, so the bench reads either tool the same way.
"""

import argparse
import asyncio
import time

import aiohttp


async def hammer(url: str, connections: int, seconds: float) -> float:
    done = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                async with session.get(url) as response:
                    await response.read()
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(connections)))
        return done / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    rate = asyncio.run(hammer(args.url, args.connections, args.seconds))
    print(f"Requests/sec: {rate:.2f}")


if __name__ == "__main__":
    main()
