"""endpoints_by_affiliate reads endpoints with a hand-written statement: what it hands back must
be what the ORM would (JSON decoded, the affiliate attached, the event types listed)."""

import pytest

from affiliates.models import Affiliate
from postbacks.models import EventType, PostbackEndpoint
from postbacks.selectors import endpoints_by_affiliate
from tests.factories import AffiliateFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def test_endpoints_come_with_decoded_json_their_affiliate_and_event_types(
    django_assert_num_queries,
):
    affiliate = AffiliateFactory(tracker_params=["clickId", "sub1"])
    endpoint = PostbackEndpointFactory(
        affiliate=affiliate,
        status=PostbackEndpoint.Status.LIVE,
        status_values={"approved": "1", "rejected": "0"},
        headers={"X-Api-Key": "k"},
    )
    subscribed = EventType.objects.filter(code__in=["sale", "signup"])
    endpoint.event_types.set(subscribed)

    with django_assert_num_queries(1):
        found = endpoints_by_affiliate(affiliate_ids={affiliate.pk})
        (read,) = found[affiliate.pk]
        assert read.affiliate.tracker_params == ["clickId", "sub1"]
    assert read.status_values == {"approved": "1", "rejected": "0"}
    assert read.headers == {"X-Api-Key": "k"}
    assert sorted(read.event_type_ids) == sorted(s.pk for s in subscribed)
    reloaded = PostbackEndpoint.objects.get(pk=endpoint.pk)
    for field in PostbackEndpoint._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(reloaded, field.attname), field.name


def test_only_live_endpoints_of_active_affiliates_are_read():
    active = AffiliateFactory()
    paused = AffiliateFactory(status=Affiliate.Status.PAUSED)
    live = PostbackEndpointFactory(affiliate=active, status=PostbackEndpoint.Status.LIVE)
    PostbackEndpointFactory(affiliate=active, status=PostbackEndpoint.Status.TESTING)
    PostbackEndpointFactory(affiliate=paused, status=PostbackEndpoint.Status.LIVE)

    found = endpoints_by_affiliate(affiliate_ids={active.pk, paused.pk})

    assert {a: [e.pk for e in listed] for a, listed in found.items()} == {active.pk: [live.pk]}
    assert endpoints_by_affiliate(affiliate_ids=set()) == {}
