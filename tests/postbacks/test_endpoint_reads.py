"""endpoints_by_affiliate and ingest_reads read endpoints with hand-written statements: what they
hand back must be what the ORM would (JSON decoded, the affiliate attached, the event types
listed)."""

import pytest

from affiliates.models import Affiliate
from postbacks.models import EventType, PostbackEndpoint
from postbacks.selectors import affiliates_by_network_id, endpoints_by_affiliate, ingest_reads
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


def field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_ingest_reads_gives_in_one_statement_what_the_separate_reads_give(
    django_assert_num_queries,
):
    """ingest_reads is the affiliates by network id, the live endpoints of the active ones and
    ids from the conversions' sequence, read together."""
    active = AffiliateFactory(network_id=501, tracker_params=["clickId"])
    paused = AffiliateFactory(network_id=502, status=Affiliate.Status.PAUSED)
    bare = AffiliateFactory(network_id=503)
    first = PostbackEndpointFactory(affiliate=active, status=PostbackEndpoint.Status.LIVE)
    second = PostbackEndpointFactory(affiliate=active, status=PostbackEndpoint.Status.LIVE)
    second.event_types.set(EventType.objects.filter(code__in=["sale", "signup"]))
    PostbackEndpointFactory(affiliate=active, status=PostbackEndpoint.Status.TESTING)
    PostbackEndpointFactory(affiliate=paused, status=PostbackEndpoint.Status.LIVE)
    wanted = {501, 502, 503, 9999}

    with django_assert_num_queries(1):
        found = ingest_reads(network_ids=wanted, new_conversions=3)

    separate = affiliates_by_network_id(network_ids=wanted)
    assert sorted(found.affiliates) == sorted(separate) == [501, 502, 503]
    for network_id, affiliate in found.affiliates.items():
        assert field_values(affiliate) == field_values(separate[network_id])
    expected = endpoints_by_affiliate(affiliate_ids={active.pk, paused.pk, bare.pk})
    assert {a: [e.pk for e in listed] for a, listed in found.endpoints.items()} == {
        active.pk: [first.pk, second.pk]
    }
    for got, want in zip(found.endpoints[active.pk], expected[active.pk], strict=True):
        assert field_values(got) == field_values(want)
        assert sorted(got.event_type_ids) == sorted(want.event_type_ids)
        assert got.affiliate is found.affiliates[501]
    ids = found.conversion_ids
    assert len(set(ids)) == 3
    later = ingest_reads(network_ids=set(), new_conversions=1).conversion_ids
    assert later[0] > max(ids)


def test_ingest_reads_with_no_affiliate_found_still_takes_its_ids():
    found = ingest_reads(network_ids={424242}, new_conversions=2)
    assert (found.affiliates, dict(found.endpoints), len(found.conversion_ids)) == ({}, {}, 2)
    assert ingest_reads(network_ids=set(), new_conversions=0).conversion_ids == []
