"""The public setup form (docs/spec.md §7): parse the form, call the services, render the answer.

Abuse protection, in the order a request meets it: the body size (413), CSRF (middleware), the
per-address rate limit (429; 503 while Redis, which counts it, is away), the honeypot (a bot
gets a confirmation that looks real, with a reference from the real sequence, and counts against
the submission limit; nothing is stored), then the per-field limits and the validation of
the form itself.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from affiliates.forms import SetupForm
from affiliates.invites import InviteError, invite_token_read
from affiliates.models import Affiliate
from affiliates.selectors import (
    portal_base_url,
    setup_initial_from_endpoint,
    setup_preview_rows,
    setup_request_reference,
)
from affiliates.setup_rate_limit import RateLimitUnavailable, rate_limit_consume
from affiliates.setup_requests import setup_request_decoy_reference, setup_request_submit
from config.client_address import client_address
from postbacks import lifecycle
from postbacks.receivers import PresetError, dedupe_warning, preset_get, preset_render

DONE_SALT = "setup-done"
View = Callable[..., HttpResponse]


def _refusal(request: HttpRequest, *, status: int, title: str, message: str) -> HttpResponse:
    if request.path.endswith("/preview/"):
        return JsonResponse({"ok": False, "error": message}, status=status)
    return render(request, "setup/error.html", {"title": title, "message": message}, status=status)


def _guarded(view: View) -> View:
    """Body size and rate limit for every POST, before the form is read."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = settings.SETUP_MAX_BODY_BYTES + 1
            if length > settings.SETUP_MAX_BODY_BYTES:
                return _refusal(
                    request,
                    status=413,
                    title=_("Too much text"),
                    message=_(
                        "The form is larger than we accept. Shorten the offer links or "
                        "your questions and send it again."
                    ),
                )
            refused = _rate_limited(request, bucket="preview")
            if refused is not None:
                return refused
        return view(request, *args, **kwargs)

    return wrapper


def _rate_limited(request: HttpRequest, *, bucket: str) -> HttpResponse | None:
    """The refusal when this use of `bucket` is over the limit (429) or cannot be counted
    because Redis is away (503); None when the request may go on."""
    try:
        allowed = rate_limit_consume(bucket=bucket, client=client_address(request))
    except RateLimitUnavailable:
        response = _refusal(
            request,
            status=503,
            title=_("Please try again in a few minutes"),
            message=_(
                "We cannot take requests from the form right now. Please try again in a "
                "few minutes: going back in your browser keeps what you typed."
            ),
        )
        response["Retry-After"] = "60"
        return response
    if allowed:
        return None
    minutes = settings.SETUP_RATE_WINDOW // 60
    return _refusal(
        request,
        status=429,
        title=_("Too many requests"),
        message=_(
            "We received too many requests from your address. Please wait up to "
            "%(minutes)d minutes and try again, or write to your account manager."
        )
        % {"minutes": minutes},
    )


def _invited(token: str | None) -> Affiliate | None:
    return invite_token_read(token=token) if token else None


def _invite_error(request: HttpRequest, exc: InviteError) -> HttpResponse:
    title = _("Invite link expired") if exc.status == 410 else _("Invite link not valid")
    return _refusal(request, status=exc.status, title=title, message=str(exc))


def _preview(form: SetupForm) -> list[Any]:
    data = form.cleaned_data
    code = data.get("receiver_preset") or ""
    return setup_preview_rows(
        network_id=data["network_id"],
        event_codes=form.event_codes_list,
        url_template=data["url_template"],
        tracker_params=data["tracker_params"],
        tracker_separator=data["tracker_separator"],
        test_link=data["test_link"],
        affiliate=form.affiliate,
        # The words of the tracker picked, so the preview shows what it will receive.
        status_values=preset_get(code).status_map
        if (code := data.get("receiver_preset"))
        else None,
    )


def _dedupe_warning(form: SetupForm) -> str:
    """Said beside the preview, never refused: {transaction_id} alone to several events."""
    data = form.cleaned_data
    code = data.get("receiver_preset") or ""
    fire_on = list(preset_get(code).fire_on) if code else list(lifecycle.DEFAULT_FIRE_ON)
    return dedupe_warning(
        url_template=data["url_template"], event_codes=form.event_codes_list, fire_on=fire_on
    )


def _done(reference: str) -> HttpResponse:
    return redirect("setup:done", signed=signing.dumps(reference, salt=DONE_SALT))


