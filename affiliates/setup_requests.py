"""Writes for setup requests: what an affiliate asks for through the setup form is checked as
the admin checks it, filed, announced to its account manager, then approved (into the
affiliate's tracker structure and an endpoint in testing) or rejected."""

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from affiliates.models import Affiliate, SetupRequest
from affiliates.selectors import (
    setup_request_breaks,
    setup_request_doubles,
    setup_request_reference,
)
from affiliates.services import affiliate_create, affiliate_update
from affiliates.validators import tracker_params_validate
from config.history import history_record_update
from postbacks.endpoints import endpoint_create, endpoint_disable
from postbacks.macros import TemplateError, validate_template
from postbacks.models import EventType, PostbackEndpoint
from postbacks.preview import tracker_from_test_link
from postbacks.receivers import PRESETS, preset_get
from postbacks.tracker import TrackerError, TrackerFormat

logger = logging.getLogger(__name__)

PRESET_CODES = frozenset(preset.code for preset in PRESETS)


EVENT_CODES_BY_CHOICE: dict[str, list[str]] = {
    SetupRequest.Events.CONVERSIONS: ["signup"],
    SetupRequest.Events.FREEREG: ["freereg"],
    SetupRequest.Events.BOTH: ["signup", "freereg"],
}


def setup_event_codes(*, events: str, event_codes: Sequence[str]) -> list[str]:
    """The event type codes an endpoint subscribes to for the affiliate's choice of events."""
    if events == SetupRequest.Events.CHOSEN:
        return list(dict.fromkeys(event_codes))
    if events not in EVENT_CODES_BY_CHOICE:
        raise ValidationError({"events": _("Choose which events you want to receive.")})
    return list(EVENT_CODES_BY_CHOICE[events])


def _sentence(text: str) -> str:
    text = text.strip()
    return f"{text[:1].upper()}{text[1:]}".rstrip(".") + "."


def setup_request_validate(
    *,
    network_id: int,
    events: str,
    event_codes: Sequence[str],
    url_template: str,
    method: str,
    tracker_params: object,
    tracker_separator: str,
    test_link: str,
    affiliate: Affiliate | None = None,
) -> list[str]:
    """Check what an affiliate asks for as the admin would (same validators), and the test link
    against the tracker structure. Returns the event codes; raises ValidationError by field."""
    affiliate = affiliate or Affiliate.objects.filter(network_id=network_id).first()
    errors: dict[str, str] = {}
    codes: list[str] = []
    try:
        codes = setup_event_codes(events=events, event_codes=event_codes)
        if not codes:
            raise ValidationError({"event_codes": _("Choose at least one event.")})
        active = set(
            EventType.objects.filter(code__in=codes, is_active=True).values_list("code", flat=True)
        )
        missing = [code for code in codes if code not in active]
        if missing:
            raise ValidationError(
                {
                    "event_codes": _("These events are not offered: %(codes)s.")
                    % {"codes": ", ".join(missing)}
                }
            )
    except ValidationError as exc:
        errors.update({field: msgs[0] for field, msgs in exc.message_dict.items()})
    if method not in PostbackEndpoint.Method.values:
        errors["method"] = "Choose GET or POST."
    params: list[str] = []
    try:
        params = tracker_params_validate(params=tracker_params)
        if not params:
            raise ValidationError(_("List at least one param of your tracker (e.g. clickId)."))
    except ValidationError as exc:
        errors["tracker_params"] = _sentence(exc.messages[0])
    fmt: TrackerFormat | None = None
    try:
        fmt = TrackerFormat(
            prefix=affiliate.tracker_prefix if affiliate else "trID_",
            suffix=affiliate.tracker_suffix if affiliate else "_trID",
            separator=tracker_separator,
            params=tuple(params),
        )
    except TrackerError as exc:
        errors["tracker_separator"] = _sentence(str(exc))
    try:
        validate_template(url_template, params)
    except TemplateError as exc:
        errors["url_template"] = f"This postback URL cannot be used: {str(exc).rstrip('.')}."
    if fmt is not None and params and "tracker_params" not in errors:
        try:
            tracker_from_test_link(test_link=test_link, fmt=fmt, network_id=network_id)
        except TrackerError as exc:
            errors["test_link"] = _sentence(str(exc))
    if errors:
        raise ValidationError(errors)
    return codes


def _notify_recipients(*, affiliate: Affiliate | None) -> list[str]:
    manager = affiliate.account_manager if affiliate else None
    if manager is not None and manager.email:
        return [manager.email]
    return list(settings.SETUP_NOTIFY_EMAIL)


