"""`make run`'s demo data: affiliates, offers of both kinds, and live endpoints that post to the
demo receiver (`manage.py demo_receiver`, http://127.0.0.1:8001)."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import models, transaction

from affiliates.models import Affiliate
from config.access import ACCOUNT_MANAGER_GROUP
from offers.models import Offer
from postbacks.models import EventType, PostbackEndpoint

M = TypeVar("M", bound=models.Model)

RECEIVER = "http://127.0.0.1:8001/postback"
NETWORK_QUERY = (
    "tx={transaction_id}&amount={amount}&currency={currency}&offer={offer_id}&event={event}"
    "&status={status}&signed={signed_amount}&pid={postback_id}"
)
# The demo's first endpoint also hears of reversals, in its tracker's words (README, Try it).
HEARS_REVERSALS = (1234567, None, "GET")
REVERSAL_WORDS = {"approved": "sale", "reversed": "refund"}

MANAGER = {
    "username": "manager",
    "email": "manager@localhost",
    "first_name": "Alex",
    "last_name": "Manager",
}

AFFILIATES: list[dict[str, Any]] = [
    {
        "network_id": 1234567,
        "name": "Night Owl Media",
        "email": "postbacks@nightowl.example",
        "tracker_params": ["affid", "TransID", "clickId", "whateverId"],
        "managed": True,
    },
    {
        "network_id": 2345678,
        "name": "Cam Traffic Partners",
        "email": "tech@camtraffic.example",
        "tracker_params": ["affid", "TransID", "clickId"],
        "managed": True,
    },
    {
        "network_id": 3456789,
        "name": "Pipe Dating Leads",
        "email": "ops@pipeleads.example",
        "tracker_params": ["subid", "clickId"],
        "tracker_separator": "|",
        "managed": False,
    },
    {
        "network_id": 4567890,
        "name": "Dormant Deals",
        "email": "hello@dormant.example",
        "tracker_params": ["clickId"],
        "status": Affiliate.Status.PAUSED,
        "managed": False,
    },
]

OFFERS: list[dict[str, Any]] = [
    {
        "network_offer_id": 66013,
        "name": "LiveCams Gold",
        "kind": Offer.Kind.PPS,
        "vertical": "live",
        "landing_url": "https://offers.example/livecams-gold",
        "payout": Decimal("35.00"),
        "currency": "USD",
    },
    {
        "network_offer_id": 66014,
        "name": "Dating Premium",
        "kind": Offer.Kind.PPS,
        "vertical": "dating",
        "landing_url": "https://offers.example/dating-premium",
        "payout": Decimal("25.00"),
        "currency": "EUR",
    },
    {
        "network_offer_id": 5001,
        "name": "LiveCams Revshare",
        "kind": Offer.Kind.REVSHARE,
        "vertical": "live",
        "landing_url": "https://offers.example/livecams",
        "revshare_percent": Decimal("25.00"),
        "currency": "USD",
    },
    {
        "network_offer_id": 5002,
        "name": "Dating Revshare",
        "kind": Offer.Kind.REVSHARE,
        "vertical": "dating",
        "landing_url": "https://offers.example/dating",
        "revshare_percent": Decimal("30.00"),
        "currency": "EUR",
    },
]

# (affiliate network id, offer network id or None for all offers, method, query, event codes)
ENDPOINTS: list[tuple[int, int | None, str, str, list[str]]] = [
    (
        1234567,
        None,
        "GET",
        "affid={affid}&trans={TransID}&click={clickId}&w={whateverId}&" + NETWORK_QUERY,
        ["freereg", "trial", "signup", "rebill"],
    ),
    (
        1234567,
        66014,
        "POST",
        "click={clickId}&" + NETWORK_QUERY,
        ["signup", "rebill"],
    ),
    (
        2345678,
        None,
        "GET",
        "aff={affid}&click={clickId}&" + NETWORK_QUERY,
        ["signup", "rebill"],
    ),
    (
        3456789,
        5002,
        "POST",
        "sub={subid}&cid={p2}&" + NETWORK_QUERY,
        ["freereg", "signup"],
    ),
    (
        4567890,
        None,
        "GET",
        "cid={clickId}&" + NETWORK_QUERY,
        ["signup"],
    ),
]


@dataclass
class Tally:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        target = self.created if created else self.updated
        target[kind] = target.get(kind, 0) + 1


def _put(model: type[M], tally: Tally, found: M | None, values: dict[str, Any]) -> M:
    """Set the demo values on the existing row (or a new one), validate as the admin does, save."""
    obj = found if found is not None else model()
    for name, value in values.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    tally.count(str(model._meta.verbose_name_plural), created=found is None)
    return obj


def _test_link(affiliate: Affiliate, offer: Offer) -> str:
    """An offer link as the affiliate's tracker would fill it in (docs/spec.md §1), for test
    postbacks."""
    values = [f"{name.lower()}{index}" for index, name in enumerate(affiliate.tracker_params, 1)]
    tracker = affiliate.tracker_separator.join(values)
    if offer.kind == Offer.Kind.PPS:
        link_id, head = offer.network_offer_id, f"{affiliate.network_id}_"
    else:
        link_id, head = affiliate.network_id, ""
    return (
        f"{offer.landing_url}?id={link_id};"
        f"tracker={affiliate.tracker_prefix}{head}{tracker}{affiliate.tracker_suffix}"
    )


class Command(BaseCommand):
    help = (
        "Load demo affiliates, offers and live postback endpoints aimed at the demo receiver "
        "(http://127.0.0.1:8001). Idempotent: demo records are found by their network ids and "
        "reset to the demo values; nothing else is touched."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        tally = Tally()
        with transaction.atomic():
            manager = self._manager(tally)
            affiliates = self._affiliates(tally, manager)
            offers = {
                spec["network_offer_id"]: _put(
                    Offer,
                    tally,
                    Offer.objects.filter(network_offer_id=spec["network_offer_id"]).first(),
                    {**spec, "is_active": True},
                )
                for spec in OFFERS
            }
            endpoints = self._endpoints(tally, affiliates, offers)
        self._summary(tally, manager, affiliates, offers, endpoints)

    def _manager(self, tally: Tally) -> Any:
        user_model = get_user_model()
        user = user_model.objects.filter(username=MANAGER["username"]).first()
        created = user is None
        if user is None:
            user = user_model(**MANAGER, is_staff=True)
            # The demo manager owns affiliates; it logs in only once someone sets a password.
            user.set_unusable_password()
            user.full_clean()
            user.save()
        # Its role (affiliates/migrations/0003_permission_groups): it sees its own affiliates.
        user.groups.add(*Group.objects.filter(name=ACCOUNT_MANAGER_GROUP))
        tally.count("users", created=created)
        return user

    def _affiliates(self, tally: Tally, manager: Any) -> dict[int, Affiliate]:
        result: dict[int, Affiliate] = {}
        for spec in AFFILIATES:
            values = {key: value for key, value in spec.items() if key != "managed"}
            values.setdefault("status", Affiliate.Status.ACTIVE)
            values.setdefault("tracker_separator", "-")
            values["account_manager"] = manager if spec["managed"] else None
            found = Affiliate.objects.filter(network_id=spec["network_id"]).first()
            result[spec["network_id"]] = _put(Affiliate, tally, found, values)
        return result

    def _endpoints(
        self, tally: Tally, affiliates: dict[int, Affiliate], offers: dict[int, Offer]
    ) -> list[PostbackEndpoint]:
        events = {event.code: event for event in EventType.objects.all()}
        result = []
        for network_id, offer_id, method, query, codes in ENDPOINTS:
            affiliate = affiliates[network_id]
            offer = offers[offer_id] if offer_id is not None else None
            hears_reversals = (network_id, offer_id, method) == HEARS_REVERSALS
            # One demo endpoint per (affiliate, offer, method): the first such row is the demo's.
            found = (
                PostbackEndpoint.objects.filter(affiliate=affiliate, offer=offer, method=method)
                .order_by("pk")
                .first()
            )
            endpoint = _put(
                PostbackEndpoint,
                tally,
                found,
                {
                    "affiliate": affiliate,
                    "offer": offer,
                    "method": method,
                    "url_template": f"{RECEIVER}?{query}",
                    "status": PostbackEndpoint.Status.LIVE,
                    "disabled_reason": "",
                    "fire_on": ["approved", "reversed"] if hears_reversals else ["approved"],
                    "status_values": REVERSAL_WORDS if hears_reversals else {},
                    # An all-offers endpoint is tested with a link to the first demo offer.
                    "test_link": _test_link(
                        affiliate, offer or offers[OFFERS[0]["network_offer_id"]]
                    ),
                },
            )
            endpoint.event_types.set([events[code] for code in codes])
            result.append(endpoint)
        return result

    def _summary(
        self,
        tally: Tally,
        manager: Any,
        affiliates: dict[int, Affiliate],
        offers: dict[int, Offer],
        endpoints: list[PostbackEndpoint],
    ) -> None:
        def counts(kinds: dict[str, int]) -> str:
            return ", ".join(f"{n} {kind}" for kind, n in kinds.items()) or "nothing"

        write = self.stdout.write
        write(
            f"Demo data: created {counts(tally.created)}; "
            f"already present (demo values restored) {counts(tally.updated)}."
        )
        write(f"  Account manager: {manager.username} (staff; set a password to log in as it)")
        for affiliate in affiliates.values():
            owner = f", managed by {manager.username}" if affiliate.account_manager_id else ""
            params = affiliate.tracker_separator.join(affiliate.tracker_params)
            write(
                f"  Affiliate {affiliate.network_id} {affiliate.name} ({affiliate.status}{owner});"
                f" tracker {affiliate.tracker_prefix}{params}{affiliate.tracker_suffix}"
            )
        for offer in offers.values():
            terms = (
                f"{offer.payout} {offer.currency} per sale"
                if offer.kind == Offer.Kind.PPS
                else f"{offer.revshare_percent}% revshare"
            )
            write(f"  Offer {offer.network_offer_id} {offer.name}: {terms}")
        for endpoint in endpoints:
            codes = ",".join(sorted(e.code for e in endpoint.event_types.all()))
            scope = f"offer {endpoint.offer.network_offer_id}" if endpoint.offer else "all offers"
            write(
                f"  Endpoint #{endpoint.pk} {endpoint.method} affiliate "
                f"{endpoint.affiliate.network_id}, {scope}, events {codes}: "
                f"{endpoint.url_template}"
            )
