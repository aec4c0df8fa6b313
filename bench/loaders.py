"""The bench's own database, and the rows each scenario needs.

Scenario rows are made with bulk_create; the big tables (a million conversions, three million
attempts) with `INSERT ... SELECT generate_series` in SQL, which takes seconds instead of minutes.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from bench.config import DB_NAME, PG_URL, Options

TRACKER_PARAMS = ["clickId"]
ENDPOINT_QUERY = "tx={transaction_id}&click={clickId}&amount={amount}&event={event}"


def recreate_database(name: str = DB_NAME) -> None:
    """Drop and create a bench database (never the developers' or the tests')."""
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str = DB_NAME) -> None:
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate() -> None:
    call_command("migrate", verbosity=0, interactive=False)


@dataclass(frozen=True)
class Receiver:
    """One endpoint's receiver: an address:port of the bench's receiver processes."""

    endpoint_id: int
    affiliate_network_id: int
    host: str
    port: int
    hangs: bool

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Fixture:
    event_code: str
    event_type_id: int
    offer_id: int
    offer_network_id: int
    receivers: list[Receiver]

    @property
    def healthy(self) -> list[Receiver]:
        return [r for r in self.receivers if not r.hangs]


def load_fixture(options: Options) -> Fixture:
    """Affiliates, an offer and one live endpoint per receiver address:port (docs/spec.md §4
    shapes).

    Every fifth receiver is marked as one that hangs, for the isolation scenario (20 %)."""
    from affiliates.models import Affiliate
    from offers.models import Offer
    from postbacks.models import EventType, PostbackEndpoint

    event = EventType.objects.get(code="signup")
    offer = Offer.objects.create(
        network_offer_id=66013,
        name="Bench Gold",
        kind=Offer.Kind.PPS,
        landing_url="https://offers.example/bench",
        payout=Decimal("35.00"),
        currency="USD",
    )
    places = [(h, p) for p in options.receiver_ports for h in options.receiver_hosts_list()]
    hang_every = round(1 / options.hang_share) if options.hang_share else 0
    affiliates = Affiliate.objects.bulk_create(
        Affiliate(
            network_id=100_000 + i, name=f"Bench affiliate {i}", tracker_params=TRACKER_PARAMS
        )
        for i in range(len(places))
    )
    endpoints = PostbackEndpoint.objects.bulk_create(
        PostbackEndpoint(
            affiliate=affiliate,
            url_template=f"http://{host}:{port}/pb/0?{ENDPOINT_QUERY}",
            method="GET",
            status=PostbackEndpoint.Status.LIVE,
        )
        for affiliate, (host, port) in zip(affiliates, places, strict=True)
    )
    through = PostbackEndpoint.event_types.through
    through.objects.bulk_create(
        through(postbackendpoint_id=e.pk, eventtype_id=event.pk) for e in endpoints
    )
    receivers = [
        Receiver(
            endpoint_id=e.pk,
            affiliate_network_id=a.network_id,
            host=host,
            port=port,
            hangs=bool(hang_every) and i % hang_every == hang_every - 1,
        )
        for i, (e, a, (host, port)) in enumerate(zip(endpoints, affiliates, places, strict=True))
    ]
    return Fixture(event.code, event.pk, offer.pk, offer.network_offer_id, receivers)


def path_ok(receiver: Receiver, latency_ms: int = 0) -> str:
    return f"/pb/{latency_ms}"


def create_deliveries(
    fixture: Fixture,
    n: int,
    *,
    tag: str,
    path: Callable[[Receiver], str] = path_ok,
    receivers: Sequence[Receiver] | None = None,
) -> list[tuple[int, str, Receiver]]:
    """n conversions with one pending delivery each, spread round-robin over the receivers.

    Returns (delivery id, url, receiver) in creation order."""
    from postbacks.models import Conversion, Delivery

    spread = list(receivers or fixture.receivers)
    affiliate_ids = dict(
        _affiliate_pks_by_endpoint([r.endpoint_id for r in spread]),
    )
    out: list[tuple[int, str, Receiver]] = []
    chunk = 5000
    for start in range(0, n, chunk):
        now = timezone.now()
        rows = range(start, min(n, start + chunk))
        conversions = [
            Conversion(
                transaction_id=f"{tag}-{i}",
                event_type_id=fixture.event_type_id,
                offer_id=fixture.offer_id,
                affiliate_id=affiliate_ids[spread[i % len(spread)].endpoint_id],
                tracker_values={"clickId": f"c{i}"},
                amount=Decimal("12.50"),
                currency="USD",
                occurred_at=now,
                attribution=Conversion.Attribution.ATTRIBUTED,
            )
            for i in rows
        ]
        with transaction.atomic():
            Conversion.objects.bulk_create(conversions)
            deliveries = []
            for i, conversion in zip(rows, conversions, strict=True):
                receiver = spread[i % len(spread)]
                url = f"{receiver.base}{path(receiver)}?tx={tag}-{i}&click=c{i}&amount=12.50"
                deliveries.append(
                    Delivery(
                        conversion=conversion,
                        endpoint_id=receiver.endpoint_id,
                        url=url + "&event=signup",
                        method="GET",
                        next_attempt_at=now,
                        enqueued_at=now,
                    )
                )
            Delivery.objects.bulk_create(deliveries)
        out.extend(
            (d.pk, d.url, spread[i % len(spread)]) for i, d in zip(rows, deliveries, strict=True)
        )
    analyze()
    return out


def _affiliate_pks_by_endpoint(endpoint_ids: list[int]) -> list[tuple[int, int]]:
    from postbacks.models import PostbackEndpoint

    return list(
        PostbackEndpoint.objects.filter(pk__in=endpoint_ids).values_list("pk", "affiliate_id")
    )


def reset_deliveries() -> None:
    """Every delivery back to pending and queued-now, no attempts: the same rows run again."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE postbacks_deliveryattempt")
        cursor.execute(
            "UPDATE postbacks_delivery SET state = 'pending', attempts = 0, "
            "next_attempt_at = now(), enqueued_at = now(), lease_token = NULL, "
            "locked_until = NULL, completed_at = NULL, last_status_code = NULL, last_error = ''"
        )
        cursor.execute(
            "UPDATE postbacks_postbackendpoint SET failure_streak = 0, failing_since = NULL"
        )
    analyze()


