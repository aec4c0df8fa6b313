"""Receivers that attack the sender (issue 6): a name that rebinds to a private address between
two postbacks, and answers too big or endless to hold. Real sockets on 127.0.0.1 throughout."""

import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from postbacks.delivery.guard import AddressGuard
from postbacks.delivery.sender import EXCERPT_BYTES, Outgoing, SenderConfig, send_now

# 127.0.0.1 stands in for a public receiver; every other address stays refused.
GUARD = AddressGuard.from_cidrs(["127.0.0.1/32"])


def outgoing(url: str) -> Outgoing:
    return Outgoing(delivery_id=1, lease_token=uuid.uuid4(), number=1, url=url, method="GET")


@dataclass
class RebindingResolver(AbstractResolver):
    """DNS that answers the allowed address first and a private one on every later lookup."""

    answers: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    later: str = "127.0.0.2"
    lookups: int = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups += 1
        address = self.answers.pop(0) if self.answers else self.later
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


def test_name_rebound_to_a_private_address_is_refused_at_connect(receiver):
    resolver = RebindingResolver()
    config = SenderConfig(
        guard=GUARD, connect_timeout=2, total_timeout=3, user_agent="t", resolver=resolver
    )
    url = f"http://rebind.example:{receiver.server.server_port}/pb"
    (first,) = send_now([outgoing(url)], config)
    (second,) = send_now([outgoing(url)], config)
    assert first.status_code == 200
    assert resolver.lookups == 2
    assert second.refused
    assert second.error == (
        "address refused: 127.0.0.2 is a loopback address; postbacks go to public addresses only"
    )
    assert len(receiver.received) == 1


@dataclass
class FloodServer:
    """Answers 200 and then sends body bytes until the client hangs up (or a bound is hit)."""

    headers: bytes
    bound: int = 512 * 1024 * 1024
    sent: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    listener: socket.socket = field(init=False)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/pb"

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        chunk = b"x" * 65536
        try:
            connection.recv(65536)
            connection.sendall(self.headers)
            while self.sent < self.bound:
                connection.sendall(chunk)
                self.sent += len(chunk)
        except OSError:
            pass  # the client hung up: what we came to see
        finally:
            connection.close()
            self.listener.close()
            self.done.set()


@pytest.fixture
def flood(request: pytest.FixtureRequest) -> Iterator[FloodServer]:
    server = FloodServer(headers=request.param)
    yield server
    server.done.wait(10)


HUNDRED_MB = b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\nContent-Type: text/plain\r\n\r\n"
ENDLESS = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"


@pytest.mark.parametrize("flood", [HUNDRED_MB, ENDLESS], ids=["100MB", "endless"], indirect=True)
def test_huge_or_endless_answer_is_read_only_as_far_as_it_is_logged(flood):
    config = SenderConfig(guard=GUARD, connect_timeout=2, total_timeout=30, user_agent="t")
    (outcome,) = send_now([outgoing(flood.url)], config)
    assert outcome.status_code == 200
    assert outcome.error == ""
    assert outcome.excerpt == "x" * EXCERPT_BYTES
    assert flood.done.wait(10), "the sender kept the connection open"
    # The sender hung up after its excerpt: what was sent is what the socket buffers took.
    assert flood.sent < 32 * 1024 * 1024