def setup_request_notify(*, setup_request: SetupRequest, base_url: str = "") -> bool:
    """E-mail the affiliate's account manager (or SETUP_NOTIFY_EMAIL) about a new request.

    A mail that cannot be sent is logged: the request is filed and shows in the admin queue.
    """
    recipients = _notify_recipients(affiliate=setup_request.affiliate)
    if not recipients:
        logger.warning("setup request %s: nobody to notify", setup_request.pk)
        return False
    reference = setup_request_reference(setup_request=setup_request)
    admin_path = reverse("admin:affiliates_setuprequest_change", args=[setup_request.pk])
    verified = "yes (signed invite)" if setup_request.verified else "no (public form)"
    body = (
        f"Affiliate {setup_request.network_id} asks for a postback ({reference}).\n\n"
        f"Contact: {setup_request.contact_email}\n"
        f"Verified: {verified}\n"
        f"Events: {setup_request.get_events_display()}\n"
        f"Postback URL: {setup_request.url_template} ({setup_request.method})\n"
        f"Tracker params: {', '.join(setup_request.tracker_params)}\n"
        f"Test link: {setup_request.test_link}\n\n"
        f"Review it: {base_url.rstrip('/')}{admin_path}\n"
    )
    try:
        send_mail(
            subject=f"Postback setup request {reference} from affiliate {setup_request.network_id}",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        logger.exception("setup request %s: notification mail failed", setup_request.pk)
        return False
    return True


def setup_request_submit(
    *,
    network_id: int,
    contact_email: str,
    offer_links: str,
    events: str,
    event_codes: Sequence[str],
    url_template: str,
    method: str,
    tracker_params: list[str],
    tracker_param_descriptions: Mapping[str, str],
    tracker_separator: str,
    test_link: str,
    questions: str = "",
    affiliate_name: str = "",
    client_ip: str | None = None,
    invited_affiliate: Affiliate | None = None,
    base_url: str = "",
    receiver_preset: str = "",
) -> SetupRequest:
    """File what an affiliate asked for, validated as the admin validates, and tell its account
    manager. Through an invite the request is bound to that affiliate and marked verified."""
    if invited_affiliate is not None and network_id != invited_affiliate.network_id:
        raise ValidationError(
            {"network_id": _("This invite is for another network id; it cannot be changed.")}
        )
    affiliate = invited_affiliate or Affiliate.objects.filter(network_id=network_id).first()
    setup_request_validate(
        network_id=network_id,
        events=events,
        event_codes=event_codes,
        url_template=url_template,
        method=method,
        tracker_params=tracker_params,
        tracker_separator=tracker_separator,
        test_link=test_link,
        affiliate=affiliate,
    )
    setup_request = SetupRequest(
        affiliate=affiliate,
        network_id=network_id,
        affiliate_name=affiliate_name.strip(),
        contact_email=contact_email,
        offer_links=offer_links,
        events=events,
        event_codes=list(event_codes) if events == SetupRequest.Events.CHOSEN else [],
        url_template=url_template,
        receiver_preset=receiver_preset if receiver_preset in PRESET_CODES else "",
        method=method,
        tracker_params=list(tracker_params),
        tracker_param_descriptions={
            name: text for name, text in tracker_param_descriptions.items() if text
        },
        tracker_separator=tracker_separator,
        test_link=test_link,
        questions=questions,
        verified=invited_affiliate is not None,
        client_ip=client_ip,
    )
    setup_request.full_clean()
    setup_request.save()
    setup_request_notify(setup_request=setup_request, base_url=base_url)
    return setup_request


def setup_request_decoy_reference() -> str:
    """The reference to show a bot caught by the honeypot: the one a real request filed now
    would get, so nothing tells the two apart. On PostgreSQL it takes the id from the table's
    own sequence (a real request after it gets the next one, as after a real request); elsewhere
    (SQLite in development) it is the id after the last."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [SetupRequest._meta.db_table]
            )
            (pk,) = cursor.fetchone()
    else:
        pk = (SetupRequest.objects.aggregate(last=Max("pk"))["last"] or 0) + 1
    return setup_request_reference(setup_request=SetupRequest(pk=pk))


def _review_claim(
    *, setup_request: SetupRequest, status: str, reviewer: User, rejection_reason: str = ""
) -> bool:
    """Take a new request to `status` in one guarded UPDATE (only from `new`): of two managers
    reviewing it at the same moment, exactly one gets True."""
    return bool(
        SetupRequest.objects.filter(pk=setup_request.pk, status=SetupRequest.Status.NEW).update(
            status=status,
            reviewed_by=reviewer,
            reviewed_at=timezone.now(),
            rejection_reason=rejection_reason,
        )
    )


class SetupRequestReviewed(ValidationError):
    """The request was approved, rejected or deleted meanwhile: nothing of it can change now."""


def reviewed_elsewhere(
    setup_request: SetupRequest, *, doing: str = "approved or rejected"
) -> SetupRequestReviewed:
    current = SetupRequest.objects.filter(pk=setup_request.pk).values_list("status", flat=True)
    status = current.first() or "deleted"
    reference = setup_request_reference(setup_request=setup_request)
    return SetupRequestReviewed(
        f"{reference} is already {status}; only a new request can be {doing}."
    )


def _affiliate_name(setup_request: SetupRequest) -> str:
    """The name the affiliate gave; without one, its e-mail's local part."""
    if setup_request.affiliate_name:
        return setup_request.affiliate_name
    local = setup_request.contact_email.partition("@")[0].strip()
    return local[:200] if local else f"Affiliate {setup_request.network_id}"


def _preset_statuses(code: str) -> dict[str, Any]:
    """The statuses a picked tracker takes and its words for them; without a preset, the
    endpoint fires on approved sales only, in the portal's words."""
    if code not in PRESET_CODES:
        return {}
    preset = preset_get(code)
    return {"fire_on": list(preset.fire_on), "status_values": preset.status_map}


def _breaks_resolve(*, setup_request: SetupRequest, reviewer: User, disable_broken: bool) -> None:
    """Refuse, naming the ways out, when the request's params would break existing endpoints;
    with ``disable_broken``, disable them instead (inside the approval's transaction)."""
    breaks = setup_request_breaks(setup_request=setup_request)
    if not breaks:
        return
    if not disable_broken:
        listing = "; ".join(
            f"Postback endpoint #{b.endpoint.pk} would break: {b.problem}" for b in breaks
        )
        raise ValidationError(
            f"{listing}. Edit or disable those endpoints first, or approve with them disabled."
        )
    reference = setup_request_reference(setup_request=setup_request)
    for item in breaks:
        endpoint_disable(
            endpoint_id=item.endpoint.pk,
            reason=f"{reference} changed the tracker params: {item.problem}",
            user=reviewer,
        )


def setup_request_approve(
    *,
    setup_request: SetupRequest,
    reviewer: User,
    disable_broken: bool = False,
    replace_live: bool = False,
    seen_updated_at: datetime | None = None,
) -> PostbackEndpoint:
    """Turn a new request into the affiliate's tracker structure and a PostbackEndpoint in status
    `testing`, in one transaction, recording the reviewer. Existing endpoints that the new
    params would break refuse the approval, or with ``disable_broken`` are disabled with it.
    With ``replace_live``, the first live endpoint that receives the same events is replaced by
    the new one: disabled when the new one is set live, so a sale never fires twice. With
    ``seen_updated_at`` (the version the review page showed), a request edited since is refused:
    the reviewer approves the params whose breakage and preview they saw.

    The status change is a guarded UPDATE (only from `new`), so of two managers approving at the
    same moment one succeeds and the other is refused; anything that fails rolls it all back.
    """
    with transaction.atomic():
        if not _review_claim(
            setup_request=setup_request, status=SetupRequest.Status.APPROVED, reviewer=reviewer
        ):
            raise reviewed_elsewhere(setup_request)
        setup_request.refresh_from_db()
        if seen_updated_at is not None and setup_request.updated_at != seen_updated_at:
            raise ValidationError(
                f"{setup_request_reference(setup_request=setup_request)} was edited after this "
                "page was opened: check its params, the preview and the endpoints they would "
                "break again, then approve."
            )
        affiliate = (
            Affiliate.objects.select_for_update()
            .filter(network_id=setup_request.network_id)
            .first()
        )
        if affiliate is None:
            affiliate = affiliate_create(
                network_id=setup_request.network_id,
                name=_affiliate_name(setup_request),
                email=setup_request.contact_email,
                account_manager=reviewer,
                tracker_params=list(setup_request.tracker_params),
                tracker_separator=setup_request.tracker_separator,
            )
        else:
            _breaks_resolve(
                setup_request=setup_request, reviewer=reviewer, disable_broken=disable_broken
            )
            changes: dict[str, Any] = {
                "tracker_params": list(setup_request.tracker_params),
                "tracker_separator": setup_request.tracker_separator,
            }
            if affiliate.account_manager_id is None:
                changes["account_manager"] = reviewer
            if not affiliate.email:
                changes["email"] = setup_request.contact_email
            affiliate = affiliate_update(affiliate=affiliate, data=changes)
        codes = setup_event_codes(
            events=setup_request.events, event_codes=setup_request.event_codes
        )
        doubles = (
            setup_request_doubles(network_id=affiliate.network_id, event_codes=codes)
            if replace_live
            else []
        )
        endpoint = endpoint_create(
            affiliate_id=affiliate.network_id,
            event_types=codes,
            replaces_id=doubles[0].endpoint.pk if doubles else None,
            url_template=setup_request.url_template,
            method=setup_request.method,
            status=PostbackEndpoint.Status.TESTING,
            test_link=setup_request.test_link,
            **_preset_statuses(setup_request.receiver_preset),
        )
        SetupRequest.objects.filter(pk=setup_request.pk).update(affiliate=affiliate)
        history_record_update(
            instance=setup_request,
            user=reviewer,
            reason=f"approved: postback endpoint #{endpoint.pk} in testing",
        )
    return endpoint


def setup_request_reject(
    *, setup_request: SetupRequest, reviewer: User, reason: str
) -> SetupRequest:
    """Refuse a new request, with the reason the account manager gives the affiliate."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the request is rejected."})
    with transaction.atomic():
        claimed = _review_claim(
            setup_request=setup_request,
            status=SetupRequest.Status.REJECTED,
            reviewer=reviewer,
            rejection_reason=reason,
        )
        if claimed:
            history_record_update(instance=setup_request, user=reviewer, reason="rejected")
    if not claimed:
        raise reviewed_elsewhere(setup_request)
    return setup_request
