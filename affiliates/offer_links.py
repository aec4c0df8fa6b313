"""The offer link an affiliate is handed: the offer's landing page with the affiliate's tracker
as #placeholders# for its own values."""

from django.core.exceptions import ValidationError

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks.tracker import placeholder_tracker


def offer_link_build(*, affiliate: Affiliate, offer: Offer) -> str:
    """The offer link to hand the affiliate, with its params as #placeholders#.

    revshare: ``<landing>?id=<affiliate network id>;tracker=trID_#affid#-..._trID``
    PPS:      ``<landing>?id=<offer id>;tracker=trID_<affiliate network id>_#affid#-..._trID``
    """
    if not affiliate.tracker_params:
        raise ValidationError(
            f"Affiliate {affiliate.network_id} has no tracker params yet; set them first."
        )
    fmt = affiliate.tracker_format
    if offer.kind == Offer.Kind.PPS:
        link_id = offer.network_offer_id
        tracker = placeholder_tracker(fmt, network_id=affiliate.network_id)
    else:
        link_id = affiliate.network_id
        tracker = placeholder_tracker(fmt)
    base = offer.landing_url
    if "?" not in base:
        joiner = "?"
    elif base.endswith(("?", ";", "&")):
        joiner = ""
    else:
        joiner = ";"
    return f"{base}{joiner}id={link_id};tracker={tracker}"
