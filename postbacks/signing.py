"""Signed postbacks: pure functions, no Django.

An endpoint's secret is 32 random bytes, shown once as ``whsec_<base64>`` (the Standard Webhooks
spelling, so the same secret verifies both kinds of postback):

- ``{signature}`` (any method) is the hex HMAC-SHA256, under the secret's bytes, of
  ``postback_id.transaction_id.event.status.amount.timestamp`` (the values as the macros render
  them, before URL encoding);
- a JSON postback carries the Standard Webhooks headers: ``webhook-id``, ``webhook-timestamp``
  and ``webhook-signature``, ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per secret
  still valid (during a rotation the old and the new), separated by spaces.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence

PREFIX = "whsec_"
KEY_BYTES = 32
SIGNED_MACROS = ("postback_id", "transaction_id", "event", "status", "amount", "timestamp")


def secret_generate() -> str:
    """A new secret as it is shown to the person who will paste it into the receiver."""
    return PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def signed_text(values: Mapping[str, str]) -> str:
    return ".".join(values.get(name, "") for name in SIGNED_MACROS)


def postback_signature(key: bytes, values: Mapping[str, str]) -> str:
    """The ``{signature}`` of a postback whose network macros are `values`."""
    return hmac.new(key, signed_text(values).encode("utf-8"), hashlib.sha256).hexdigest()


def webhook_signature(keys: Sequence[bytes], *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: a ``v1,`` signature under each key."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")
        for key in keys
    )
