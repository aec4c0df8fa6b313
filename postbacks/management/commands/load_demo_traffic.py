"""`make run`'s demo traffic: a day of conversions of the demo affiliates (load_demo_data), so the
dashboard and the health pages have something to show on a fresh checkout.

Conversions go through ingest, as the API's do. Those of the past 23 hours get their attempts on
record with the hours they would have had (through the delivery services, so the rollup, the
breaker and the dashboard see them as real): most answered 200, a few failed (500, a timeout,
a refused connection) and are due again, so the worker delivers them to the demo receiver on
its retry. Those of the last hour are left to the worker, which delivers them to the demo
receiver when `make run` starts it. Idempotent within an hour: transaction ids carry the hour.
"""

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks.delivery.sender import Outcome
from postbacks.delivery.services import deliveries_claim, delivery_outcomes_record
from postbacks.services import IngestItem, IngestResult, conversions_ingest

HOURS = 24
# (affiliate network id, offer network id, event): what each demo hour brings.
HOURLY: list[tuple[int, int, str]] = [
    (1234567, 66013, "signup"),
    (1234567, 66014, "freereg"),
    (2345678, 66013, "signup"),
    (3456789, 5002, "freereg"),
]
# Hours ago -> what went wrong with the first attempt of that hour's first delivery.
FAILURES: dict[int, tuple[int | None, str, int]] = {
    19: (500, "", 180),
    12: (None, "timed out after 15.0 s", 15000),
    5: (
        None,
        "ClientConnectorError: Cannot connect to host 127.0.0.1:8001 ssl:default "
        "[Connect call failed ('127.0.0.1', 8001)]",
        3,
    ),
}


def _tracker(affiliate: Affiliate, number: int) -> str:
    values = [f"{name.lower()}{number}" for name in affiliate.tracker_params]
    body = affiliate.tracker_separator.join(values)
    return f"{affiliate.tracker_prefix}{affiliate.network_id}_{body}{affiliate.tracker_suffix}"


class Command(BaseCommand):
    help = (
        "Load a day of demo conversions for the demo affiliates (run load_demo_data first): the "
        "past hours' postbacks on record with a few failures due again, the last hour's left to "
        "the worker, which delivers them to the demo receiver. Idempotent within an hour."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        affiliates = {
            a.network_id: a
            for a in Affiliate.objects.filter(network_id__in={n for n, _, _ in HOURLY})
        }
        offers = {o.network_offer_id: o for o in Offer.objects.all()}
        if len(affiliates) < len({n for n, _, _ in HOURLY}):
            raise CommandError("The demo affiliates are missing: run load_demo_data first.")
        now = timezone.now()
        hour_tag = now.strftime("%Y%m%d%H")
        # Demo latencies and minutes, the same for a given hour; nothing secret.
        rng = random.Random(hour_tag)  # noqa: S311
        items: list[tuple[int, IngestItem]] = []
        for hours_ago in range(HOURS - 1, -1, -1):
            for index, (network_id, offer_id, event) in enumerate(HOURLY):
                offer = offers[offer_id]
                number = hours_ago * len(HOURLY) + index
                items.append(
                    (
                        hours_ago,
                        IngestItem(
                            transaction_id=f"demo-{hour_tag}-{number:03}",
                            event=event,
                            offer_id=offer_id,
                            tracker=_tracker(affiliates[network_id], number),
                            amount=offer.payout or Decimal("12.50"),
                            currency=offer.currency,
                            occurred_at=now
                            - timedelta(hours=hours_ago, minutes=rng.randint(1, 50)),
                        ),
                    )
                )
        results = conversions_ingest(items=[item for _, item in items])
        recorded = failed = 0
        for hours_ago in range(HOURS - 1, 0, -1):
            fresh = [
                result
                for (ago, _), result in zip(items, results, strict=True)
                if ago == hours_ago and isinstance(result, IngestResult) and result.created
            ]
            delivery_ids = [pk for result in fresh for pk in result.delivery_ids]
            outcomes = []
            for position, out in enumerate(deliveries_claim(delivery_ids=sorted(delivery_ids))):
                started = now - timedelta(hours=hours_ago, minutes=rng.randint(0, 55))
                code, error, duration = (
                    FAILURES[hours_ago]
                    if position == 0 and hours_ago in FAILURES
                    else (200, "", rng.randint(30, 400))
                )
                failed += code != 200
                outcomes.append(
                    Outcome(
                        outgoing=out,
                        started_at=started,
                        duration_ms=duration,
                        status_code=code,
                        excerpt="OK" if code == 200 else "",
                        error=error,
                    )
                )
            recorded += delivery_outcomes_record(outcomes=outcomes)
        left = sum(
            len(result.delivery_ids)
            for (ago, _), result in zip(items, results, strict=True)
            if ago == 0 and isinstance(result, IngestResult) and result.created
        )
        self.stdout.write(
            f"Demo traffic: {sum(isinstance(r, IngestResult) and r.created for r in results)} "
            f"conversions over {HOURS} hours; {recorded} attempts on record ({failed} failed, "
            f"due again); {left} postbacks left to the worker for the demo receiver."
        )
