"""The one way the portal reaches Redis: a client per process, a lock, a counter.

Every app imports these (the delivery queue hands the same client to RQ), so there is one
connection pool per process and one copy of each Redis idiom. Nothing here decides what a Redis
outage means: each function raises one of REDIS_ERRORS and its caller chooses to go on without
Redis (metrics, the ingest rate limit, the sweep) or to refuse (the setup form's rate limit).
"""

from django.conf import settings
from redis import Redis
from redis.exceptions import RedisError

# What a Redis call raises when the server is away or answers nonsense.
REDIS_ERRORS = (RedisError, OSError)

_clients: dict[str, Redis] = {}


def redis_url() -> str:
    """The Redis the settings name (REDIS_URL, which RQ_QUEUES carries; tests drill an outage by
    pointing the postbacks queue's URL elsewhere)."""
    return str(settings.RQ_QUEUES["postbacks"]["URL"])


def redis_client() -> Redis:
    """This process's client for the configured Redis, made on first use: a new client per call
    would open a new connection for every request. Connecting is lazy, so this never raises."""
    url = redis_url()
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = Redis.from_url(url)
    return client


def lock_take(key: str, *, seconds: float) -> bool:
    """Take the lock `key` for `seconds` (SET NX PX): True for exactly one caller per period.
    The lock is never released early; it lapses, so a holder that dies cannot keep it."""
    return bool(redis_client().set(key, "1", nx=True, px=max(1, int(seconds * 1000))))


def counter_add(key: str, *, amount: int = 1, ttl: int) -> int:
    """Add `amount` to the counter `key` and return its new value. The counter lives `ttl`
    seconds from its first use (EXPIRE NX in the same MULTI as the INCRBY): concurrent callers
    cannot all slip under a limit, and a window cannot be stretched by using it."""
    pipe = redis_client().pipeline(transaction=True)
    pipe.incrby(key, amount)
    pipe.expire(key, ttl, nx=True)
    value, _ = pipe.execute()
    return int(value)
