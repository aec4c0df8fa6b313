from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.validators import RegexValidator
from django.db import models

from config.history import AuditedHistory
from postbacks import lifecycle
from postbacks.headers import HeaderError, headers_clean
from postbacks.macros import TemplateError, validate_template
from postbacks.plain_errors import plain_error


class EventType(models.Model):
    code = models.SlugField(max_length=32, unique=True, help_text="Fixed code, e.g. signup.")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def _default_fire_on() -> list[str]:
    return list(lifecycle.DEFAULT_FIRE_ON)


class PostbackEndpoint(models.Model):
    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST (query as form body)"
        JSON = "JSON", "POST (query as a JSON body, Standard Webhooks signed)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        TESTING = "testing", "Testing"
        LIVE = "live", "Live"
        DISABLED = "disabled", "Disabled"

    affiliate = models.ForeignKey(
        "affiliates.Affiliate", on_delete=models.CASCADE, related_name="endpoints"
    )
    offer = models.ForeignKey(
        "offers.Offer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="endpoints",
        help_text="Leave empty to fire for every offer.",
    )
    event_types = models.ManyToManyField(EventType, related_name="endpoints")
    url_template = models.CharField(
        max_length=2048,
        help_text="Absolute http(s) URL with macros in braces, e.g. "
        "https://track.example/pb?cid={clickId}&tx={transaction_id}",
    )
    method = models.CharField(max_length=4, choices=Method.choices, default=Method.GET)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    disabled_reason = models.TextField(blank=True)
    # The circuit breaker's memory (docs/spec.md §6): failed attempts in a row, and since when.
    failure_streak = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    test_link = models.CharField(
        max_length=2048,
        blank=True,
        help_text="An offer link with a filled-in tracker; test postbacks use its values.",
    )
    # Lists in JSON rather than a PostgreSQL array: `make run` may run on SQLite.
    fire_on = models.JSONField(
        default=_default_fire_on,
        # An empty list is refused by clean(), with a message that says what to choose.
        blank=True,
        help_text="The conversion statuses that fire this endpoint. Approved only: a pending "
        "sale waits for its approval, and a rejected one is never sent.",
    )
    status_values = models.JSONField(
        default=dict,
        blank=True,
        help_text='How the receiver spells each status, e.g. {"approved": "sale", "reversed": '
        '"rejected"}, for the {status} macro; a status left out is sent as it is named.',
    )
    # The live endpoint this one takes over from: disabled when this one is set live, so the
    # two never both fire (a setup request's endpoint beside the one it replaces).
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by",
        editable=False,
    )
    # Sent with every postback (postbacks/headers.py); kept like a secret: out of the history,
    # the API and exports, and shown by name only.
    headers = models.JSONField(default=dict, blank=True)
    success_body = models.CharField(
        max_length=200,
        blank=True,
        help_text="Text the receiver's answer must contain to count as received, e.g. OK "
        "(looked for in the first KiB). Empty: any 2xx answer is a success.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Who changed what, when (the admin's History), event types included. The breaker's
    # counters are bumped per delivery attempt (by raw SQL, which records nothing anyway): kept
    # out, so a version never differs by a counter and no attempt ever costs a history row.
    history = AuditedHistory(
        excluded_fields=["failure_streak", "failing_since", "updated_at", "headers"],
        m2m_fields=["event_types"],
    )
    # Not a column: the ids of event_types, as selectors.endpoints_by_affiliate reads them with
    # the endpoint (one query where a prefetch would make two, on every ingest).
    event_type_ids: list[int]

    class Meta:
        ordering = ["affiliate", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "testing", "live", "disabled"]),
                name="endpoint_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(method__in=["GET", "POST", "JSON"]),
                name="endpoint_method_valid",
            ),
        ]
        indexes = [models.Index(fields=["affiliate", "status"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        scope = (
            f"offer {self.offer.network_offer_id}" if self.offer_id and self.offer else "all offers"
        )
        return f"#{self.pk} {self.method} for affiliate {self.affiliate.network_id}, {scope}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            self.fire_on = lifecycle.fire_on_clean(self.fire_on)
        except lifecycle.StatusConfigError as exc:
            errors["fire_on"] = _sentence(exc)
        try:
            self.status_values = lifecycle.status_values_clean(self.status_values)
        except lifecycle.StatusConfigError as exc:
            errors["status_values"] = _sentence(exc)
        try:
            self.headers = headers_clean(self.headers or {})
        except HeaderError as exc:
            errors["headers"] = _sentence(exc)
        try:
            # The affiliate may be unsaved yet (created together with its endpoints).
            affiliate = self.affiliate
        except ObjectDoesNotExist:
            affiliate = None
        if affiliate is not None:
            try:
                validate_template(self.url_template, affiliate.tracker_params or [])
            except TemplateError as exc:
                errors["url_template"] = str(exc)
        if errors:
            raise ValidationError(errors)


class EndpointSecret(models.Model):
    """The key material of an endpoint's signing secret (postbacks/signing.py): what the HMAC
    needs, shown once when made and never again. Kept out of the endpoint's history, the admin,
    the API and exports; written only by postbacks.endpoint_secrets."""

    endpoint = models.ForeignKey(PostbackEndpoint, on_delete=models.CASCADE, related_name="secrets")
    key = models.CharField(max_length=64, help_text="Base64 of the key bytes.")
    created_at = models.DateTimeField()
    # Null while it is the current secret; after a rotation, when it stops signing.
    valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["endpoint", "-created_at"])]

    def __repr__(self) -> str:
        return f"<EndpointSecret #{self.pk} of endpoint #{self.endpoint_id}>"

    def __str__(self) -> str:
        return f"Signing secret #{self.pk} of endpoint #{self.endpoint_id}"


def _sentence(error: Exception) -> str:
    text = str(error)
    return f"{text[:1].upper()}{text[1:]}."


class Conversion(models.Model):
    class Attribution(models.TextChoices):
        ATTRIBUTED = "attributed", "Attributed"
        UNATTRIBUTED = "unattributed", "Unattributed"

    class Status(models.TextChoices):
        PENDING = lifecycle.PENDING, "Pending"
        APPROVED = lifecycle.APPROVED, "Approved"
        REJECTED = lifecycle.REJECTED, "Rejected"
        REVERSED = lifecycle.REVERSED, "Reversed"

    transaction_id = models.CharField(
        max_length=128, validators=[RegexValidator(r"\S", "The transaction id cannot be blank.")]
    )
    event_type = models.ForeignKey(EventType, on_delete=models.PROTECT, related_name="conversions")
    offer = models.ForeignKey("offers.Offer", on_delete=models.PROTECT, related_name="conversions")
    affiliate = models.ForeignKey(
        "affiliates.Affiliate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversions",
    )
    tracker_raw = models.CharField(max_length=1024, blank=True)
    tracker_values = models.JSONField(default=dict, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    attribution = models.CharField(max_length=16, choices=Attribution.choices)
    attribution_error = models.CharField(max_length=500, blank=True)
    # Changed only by postbacks.conversion_status (its rules: postbacks/lifecycle.py). The
    # database default covers rows written by raw INSERTs that do not name the column.
    status = models.CharField(
        max_length=16,
        choices=Status.choices,
        default=lifecycle.DEFAULT_STATUS,
        db_default=lifecycle.DEFAULT_STATUS,
    )
    status_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Changes made after ingest (a re-attribution, docs/spec.md §10), with who and why. Ingest
    # inserts by raw SQL and records nothing: a conversion's history starts at its first change.
    history = AuditedHistory()

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["transaction_id", "event_type"], name="conversion_unique_transaction_event"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=list(lifecycle.STATUSES)),
                name="conversion_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(attribution="unattributed") | models.Q(affiliate__isnull=False),
                name="conversion_attributed_has_affiliate",
            ),
            models.CheckConstraint(
                condition=~models.Q(transaction_id=""), name="conversion_transaction_id_not_empty"
            ),
        ]
        indexes = [
            models.Index(fields=["-received_at"]),
            models.Index(fields=["affiliate", "-received_at"]),
            models.Index(fields=["offer", "-received_at"]),
            models.Index(fields=["event_type", "-received_at"]),
            models.Index(
                fields=["-received_at"],
                condition=models.Q(attribution="unattributed"),
                name="conversion_unattributed_idx",
            ),
            # The conversions list filtered to what still waits for the network's decision.
            models.Index(
                fields=["-received_at"],
                condition=models.Q(status="pending"),
                name="conversion_pending_idx",
            ),
        ]
        permissions = [
            ("change_conversion_status", "Can approve, reject and reverse conversions"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} / {self.event_type.code}"


class ConversionStatusChange(models.Model):
    """One change of a conversion's status, as it happened: a record, never edited or deleted
    (PostgreSQL refuses both; migration 0009). Written only by postbacks.conversion_status."""

    class Source(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "Admin"

    conversion = models.ForeignKey(
        Conversion, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(max_length=16, choices=Conversion.Status.choices)
    to_status = models.CharField(max_length=16, choices=Conversion.Status.choices)
    reason = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField()
    # The API token's user or the admin user; a user with changes on record cannot be deleted
    # (deactivate it instead), so the record keeps saying who.
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=8, choices=Source.choices)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_status=models.F("to_status")),
                name="status_change_changes",
            ),
        ]
        # The dashboard counts the last 30 days' changes.
        indexes = [models.Index(fields=["-changed_at"], name="status_change_changed_at_idx")]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status} of conversion #{self.conversion_id}"


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (retry scheduled)"
        DEAD = "dead", "Dead"

    conversion = models.ForeignKey(
        Conversion, null=True, blank=True, on_delete=models.PROTECT, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        PostbackEndpoint, on_delete=models.PROTECT, related_name="deliveries"
    )
    url = models.CharField(max_length=4096)
    method = models.CharField(max_length=4, default="GET")
    # The conversion status this postback tells of: one delivery per conversion, endpoint and
    # status. Test postbacks say approved, as a sale's first postback does.
    status = models.CharField(
        max_length=16,
        choices=Conversion.Status.choices,
        default=lifecycle.APPROVED,
        db_default=lifecycle.APPROVED,
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    is_test = models.BooleanField(default=False)
    # Bookkeeping for the queue: when it was last handed to RQ, and who holds it until when.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "sending", "succeeded", "failed", "dead"]),
                name="delivery_state_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(is_test=True) | models.Q(conversion__isnull=False),
                name="delivery_real_has_conversion",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=list(lifecycle.STATUSES)),
                name="delivery_status_valid",
            ),
            models.UniqueConstraint(
                fields=["conversion", "endpoint", "status"],
                condition=models.Q(is_test=False),
                name="delivery_unique_conversion_endpoint_status",
            ),
        ]
        indexes = [
            # The sweep's query: due deliveries in the states a worker may claim.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state__in=["pending", "failed"]),
                name="delivery_due_idx",
            ),
            models.Index(
                fields=["locked_until"],
                condition=models.Q(state="sending"),
                name="delivery_sending_idx",
            ),
            # The admin's unfiltered list is newest first: without this it sorted the table.
            models.Index(fields=["-created_at"], name="delivery_created_idx"),
            models.Index(fields=["state", "-created_at"]),
            models.Index(fields=["endpoint", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"Delivery #{self.pk} ({self.state}) to endpoint #{self.endpoint_id}"

    @property
    def problem(self) -> str:
        """Its last error in plain words; "" when nothing went wrong."""
        return plain_error(error=self.last_error, status_code=self.last_status_code)


class DeliveryAttempt(models.Model):
    class Trigger(models.TextChoices):
        AUTO = "auto", "Automatic"
        MANUAL = "manual", "Manual"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    # The URL this attempt sent: a replay with the current template changes the delivery's URL,
    # and the attempts made before keep the one they sent.
    url = models.CharField(max_length=4096, blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.AUTO)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_unique_number"),
        ]
        indexes = [models.Index(fields=["-started_at"])]

    def __str__(self) -> str:
        outcome = self.status_code if self.status_code is not None else (self.error or "no answer")
        return f"Attempt {self.number} of delivery #{self.delivery_id}: {outcome}"

    @property
    def problem(self) -> str:
        """Its error in plain words; "" when the receiver answered 2xx."""
        return plain_error(error=self.error, status_code=self.status_code)


# Upper bounds (ms) of the attempt latency buckets: the hourly rollup's columns and the
# Prometheus histogram's buckets, so the dashboard and Prometheus agree on every count.
ATTEMPT_LATENCY_BOUNDS_MS = (25, 50, 100, 250, 500, 1000, 2500, 5000, 15000)


class AttemptHourly(models.Model):
    """Delivery attempts of real (not test) postbacks per endpoint, hour (UTC) and event: the
    dashboard's charts and tables read these instead of a million attempts. Maintained by
    `postbacks.delivery.rollup.attempts_rollup` in the transaction that logs the attempts; kept
    for good.

    Outcomes as the dashboard counts them: succeeded (2xx), dead (the attempt left its delivery
    dead), failed (any other). Latency as counts per bucket: `le_<n>ms` is n ms or less (and more
    than the bucket before), `over_15000ms` the rest."""

    LATENCY_BOUNDS = ATTEMPT_LATENCY_BOUNDS_MS

    endpoint = models.ForeignKey(
        PostbackEndpoint, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    hour = models.DateTimeField()
    event = models.CharField(max_length=32, blank=True)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    dead = models.PositiveIntegerField(default=0)
    latency_ms_total = models.PositiveBigIntegerField(default=0)
    le_25ms = models.PositiveIntegerField(default=0)
    le_50ms = models.PositiveIntegerField(default=0)
    le_100ms = models.PositiveIntegerField(default=0)
    le_250ms = models.PositiveIntegerField(default=0)
    le_500ms = models.PositiveIntegerField(default=0)
    le_1000ms = models.PositiveIntegerField(default=0)
    le_2500ms = models.PositiveIntegerField(default=0)
    le_5000ms = models.PositiveIntegerField(default=0)
    le_15000ms = models.PositiveIntegerField(default=0)
    over_15000ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "attempts per hour"
        verbose_name_plural = "attempts per hour"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "hour", "event"], name="attempt_hourly_unique_key"
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="attempt_hourly_hour_idx")]

    def __str__(self) -> str:
        return f"Attempts of endpoint #{self.endpoint_id} in the hour of {self.hour:%Y-%m-%d %H}:00"
