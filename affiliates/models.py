from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from affiliates.validators import tracker_params_validate
from config.history import AuditedHistory
from postbacks.tracker import TrackerFormat


class Affiliate(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    network_id = models.PositiveBigIntegerField(
        unique=True,
        validators=[MinValueValidator(1)],
        help_text="The affiliate's id on the network.",
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_affiliates",
        # Account managers are staff: API service users (create_api_token) are not offered in
        # the admin's choices and filters.
        limit_choices_to={"is_staff": True},
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    tracker_params = models.JSONField(
        default=list,
        blank=True,
        help_text="Names of the values in the tracker, in order, "
        'e.g. ["affid", "TransID", "clickId"].',
    )
    tracker_separator = models.CharField(max_length=8, default="-")
    tracker_prefix = models.CharField(max_length=32, default="trID_")
    tracker_suffix = models.CharField(max_length=32, default="_trID")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Who changed what, when (the admin's History). updated_at is the record's own date.
    history = AuditedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["network_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(network_id__gte=1), name="affiliate_network_id_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(tracker_separator=""), name="affiliate_separator_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "paused"]), name="affiliate_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "account_manager"])]

    def __str__(self) -> str:
        return f"{self.name} (#{self.network_id})"

    @property
    def tracker_format(self) -> TrackerFormat:
        return TrackerFormat(
            prefix=self.tracker_prefix,
            suffix=self.tracker_suffix,
            separator=self.tracker_separator,
            params=tuple(self.tracker_params or ()),
        )

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            self.tracker_params = tracker_params_validate(params=self.tracker_params)
        except ValidationError as exc:
            errors["tracker_params"] = exc.messages
        if not self.tracker_separator:
            errors["tracker_separator"] = ["The separator cannot be empty."]
        if (
            self.tracker_prefix
            and self.tracker_suffix
            and self.tracker_prefix == self.tracker_suffix
        ):
            errors["tracker_suffix"] = ["The suffix must differ from the prefix."]
        if errors:
            raise ValidationError(errors)


class SetupRequest(models.Model):
    """What an affiliate asked for through the setup form (docs/spec.md §7), until reviewed."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Events(models.TextChoices):
        CONVERSIONS = "conversions", "Conversions (sales)"
        FREEREG = "freereg", "Free registrations"
        BOTH = "both", "Conversions and free registrations"
        CHOSEN = "chosen", "A chosen set of events"

    affiliate = models.ForeignKey(
        Affiliate, null=True, blank=True, on_delete=models.SET_NULL, related_name="setup_requests"
    )
    network_id = models.PositiveBigIntegerField(validators=[MinValueValidator(1)])
    affiliate_name = models.CharField(
        "Name",
        max_length=200,
        blank=True,
        help_text="The name the affiliate gave (company or brand): a new affiliate is named so.",
    )
    contact_email = models.EmailField()
    offer_links = models.TextField(help_text="The offer links the affiliate uses, one per line.")
    events = models.CharField(max_length=16, choices=Events.choices, default=Events.CONVERSIONS)
    event_codes = models.JSONField(default=list, blank=True)
    url_template = models.CharField(max_length=2048)
    # The tracker preset picked on the form (postbacks/receivers.py), if any: approval gives the
    # endpoint its statuses and status words.
    receiver_preset = models.CharField(max_length=32, blank=True, default="")
    method = models.CharField(max_length=4, default="GET")
    tracker_params = models.JSONField(default=list)
    tracker_param_descriptions = models.JSONField(default=dict, blank=True)
    tracker_separator = models.CharField(max_length=8, default="-")
    test_link = models.CharField(max_length=2048, blank=True)
    questions = models.TextField(blank=True)
    verified = models.BooleanField(
        default=False, help_text="Submitted through a signed invite link for this affiliate."
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_setup_requests",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = AuditedHistory(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(network_id__gte=1), name="setuprequest_network_id_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["new", "approved", "rejected"]),
                name="setuprequest_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "verified", "-created_at"])]

    def __str__(self) -> str:
        status = self.get_status_display()
        return f"Setup request #{self.pk} from affiliate {self.network_id} ({status})"
