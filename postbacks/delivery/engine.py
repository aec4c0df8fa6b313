"""A worker process's sending engine: many postbacks in flight, results written in batches.

The RQ job only claims deliveries and hands them over, so the worker is free to take the next job
while earlier postbacks are still on the wire. Inside the engine:

- one asyncio loop (its own thread) sends through the shared sender, at most `max_in_flight`
  at once and at most `max_per_host` per receiver, so a slow or dead receiver holds its own
  slots and nobody else's; a delivery that waited `host_wait` seconds for a slot of a saturated
  receiver goes back to the database, to be picked up again shortly, without an attempt;
- one writer thread logs outcomes in batches (one transaction per batch);
- `submit` blocks when the engine is full, which is the back-pressure on the RQ job loop.

If the process dies, claimed deliveries keep their lease and the sweep hands them out again.
"""

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

import aiohttp
from django.db import DatabaseError, close_old_connections
from yarl import URL

from postbacks.delivery.sender import Outcome, Outgoing, SenderConfig, open_session, send_one

logger = logging.getLogger(__name__)

RecordOutcomes = Callable[[list[Outcome]], object]
ReleaseOutgoing = Callable[[list[Outgoing]], object]

_STOP = object()


def host_key(url: str) -> str:
    try:
        parsed = URL(url)
        return f"{parsed.host}:{parsed.port}"
    except ValueError:
        return url


class DeliveryEngine:
    def __init__(
        self,
        *,
        config: SenderConfig,
        record: RecordOutcomes,
        release: ReleaseOutgoing,
        max_in_flight: int,
        max_per_host: int,
        max_held: int = 1024,
        host_wait: float = 5.0,
        batch_size: int = 500,
        batch_wait: float = 0.05,
    ) -> None:
        self._config = config
        self._record = record
        self._release = release
        self._max_in_flight = max_in_flight
        self._max_per_host = max_per_host
        self._host_wait = host_wait
        self._batch_size = batch_size
        self._batch_wait = batch_wait
        # Everything the engine holds (sending or waiting for a receiver's slot) counts here.
        self._capacity = threading.BoundedSemaphore(max_held)
        self._idle = threading.Condition()
        self._in_flight = 0
        self._results: queue.Queue[object] = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._host_users: dict[str, int] = defaultdict(int)
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._active: asyncio.Semaphore | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ready = threading.Event()
        self._loop_thread = threading.Thread(
            target=self._run_loop, name="postback-sender", daemon=True
        )
        self._writer = threading.Thread(
            target=self._run_writer, name="postback-writer", daemon=True
        )
        self.sent = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "DeliveryEngine":
        self._loop_thread.start()
        self._writer.start()
        self._ready.wait()
        if self._session is None:
            raise RuntimeError("the postback engine could not open its HTTP session")
        return self

    def close(self, timeout: float | None = None) -> None:
        """Finish what is in flight, write every outcome, then stop."""
        self.wait_idle(timeout)
        if self._session is not None:
            asyncio.run_coroutine_threadsafe(self._session.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(10)
        self._results.put(_STOP)
        self._writer.join()

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- submitting ---------------------------------------------------------------------------
    def submit(self, outgoing: Iterable[Outgoing]) -> None:
        for item in outgoing:
            self._capacity.acquire()
            with self._idle:
                self._in_flight += 1
            self._loop.call_soon_threadsafe(self._dispatch, item)

    def _dispatch(self, item: Outgoing) -> None:
        key = host_key(item.url)
        self._host_users[key] += 1
        if key not in self._host_slots:
            self._host_slots[key] = asyncio.Semaphore(self._max_per_host)
        self._loop.create_task(self._send(key, item))

    async def _send(self, key: str, item: Outgoing) -> None:
        slot = self._host_slots[key]
        assert self._session is not None and self._active is not None
        try:
            try:
                await asyncio.wait_for(slot.acquire(), self._host_wait)
            except TimeoutError:
                self._results.put(("release", item))
                return
            try:
                async with self._active:
                    outcome = await send_one(self._session, item)
            finally:
                slot.release()
            self._results.put(outcome)
            self.sent += 1
        finally:
            self._host_users[key] -= 1
            if not self._host_users[key]:
                del self._host_users[key]
                del self._host_slots[key]
            self._done()

    def _done(self) -> None:
        self._capacity.release()
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    # -- threads ------------------------------------------------------------------------------
    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._session = self._loop.run_until_complete(self._open_session())
        finally:
            self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _open_session(self) -> aiohttp.ClientSession:
        self._active = asyncio.Semaphore(self._max_in_flight)
        return open_session(self._config)

    def _run_writer(self) -> None:
        stopping = False
        while not stopping:
            batch: list[Outcome] = []
            released: list[Outgoing] = []
            item = self._results.get()
            deadline = time.monotonic() + self._batch_wait
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, Outcome):
                    batch.append(item)
                elif isinstance(item, tuple):
                    released.append(item[1])
                if stopping or len(batch) + len(released) >= self._batch_size:
                    break
                try:
                    item = self._results.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            self._write(batch, released, tries=5 if stopping else None)
        close_old_connections()

    def _write(self, batch: list[Outcome], released: list[Outgoing], tries: int | None) -> None:
        """Write until it sticks: an outcome not written means the postback is sent again once
        its lease runs out. When stopping, give up after a few tries rather than hang."""
        delay = 0.5
        while (batch or released) and (tries is None or tries > 0):
            if tries is not None:
                tries -= 1
            try:
                if batch:
                    self._record(batch)
                    batch = []
                if released:
                    self._release(released)
                    released = []
            except DatabaseError:
                logger.exception("could not record %d postback outcomes; retrying", len(batch))
                close_old_connections()
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