@require_http_methods(["GET", "POST"])
@_guarded
def setup_form(request: HttpRequest, token: str | None = None) -> HttpResponse:
    try:
        affiliate = _invited(token)
    except InviteError as exc:
        return _invite_error(request, exc)
    if request.method != "POST":
        # ?endpoint=<id>: a change request from the affiliate's own page, pre-filled from it.
        initial = (
            setup_initial_from_endpoint(affiliate=affiliate, endpoint_id=request.GET["endpoint"])
            if affiliate is not None and "endpoint" in request.GET
            else {}
        )
        form = SetupForm(affiliate=affiliate, initial=initial)
        return _page(request, form, token=token)
    form = SetupForm(request.POST, affiliate=affiliate)
    if form.is_bot():
        # Treated as a real submission in all it shows: the same limit, a real-looking reference.
        return _rate_limited(request, bucket="submit") or _done(setup_request_decoy_reference())
    if "preview" in request.POST or not form.is_valid():
        if form.is_valid():
            return _page(
                request, form, token=token, preview=_preview(form), warning=_dedupe_warning(form)
            )
        return _page(request, form, token=token)
    refused = _rate_limited(request, bucket="submit")
    if refused is not None:
        return refused
    client = client_address(request)
    data = form.cleaned_data
    try:
        setup_request = setup_request_submit(
            network_id=data["network_id"],
            contact_email=data["contact_email"],
            affiliate_name=data.get("affiliate_name") or "",
            offer_links=data["offer_links"],
            events=data["events"],
            event_codes=data.get("event_codes") or [],
            url_template=data["url_template"],
            method=data["method"],
            tracker_params=data["tracker_params"],
            tracker_param_descriptions=data["tracker_param_descriptions"],
            tracker_separator=data["tracker_separator"],
            test_link=data["test_link"],
            questions=data.get("questions") or "",
            client_ip=client if client != "unknown" else None,
            invited_affiliate=affiliate,
            base_url=portal_base_url(request=request),
            receiver_preset=data.get("receiver_preset") or "",
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return _page(request, form, token=token)
    return _done(setup_request_reference(setup_request=setup_request))


def _page(
    request: HttpRequest,
    form: SetupForm,
    *,
    token: str | None,
    preview: list[Any] | None = None,
    warning: str = "",
) -> HttpResponse:
    preview_url = (
        reverse("setup:invite-preview", kwargs={"token": token})
        if token
        else reverse("setup:preview")
    )
    return render(
        request,
        "setup/form.html",
        {
            "form": form,
            "invited": form.affiliate,
            "preview": preview,
            "preview_warning": warning,
            "preview_url": preview_url,
            "prefix": form.tracker_prefix,
            "suffix": form.tracker_suffix,
        },
    )


@require_POST
@_guarded
def setup_preview(request: HttpRequest, token: str | None = None) -> HttpResponse:
    """The live preview: the same form posted by setup.js, answered as JSON."""
    try:
        affiliate = _invited(token)
    except InviteError as exc:
        return _invite_error(request, exc)
    form = SetupForm(request.POST, affiliate=affiliate)
    if not form.is_valid():
        errors = {field: [str(m) for m in messages] for field, messages in form.errors.items()}
        if form.params_errors:
            errors["tracker_params"] = form.params_errors
        return JsonResponse({"ok": False, "errors": errors})
    rows = [
        {"event": r.event, "event_name": r.event_name, "url": r.url, "error": r.error}
        for r in _preview(form)
    ]
    return JsonResponse({"ok": True, "preview": rows, "warning": _dedupe_warning(form)})


@require_GET
def receiver_preset(request: HttpRequest) -> HttpResponse:
    """What a tracker preset fills in for a domain and key (setup form and endpoint admin):
    pure rendering, nothing stored, so it needs neither a session nor a rate limit."""
    query = request.GET
    try:
        preset = preset_get(query.get("preset", ""))
        rendered = preset_render(
            preset,
            query.get("domain", "")[:300],
            query.get("key", "")[:300],
            click_param=query.get("click_param", "")[:64] or "clickId",
        )
    except PresetError as exc:
        return JsonResponse({"ok": False, "field": exc.field, "error": str(exc)}, status=400)
    return JsonResponse(
        {
            "ok": True,
            "url_template": rendered.url_template,
            "status_values": rendered.status_values,
            "fire_on": rendered.fire_on,
            "click_macro": preset.click_macro,
            "dedupe_key": preset.dedupe_key,
            "doc_url": preset.doc_url,
            "note": preset.note,
        }
    )


def setup_done(request: HttpRequest, signed: str) -> HttpResponse:
    try:
        reference = signing.loads(signed, salt=DONE_SALT, max_age=24 * 3600)
    except signing.BadSignature:
        return redirect("setup:form")
    return render(request, "setup/done.html", {"reference": reference})