def clear_records() -> None:
    """No conversions, deliveries or attempts: the next scenario starts from empty tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE postbacks_deliveryattempt, postbacks_delivery, "
            "postbacks_conversionstatuschange, postbacks_conversion"
        )
        cursor.execute(
            "UPDATE postbacks_postbackendpoint SET failure_streak = 0, failing_since = NULL"
        )
    analyze()


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE postbacks_conversion, postbacks_delivery, postbacks_deliveryattempt"
        )


def open_deliveries() -> int:
    """Deliveries still to send (pending, failed for a retry, or being sent)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM postbacks_delivery "
            "WHERE state IN ('pending', 'failed', 'sending')"
        )
        (count,) = cursor.fetchone()
    return int(count)


def set_aside_open_deliveries() -> int:
    """Deliveries a scenario left unsent, taken out of the way of the next one (marked dead):
    the next run measures its own conversions, not the CPU the last one's backlog still takes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE postbacks_delivery SET state = 'dead', last_error = 'set aside by the bench', "
            "lease_token = NULL, locked_until = NULL "
            "WHERE state IN ('pending', 'failed', 'sending')"
        )
        return int(cursor.rowcount)


def delivery_progress() -> tuple[int, int, float | None]:
    """(deliveries with a finished attempt, of which succeeded, unix time of the last one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE state IN ('succeeded', 'dead', 'failed')), "
            "count(*) FILTER (WHERE state = 'succeeded'), "
            "extract(epoch FROM max(updated_at) FILTER "
            "(WHERE state IN ('succeeded', 'dead', 'failed'))) "
            "FROM postbacks_delivery"
        )
        done, ok, last = cursor.fetchone()
    return int(done), int(ok), float(last) if last is not None else None


