"""The sender's address guard on the wire: every form of a private address is refused, for good."""

import uuid

import pytest

from postbacks.delivery.guard import AddressGuard
from postbacks.delivery.sender import Outgoing, SenderConfig, send_now

STRICT = SenderConfig(guard=AddressGuard(), connect_timeout=2, total_timeout=3, user_agent="t")


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # decimal
        "http://0x7f000001/",  # hex
        "http://017700000001/",  # octal
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0/",
        "http://[::ffff:7f00:1]/",  # IPv4-mapped
        "http://[::127.0.0.1]/",  # IPv4-compatible
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "http://[::]/",
        "http://0.0.0.0/",
        "http://localhost/",  # a name that resolves to loopback: checked after resolution
    ],
)
def test_private_address_in_any_form_is_refused_and_never_retried(url):
    (outcome,) = send_now(
        [Outgoing(delivery_id=1, lease_token=uuid.uuid4(), number=1, url=url, method="GET")],
        STRICT,
    )
    assert outcome.refused
    assert outcome.status_code is None
    assert outcome.error.startswith("address refused:")


def test_allowed_loopback_is_reached(receiver):
    config = SenderConfig(
        guard=AddressGuard.from_cidrs(["127.0.0.0/8"]),
        connect_timeout=2,
        total_timeout=3,
        user_agent="t",
    )
    url = receiver.base_url + "/pb"
    (outcome,) = send_now(
        [Outgoing(delivery_id=1, lease_token=uuid.uuid4(), number=1, url=url, method="GET")],
        config,
    )
    assert (outcome.status_code, outcome.refused) == (200, False)
