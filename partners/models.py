"""What the affiliate's own pages keep per affiliate: the counters that make a sign-in link
single use and let an account manager end every session at once."""

from django.db import models


class PartnerAccess(models.Model):
    """One row per affiliate that has asked for a sign-in link.

    ``login_nonce`` is inside every sign-in link; using a link moves it on (one guarded UPDATE),
    so a link works once and every older link stops working. ``session_epoch`` is inside every
    session; revoking moves it on, so every session opened before ends at its next request.
    """

    affiliate = models.OneToOneField(
        "affiliates.Affiliate", on_delete=models.CASCADE, related_name="partner_access"
    )
    login_nonce = models.PositiveBigIntegerField(default=0)
    session_epoch = models.PositiveBigIntegerField(default=0)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Partner access of affiliate #{self.affiliate_id}"
