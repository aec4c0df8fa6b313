"""Big tables (issues 5 and 16): the admin changelists on a million rows, and the partner
postback log of one affiliate with a million deliveries."""

import statistics
import time
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from bench import loaders
from bench.report import RESULTS, Figure
from bench.scenarios import log
from bench.stack import Stack

PAGE_TARGET_MS = 500
EXPLAIN_FILE = RESULTS.parent / "partner_explain.txt"


def big_tables(stack: Stack, fixture: loaders.Fixture) -> list[Figure]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from affiliates.models import Affiliate

    opts = stack.options
    loaders.clear_records()
    big = Affiliate.objects.get(network_id=fixture.receivers[0].affiliate_network_id)
    took = loaders.load_big_tables(
        fixture,
        affiliate_id=big.pk,
        deliveries=opts.big_deliveries,
        attempts_per_delivery=opts.big_attempts_per_delivery,
    )
    counts = loaders.table_counts()
    log(f"big tables loaded in {took:.0f} s: {counts}")
    user = get_user_model().objects.create_superuser("bench-admin", "bench@localhost", "x")
    client = Client()
    client.force_login(user)
    tx = f"big-{opts.big_deliveries // 2 + 1}"
    pages = [
        ("conversions", "unfiltered", "/admin/postbacks/conversion/"),
        (
            "conversions",
            "filtered by event",
            f"/admin/postbacks/conversion/?event_type__id__exact={fixture.event_type_id}",
        ),
        (
            "conversions",
            "filtered: unattributed",
            "/admin/postbacks/conversion/?attribution__exact=unattributed",
        ),
        ("conversions", "searched by transaction id", f"/admin/postbacks/conversion/?q={tx}"),
        ("deliveries", "unfiltered", "/admin/postbacks/delivery/"),
        (
            "deliveries",
            "filtered by state=failed",
            "/admin/postbacks/delivery/?state__exact=failed",
        ),
        ("deliveries", "searched by transaction id", f"/admin/postbacks/delivery/?q={tx}"),
        ("attempts", "unfiltered", "/admin/postbacks/deliveryattempt/"),
        (
            "attempts",
            "filtered by trigger=manual",
            "/admin/postbacks/deliveryattempt/?trigger__exact=manual",
        ),
        ("attempts", "searched by transaction id", f"/admin/postbacks/deliveryattempt/?q={tx}"),
    ]
    figures: list[Figure] = []
    size = (
        f"{counts['postbacks_conversion']:,} conversions, {counts['postbacks_delivery']:,} "
        f"deliveries, {counts['postbacks_deliveryattempt']:,} attempts (loaded in {took:.0f} s)"
    )
    for table, what, url in pages:
        timings, status = _time_page(client, url, opts.admin_requests)
        log(f"admin {table} {what}: {statistics.median(timings):.0f} ms (HTTP {status})")
        figures.append(
            Figure(
                "big tables",
                f"admin {table}, {what} (ms)",
                timings,
                target="≤ 500 ms",
                sense="max",
                goal=500,
                note=(size if not figures else "") + ("" if status == 200 else f" HTTP {status}!"),
            )
        )
    # The day of the middle of the big affiliate's deliveries (one every 2 s back from now).
    day = (timezone.now() - timedelta(seconds=opts.big_deliveries)).date()
    return figures + partner_log(fixture, big, day=day, requests=opts.admin_requests)


def _time_page(client: Any, url: str, requests: int) -> tuple[list[float], int]:
    """One warm-up, then `requests` timed GETs (ms); and the last answer's status."""
    timings = []
    status = 0
    for i in range(requests + 1):
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        status = response.status_code
        if i:
            timings.append(elapsed)
    return timings, status


# ------------------------------------------------------------------------------
# The partner postback log of the affiliate with every delivery (issue 16)
# ------------------------------------------------------------------------------
def partner_log(
    fixture: loaders.Fixture, affiliate: Any, *, day: date, requests: int
) -> list[Figure]:
    """/partner/log/ as the big affiliate sees it, signed in with the link its e-mail carries,
    through Django's test client: unfiltered and with each filter. A page over its target has
    the plan of its slowest statement written to bench/results/partner_explain.txt."""
    from django.test import Client
    from django.urls import reverse

    from partners.sign_in import sign_in_token_make

    client = Client()
    token = sign_in_token_make(affiliate=affiliate)
    signed = client.post(reverse("partner:sign-in-link", kwargs={"token": token}))
    if signed.status_code != 302:
        raise RuntimeError(f"the partner sign-in answered {signed.status_code}")
    log_url = reverse("partner:log")
    pages = [
        ("unfiltered", log_url),
        ("failed only", f"{log_url}?failed=on"),
        (f"filtered by event ({fixture.event_code})", f"{log_url}?event={fixture.event_code}"),
        ("filtered by status (reversed)", f"{log_url}?status=reversed"),
        (f"filtered by day ({day.isoformat()})", f"{log_url}?day={day.isoformat()}"),
    ]
    deliveries = loaders.affiliate_deliveries(affiliate_id=affiliate.pk)
    figures: list[Figure] = []
    explained: list[str] = []
    for what, url in pages:
        timings, status = _time_page(client, url, requests)
        median = statistics.median(timings)
        # A full page has a link to older rows: without it the figure timed a near-empty page.
        full = b'id="next-page"' in client.get(url).content
        log(f"partner log {what}: {median:.0f} ms (HTTP {status}{'' if full else ', not full'})")
        note = "" if figures else f"one affiliate with {deliveries:,} deliveries, signed in"
        if status != 200:
            note += f" HTTP {status}!"
        if not full:
            note += f"{'; ' if note else ''}fewer than one page of rows"
        if median > PAGE_TARGET_MS:
            explained.append(_explain_slowest(client, what, url))
            note += f"{'; ' if note else ''}plan of the slowest statement: {EXPLAIN_FILE.name}"
        figures.append(
            Figure(
                "partner page",
                f"postback log, {what} (ms)",
                timings,
                target=f"≤ {PAGE_TARGET_MS} ms",
                sense="max",
                goal=PAGE_TARGET_MS,
                note=note.strip(),
            )
        )
    EXPLAIN_FILE.write_text("\n\n".join(explained) if explained else "every page within target\n")
    return figures


def _explain_slowest(client: Any, what: str, url: str) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return (
        f"## {what}: {url} ({float(slowest['time']) * 1000:.0f} ms)\n\n{slowest['sql']}\n\n{plan}"
    )
