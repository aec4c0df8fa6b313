from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from config.history import AuditedHistory
from offers.currencies import validate_currency


class Offer(models.Model):
    class Kind(models.TextChoices):
        REVSHARE = "revshare", "Revshare (%)"
        PPS = "pps", "Pay per sale (fixed)"

    network_offer_id = models.PositiveBigIntegerField(
        unique=True,
        validators=[MinValueValidator(1)],
        help_text="The PPS offer id, or the revshare program's id, on the network.",
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    vertical = models.CharField(max_length=100, blank=True, help_text="live, dating, ...")
    landing_url = models.URLField(max_length=1024, help_text="Base of the offer link.")
    payout = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Fixed payout per sale (PPS offers).",
    )
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code.")
    revshare_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        help_text="Share of what the customer pays (revshare offers).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Who changed what, when (the admin's History). updated_at is the record's own date.
    history = AuditedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["network_offer_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(network_offer_id__gte=1), name="offer_network_id_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["revshare", "pps"]), name="offer_kind_valid"
            ),
            models.CheckConstraint(
                # NULL would make the check pass (a CHECK passes on NULL): say NOT NULL too.
                condition=~models.Q(kind="pps") | models.Q(payout__isnull=False, payout__gt=0),
                name="offer_pps_needs_payout",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="revshare")
                | models.Q(
                    revshare_percent__isnull=False,
                    revshare_percent__gt=0,
                    revshare_percent__lte=100,
                ),
                name="offer_revshare_needs_percent",
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="offer_currency_iso4217"
            ),
        ]
        indexes = [models.Index(fields=["kind", "is_active"])]

    def __str__(self) -> str:
        return f"{self.name} (#{self.network_offer_id}, {self.get_kind_display()})"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == self.Kind.PPS and not self.payout:
            errors["payout"] = "A pay-per-sale offer needs a payout."
        if self.kind == self.Kind.REVSHARE and not self.revshare_percent:
            errors["revshare_percent"] = "A revshare offer needs a percentage."
        try:
            validate_currency(self.currency)
        except ValidationError as exc:
            errors["currency"] = exc.messages[0]
        else:
            self.currency = self.currency.upper()
        if errors:
            raise ValidationError(errors)
