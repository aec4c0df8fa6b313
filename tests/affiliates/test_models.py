"""Affiliates and setup requests: database constraints, model validation, readable names."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from affiliates.models import Affiliate
from tests.factories import AffiliateFactory, SetupRequestFactory

pytestmark = pytest.mark.django_db


def test_affiliate_network_id_is_unique():
    AffiliateFactory.create(network_id=1234567)
    with pytest.raises(IntegrityError), transaction.atomic():
        AffiliateFactory.create(network_id=1234567)


@pytest.mark.parametrize("network_id", [0, -5])
def test_affiliate_network_id_must_be_positive(network_id):
    with pytest.raises(IntegrityError), transaction.atomic():
        AffiliateFactory.create(network_id=network_id)


def test_affiliate_status_must_be_known():
    with pytest.raises(IntegrityError), transaction.atomic():
        AffiliateFactory.create(status="banned")


def test_affiliate_separator_cannot_be_empty():
    with pytest.raises(IntegrityError), transaction.atomic():
        AffiliateFactory.create(tracker_separator="")


def test_setup_request_network_id_must_be_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        SetupRequestFactory.create(network_id=0)


def test_setup_request_status_must_be_known():
    with pytest.raises(IntegrityError), transaction.atomic():
        SetupRequestFactory.create(status="maybe")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["affid", "click id"], "'click id' is not a valid param name"),
        (["affid", "affid"], "The param 'affid' is listed twice."),
        (["p1"], "'p1' is reserved for positional macros"),
        ({"affid": 1}, "Give the tracker params as a list of names, in order."),
        ([f"n{i}x" for i in range(21)], "At most 20 tracker params are allowed."),
    ],
)
def test_affiliate_clean_refuses_bad_tracker_params(params, message):
    affiliate = AffiliateFactory.build(tracker_params=params)
    with pytest.raises(ValidationError) as caught:
        affiliate.full_clean()
    assert message in caught.value.message_dict["tracker_params"][0]


def test_affiliate_clean_accepts_comma_separated_params_as_a_list():
    affiliate = AffiliateFactory.build(tracker_params="affid, TransID ,clickId")
    affiliate.full_clean()
    assert affiliate.tracker_params == ["affid", "TransID", "clickId"]


def test_affiliate_clean_refuses_a_suffix_equal_to_the_prefix():
    affiliate = AffiliateFactory.build(tracker_prefix="tr_", tracker_suffix="tr_")
    with pytest.raises(ValidationError) as caught:
        affiliate.full_clean()
    assert caught.value.message_dict["tracker_suffix"] == [
        "The suffix must differ from the prefix."
    ]


def test_affiliate_clean_refuses_a_non_positive_network_id():
    with pytest.raises(ValidationError) as caught:
        AffiliateFactory.build(network_id=0).full_clean()
    assert "network_id" in caught.value.message_dict


def test_affiliate_str_names_it_with_its_network_id():
    assert str(AffiliateFactory.build(name="Cam Traffic", network_id=1234567)) == (
        "Cam Traffic (#1234567)"
    )


def test_affiliate_tracker_format_follows_its_fields():
    affiliate = Affiliate(tracker_params=["a", "b"], tracker_separator="|")
    fmt = affiliate.tracker_format
    assert (fmt.prefix, fmt.suffix, fmt.separator, fmt.params) == (
        "trID_",
        "_trID",
        "|",
        ("a", "b"),
    )


def test_setup_request_str_names_affiliate_and_status():
    request = SetupRequestFactory.create(network_id=1234567)
    assert str(request) == f"Setup request #{request.pk} from affiliate 1234567 (New)"
