"""Postback records: database constraints, endpoint template validation, readable names (§2, §4)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from postbacks.models import Conversion, Delivery, EventType, PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    OfferFactory,
    PostbackEndpointFactory,
    event_type,
)

pytestmark = pytest.mark.django_db


def test_event_type_code_is_unique():
    with pytest.raises(IntegrityError), transaction.atomic():
        EventType.objects.create(code="signup", name="Another signup")


def test_conversion_is_unique_per_transaction_and_event():
    ConversionFactory.create(transaction_id="tx-1", event_type=event_type("signup"))
    ConversionFactory.create(transaction_id="tx-1", event_type=event_type("rebill"))
    with pytest.raises(IntegrityError), transaction.atomic():
        ConversionFactory.create(transaction_id="tx-1", event_type=event_type("signup"))


def test_attributed_conversion_needs_an_affiliate():
    with pytest.raises(IntegrityError), transaction.atomic():
        ConversionFactory.create(affiliate=None, attribution=Conversion.Attribution.ATTRIBUTED)


def test_unattributed_conversion_may_lack_an_affiliate():
    conversion = ConversionFactory.create(
        affiliate=None,
        attribution=Conversion.Attribution.UNATTRIBUTED,
        attribution_error="unknown affiliate 42",
    )
    assert conversion.pk is not None


def test_conversion_transaction_id_cannot_be_empty():
    with pytest.raises(IntegrityError), transaction.atomic():
        ConversionFactory.create(transaction_id="")


def test_real_delivery_needs_a_conversion():
    endpoint = PostbackEndpointFactory.create()
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryFactory.create(conversion=None, endpoint=endpoint, is_test=False)


def test_test_delivery_may_lack_a_conversion():
    delivery = DeliveryFactory.create(
        conversion=None, endpoint=PostbackEndpointFactory.create(), is_test=True
    )
    assert delivery.pk is not None


def test_one_real_delivery_per_conversion_and_endpoint():
    delivery = DeliveryFactory.create()
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryFactory.create(conversion=delivery.conversion, endpoint=delivery.endpoint)


def test_test_deliveries_may_repeat_for_a_conversion_and_endpoint():
    delivery = DeliveryFactory.create()
    DeliveryFactory.create(conversion=delivery.conversion, endpoint=delivery.endpoint, is_test=True)
    DeliveryFactory.create(conversion=delivery.conversion, endpoint=delivery.endpoint, is_test=True)
    assert Delivery.objects.filter(endpoint=delivery.endpoint).count() == 3


def test_attempt_numbers_are_unique_per_delivery():
    attempt = DeliveryAttemptFactory.create(number=1)
    DeliveryAttemptFactory.create(delivery=attempt.delivery, number=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryAttemptFactory.create(delivery=attempt.delivery, number=1)


def test_delivery_state_must_be_known():
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryFactory.create(state="lost")


@pytest.mark.parametrize(("field", "value"), [("status", "paused"), ("method", "PUT")])
def test_endpoint_status_and_method_must_be_known(field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        PostbackEndpointFactory.create(**{field: value})


def endpoint_for(template: str, params: list[str]) -> PostbackEndpoint:
    return PostbackEndpoint(
        affiliate=AffiliateFactory.create(tracker_params=params),
        url_template=template,
        status=PostbackEndpoint.Status.DRAFT,
    )


def test_endpoint_clean_refuses_an_unknown_macro_naming_it():
    endpoint = endpoint_for("https://t.example/pb?c={clickid}&z={zone}", ["affid", "clickId"])
    with pytest.raises(ValidationError) as caught:
        endpoint.full_clean()
    (message,) = caught.value.message_dict["url_template"]
    assert message.startswith("unknown macro {clickid} (did you mean {clickId}?)")


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("ftp://t.example/pb", "must start with http:// or https://"),
        ("t.example/pb?c={clickId}", "must be absolute"),
        ("https://{clickId}.example/pb", "cannot be used in the host"),
        ("https://t.example/pb?c={clickId", "never closed"),
    ],
)
def test_endpoint_clean_refuses_a_template_that_could_not_be_sent(template, reason):
    with pytest.raises(ValidationError) as caught:
        endpoint_for(template, ["clickId"]).full_clean()
    assert reason in caught.value.message_dict["url_template"][0]


def test_endpoint_clean_accepts_tracker_positional_and_network_macros():
    template = "https://t.example/pb?c={clickId}&p={p1}&tx={transaction_id}&o={offer_id}"
    endpoint_for(template, ["affid", "clickId"]).full_clean()


def test_event_type_str_shows_name_and_code():
    assert str(event_type("signup")) == "Signup (sale) (signup)"


def test_endpoint_str_shows_method_affiliate_and_scope():
    affiliate = AffiliateFactory.create(network_id=1234567)
    everywhere = PostbackEndpointFactory.create(affiliate=affiliate)
    one_offer = PostbackEndpointFactory.create(
        affiliate=affiliate, offer=OfferFactory.create(network_offer_id=66013), method="POST"
    )
    assert str(everywhere) == f"#{everywhere.pk} GET for affiliate 1234567, all offers"
    assert str(one_offer) == f"#{one_offer.pk} POST for affiliate 1234567, offer 66013"


def test_conversion_str_shows_transaction_and_event():
    conversion = ConversionFactory.create(transaction_id="tx-77", event_type=event_type("rebill"))
    assert str(conversion) == "tx-77 / rebill"


def test_delivery_str_shows_state_and_endpoint():
    delivery = DeliveryFactory.create(state=Delivery.State.DEAD)
    assert str(delivery) == f"Delivery #{delivery.pk} (dead) to endpoint #{delivery.endpoint_id}"


def test_attempt_str_shows_status_code_or_error():
    answered = DeliveryAttemptFactory.create(number=1, status_code=503)
    failed = DeliveryAttemptFactory.create(
        delivery=answered.delivery, number=2, status_code=None, error="connect timeout"
    )
    silent = DeliveryAttemptFactory.create(delivery=answered.delivery, number=3, status_code=None)
    delivery_id = answered.delivery_id
    assert str(answered) == f"Attempt 1 of delivery #{delivery_id}: 503"
    assert str(failed) == f"Attempt 2 of delivery #{delivery_id}: connect timeout"
    assert str(silent) == f"Attempt 3 of delivery #{delivery_id}: no answer"