def attempt_finish_times(delivery_ids: Sequence[int]) -> dict[int, float]:
    """delivery id -> unix time its first attempt finished (started_at + duration)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT delivery_id, extract(epoch FROM started_at) + duration_ms / 1000.0 "
            "FROM postbacks_deliveryattempt WHERE number = 1 AND delivery_id = ANY(%s)",
            [list(delivery_ids)],
        )
        return {int(d): float(t) for d, t in cursor.fetchall()}


# ------------------------------------------------------------------------------
# Big tables (issue 5, item 4)
# ------------------------------------------------------------------------------
BIG_SQL = [
    # One affiliate (the partner page's figures: issue 16 asks for one with a million
    # postbacks) has every attributed conversion; one in 101 is unattributed (no affiliate).
    """
    INSERT INTO postbacks_conversion (transaction_id, event_type_id, offer_id, affiliate_id,
        tracker_raw, tracker_values, amount, currency, occurred_at, received_at, attribution,
        attribution_error)
    SELECT 'big-' || g, ev.ids[1 + g %% array_length(ev.ids, 1)], %(offer)s,
        CASE WHEN g %% 101 = 0 THEN NULL ELSE %(affiliate)s END,
        '', jsonb_build_object('clickId', 'c' || g), 12.50, 'USD',
        now() - g * interval '2 second', now() - g * interval '2 second',
        CASE WHEN g %% 101 = 0 THEN 'unattributed' ELSE 'attributed' END,
        CASE WHEN g %% 101 = 0 THEN 'unknown affiliate' ELSE '' END
    FROM generate_series(1, %(n)s) AS g,
        (SELECT array_agg(id ORDER BY id) AS ids FROM postbacks_eventtype) AS ev
    """,
    # One delivery per attributed conversion, to that affiliate's endpoint; 5 % failed, 1 % dead;
    # about 1 in 7 tells of a reversal and 1 in 11 of a pending sale, the rest of approvals.
    """
    INSERT INTO postbacks_delivery (conversion_id, endpoint_id, url, method, status, state,
        attempts, next_attempt_at, last_status_code, last_error, is_test, created_at, updated_at,
        completed_at)
    SELECT c.id, e.id, 'http://127.0.0.1:28100/pb/0?tx=' || c.transaction_id, 'GET',
        CASE WHEN c.id %% 7 = 3 THEN 'reversed' WHEN c.id %% 11 = 5 THEN 'pending'
             ELSE 'approved' END,
        CASE WHEN c.id %% 100 = 1 THEN 'dead' WHEN c.id %% 20 = 2 THEN 'failed'
             ELSE 'succeeded' END,
        %(attempts)s,
        CASE WHEN c.id %% 20 = 2 THEN c.received_at + interval '1 hour' END,
        CASE WHEN c.id %% 20 = 2 THEN 503 WHEN c.id %% 100 = 1 THEN 404 ELSE 200 END,
        '', false, c.received_at, c.received_at, c.received_at
    FROM postbacks_conversion c
    JOIN postbacks_postbackendpoint e ON e.affiliate_id = c.affiliate_id
    WHERE c.transaction_id LIKE 'big-%%'
    """,
    # Several attempts per delivery; 2 % of them manual replays.
    """
    INSERT INTO postbacks_deliveryattempt (delivery_id, number, started_at, duration_ms,
        status_code, response_excerpt, error, trigger, url)
    SELECT d.id, n, d.created_at + n * interval '1 minute', 12,
        CASE WHEN n < %(attempts)s THEN 503 ELSE 200 END,
        'OK', CASE WHEN n < %(attempts)s THEN 'receiver answered 503' ELSE '' END,
        CASE WHEN (d.id + n) %% 50 = 0 THEN 'manual' ELSE 'auto' END, d.url
    FROM postbacks_delivery d, generate_series(1, %(attempts)s) AS n
    WHERE NOT d.is_test
    """,
]


def load_big_tables(
    fixture: Fixture, *, affiliate_id: int, deliveries: int, attempts_per_delivery: int
) -> float:
    """Load the big tables in SQL and ANALYZE them (as autovacuum would); seconds taken.

    The affiliate (primary key) gets `deliveries` conversions and one delivery each; a further
    1 % of conversions is unattributed."""
    started = time.monotonic()
    params = {
        "offer": fixture.offer_id,
        "affiliate": affiliate_id,
        "n": deliveries + deliveries // 100,
        "attempts": attempts_per_delivery,
    }
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        for sql in BIG_SQL:
            cursor.execute(sql, params)
        cursor.execute("SET synchronous_commit = on")
    connection.close()
    with psycopg.connect(f"{PG_URL}/{DB_NAME}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE postbacks_conversion")
        conn.execute("VACUUM ANALYZE postbacks_delivery")
        conn.execute("VACUUM ANALYZE postbacks_deliveryattempt")
    return time.monotonic() - started


def table_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in ("postbacks_conversion", "postbacks_delivery", "postbacks_deliveryattempt"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
            counts[table] = int(cursor.fetchone()[0])
    return counts


def affiliate_deliveries(*, affiliate_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM postbacks_delivery d JOIN postbacks_postbackendpoint e "
            "ON e.id = d.endpoint_id WHERE e.affiliate_id = %s",
            [affiliate_id],
        )
        return int(cursor.fetchone()[0])
