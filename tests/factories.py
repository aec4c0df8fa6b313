"""factory_boy factories for the domain (docs/spec.md §2)."""

from decimal import Decimal
from typing import cast

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from affiliates.models import Affiliate, SetupRequest
from offers.models import Offer
from postbacks.models import Conversion, Delivery, DeliveryAttempt, EventType, PostbackEndpoint


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"manager{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@network.example")
    is_staff = True


class AffiliateFactory(factory.django.DjangoModelFactory[Affiliate]):
    class Meta:
        model = Affiliate

    network_id = factory.Sequence(lambda n: 1_000_000 + n)
    name = factory.Sequence(lambda n: f"Affiliate {n}")
    email = factory.LazyAttribute(lambda a: f"aff{a.network_id}@example.com")
    tracker_params = factory.LazyFunction(lambda: ["affid", "TransID", "clickId"])


class OfferFactory(factory.django.DjangoModelFactory[Offer]):
    class Meta:
        model = Offer

    network_offer_id = factory.Sequence(lambda n: 66_000 + n)
    name = factory.Sequence(lambda n: f"Offer {n}")
    kind = Offer.Kind.PPS
    vertical = "live"
    landing_url = "https://offers.example/go"
    payout = Decimal("35.00")
    currency = "USD"

    class Params:
        revshare = factory.Trait(
            kind=Offer.Kind.REVSHARE, payout=None, revshare_percent=Decimal("25")
        )


def event_type(code: str) -> EventType:
    return EventType.objects.get(code=code)


class PostbackEndpointFactory(factory.django.DjangoModelFactory[PostbackEndpoint]):
    class Meta:
        model = PostbackEndpoint
        skip_postgeneration_save = True

    affiliate = factory.SubFactory(AffiliateFactory)
    url_template = "https://track.example/pb?cid={clickId}&tx={transaction_id}"
    status = PostbackEndpoint.Status.LIVE

    @factory.post_generation
    def events(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            codes = extracted if extracted is not None else ["signup"]
            endpoint = cast(PostbackEndpoint, self)
            endpoint.event_types.set(EventType.objects.filter(code__in=codes))


class ConversionFactory(factory.django.DjangoModelFactory[Conversion]):
    class Meta:
        model = Conversion

    transaction_id = factory.Sequence(lambda n: f"tx-{n}")
    event_type = factory.LazyFunction(lambda: event_type("signup"))
    offer = factory.SubFactory(OfferFactory)
    affiliate = factory.SubFactory(AffiliateFactory)
    tracker_values = factory.LazyFunction(dict)
    occurred_at = factory.LazyFunction(timezone.now)
    attribution = Conversion.Attribution.ATTRIBUTED


class DeliveryFactory(factory.django.DjangoModelFactory[Delivery]):
    class Meta:
        model = Delivery

    conversion = factory.SubFactory(ConversionFactory)
    endpoint = factory.SubFactory(
        PostbackEndpointFactory, affiliate=factory.SelfAttribute("..conversion.affiliate")
    )
    url = "https://track.example/pb?cid=c1"
    next_attempt_at = factory.LazyFunction(timezone.now)


class DeliveryAttemptFactory(factory.django.DjangoModelFactory[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    number = 1
    started_at = factory.LazyFunction(timezone.now)
    duration_ms = 12
    status_code = 200


class SetupRequestFactory(factory.django.DjangoModelFactory[SetupRequest]):
    class Meta:
        model = SetupRequest

    network_id = factory.Sequence(lambda n: 2_000_000 + n)
    contact_email = "affiliate@example.com"
    offer_links = "https://offers.example/go?id=66013;tracker=trID_1234567_#affid#_trID"
    url_template = "https://track.example/pb?cid={clickId}"
    tracker_params = factory.LazyFunction(lambda: ["affid", "clickId"])
