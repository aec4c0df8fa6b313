"""Admin for offers; Offer.clean refuses a revshare offer without a percentage and a PPS offer
without a payout, and the model form shows those as errors on the field concerned."""

from django.contrib import admin
from django.db import models

from config.history_admin import HistoryAdmin
from offers.currencies import amount_display
from offers.models import Offer


@admin.register(Offer)
class OfferAdmin(HistoryAdmin):
    list_display = (
        "network_offer_id",
        "name",
        "kind",
        "vertical",
        "pays",
        "is_active",
        "updated_at",
    )
    list_display_links = ("network_offer_id", "name")
    list_filter = ("kind", "is_active", "vertical")
    search_fields = ("network_offer_id__exact", "name", "vertical")
    search_help_text = "Offer id (exact), name or vertical."
    readonly_fields = ("created_at", "updated_at")
    # Offer links are https; a landing URL typed without a scheme should not become http.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("network_offer_id", "name", "kind", "vertical", "landing_url")}),
        (
            "Payout",
            {
                "fields": (("payout", "currency"), "revshare_percent"),
                "description": "PPS offers need a payout; revshare offers need a percentage.",
            },
        ),
        (None, {"fields": ("is_active", ("created_at", "updated_at"))}),
    )

    @admin.display(description="Pays")
    def pays(self, obj: Offer) -> str:
        if obj.kind == Offer.Kind.REVSHARE:
            return f"{obj.revshare_percent}%" if obj.revshare_percent is not None else "-"
        return amount_display(obj.payout, obj.currency)
