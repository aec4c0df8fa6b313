"""The affiliate's own pages under /partner/: parse the request, call one service or selector,
render. Every page but the sign-in ones needs a session bound to one affiliate (partner_page),
and every object is looked up from that affiliate: another affiliate's ids answer 404."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from affiliates.invites import invite_token_make
from affiliates.models import Affiliate
from affiliates.selectors import portal_base_url
from config.client_address import client_address
from partners.actions import LimitReached, partner_endpoint_test, partner_replay_failed
from partners.forms import (
    ENDPOINT_STATUS_WORDS,
    STATUS_WORDS,
    LogFilterForm,
    ReplayForm,
    SignInForm,
)
from partners.limits import LimitUnavailable, limit_consume
from partners.redaction import url_redact
from partners.selectors import (
    LOG_MAX_PAGES,
    LogFilters,
    partner_conversion,
    partner_endpoint,
    partner_endpoints,
    partner_log,
)
from partners.sign_in import (
    SignInError,
    SignInMailUnavailable,
    partner_session_affiliate,
    partner_session_end,
    partner_session_start,
    sign_in_link_check,
    sign_in_link_request,
    sign_in_link_use,
)

PartnerView = Callable[..., HttpResponse]


def partner_page(view: PartnerView) -> PartnerView:
    """The view gets the signed-in affiliate as its second argument; no session: sign in."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        affiliate = partner_session_affiliate(request=request)
        if affiliate is None:
            return redirect("partner:sign-in")
        return view(request, affiliate, *args, **kwargs)

    return wrapper


def _who(affiliate: Affiliate) -> str:
    return f"affiliate {affiliate.network_id} (partner page)"


def _refusal(
    request: HttpRequest, *, status: int, message: str, affiliate: Affiliate | None = None
) -> HttpResponse:
    context = {"message": message, "affiliate": affiliate}
    return render(request, "partner/refused.html", context, status=status)


def _too_many(request: HttpRequest, affiliate: Affiliate | None = None) -> HttpResponse:
    return _refusal(
        request,
        affiliate=affiliate,
        status=429,
        message=_("You did this too often in a short time. Please wait a few minutes."),
    )


def _unavailable(request: HttpRequest, affiliate: Affiliate | None = None) -> HttpResponse:
    response = _refusal(
        request,
        affiliate=affiliate,
        status=503,
        message=_("We cannot take this request right now. Please try again in a few minutes."),
    )
    response["Retry-After"] = "60"
    return response


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Ask for a link. The answer is the same whether or not the address is known."""
    form = SignInForm(request.POST or None)
    if request.method != "POST" or not form.is_valid():
        return render(request, "partner/sign_in.html", {"form": form})
    email = form.cleaned_data["email"]
    try:
        allowed = limit_consume(bucket="link-client", key=client_address(request))
        allowed = limit_consume(bucket="link-email", key=email) and allowed
    except LimitUnavailable:
        return _unavailable(request)
    if not allowed:
        return _too_many(request)
    try:
        sign_in_link_request(email=email, base_url=portal_base_url(request=request))
    except SignInMailUnavailable:
        return _unavailable(request)
    return redirect("partner:sign-in-sent")


@require_GET
def sign_in_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "partner/sign_in_sent.html")


@require_http_methods(["GET", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST signs in: a mail scanner that opens the link does not use it."""
    try:
        if request.method == "POST":
            affiliate, epoch = sign_in_link_use(token=token)
        else:
            affiliate = sign_in_link_check(token=token)
    except SignInError as exc:
        form = SignInForm()
        return render(
            request, "partner/sign_in.html", {"form": form, "link_error": str(exc)}, status=400
        )
    if request.method == "POST":
        partner_session_start(request=request, affiliate=affiliate, epoch=epoch)
        return redirect("partner:home")
    return render(request, "partner/sign_in_link.html", {"link_affiliate": affiliate})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    partner_session_end(request=request)
    return redirect("partner:sign-in")


@require_GET
@partner_page
def home(request: HttpRequest, affiliate: Affiliate) -> HttpResponse:
    context = {
        "affiliate": affiliate,
        "endpoints": partner_endpoints(affiliate=affiliate),
        "status_words": STATUS_WORDS,
        "endpoint_status_words": ENDPOINT_STATUS_WORDS,
    }
    return render(request, "partner/home.html", context)


@require_GET
@partner_page
def log(request: HttpRequest, affiliate: Affiliate) -> HttpResponse:
    form = LogFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = LogFilters(
        event=data.get("event") or "",
        status=data.get("status") or "",
        failed_only=bool(data.get("failed")),
        day=data.get("day"),
    )
    page = min(data.get("page") or 1, LOG_MAX_PAGES)
    rows, has_next = partner_log(affiliate=affiliate, filters=filters, page=page)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "affiliate": affiliate,
        "form": form,
        "rows": rows,
        "page": page,
        "has_next": has_next and page < LOG_MAX_PAGES,
        "query": query.urlencode(),
        "replay_form": ReplayForm(),
        "status_words": STATUS_WORDS,
    }
    return render(request, "partner/log.html", context)


@require_GET
@partner_page
def conversion(request: HttpRequest, affiliate: Affiliate, conversion_id: int) -> HttpResponse:
    found = partner_conversion(affiliate=affiliate, conversion_id=conversion_id)
    if found is None:
        raise Http404
    item, rows = found
    context = {
        "affiliate": affiliate,
        "conversion": item,
        "rows": rows,
        "status_words": STATUS_WORDS,
    }
    return render(request, "partner/conversion.html", context)


@require_POST
@partner_page
def endpoint_test(request: HttpRequest, affiliate: Affiliate, endpoint_id: int) -> HttpResponse:
    endpoint = partner_endpoint(affiliate=affiliate, endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404
    try:
        result = partner_endpoint_test(affiliate=affiliate, endpoint=endpoint, who=_who(affiliate))
    except LimitReached:
        return _too_many(request, affiliate)
    except LimitUnavailable:
        return _unavailable(request, affiliate)
    except ValidationError as exc:
        return _refusal(request, affiliate=affiliate, status=400, message=" ".join(exc.messages))
    context = {
        "affiliate": affiliate,
        "endpoint": endpoint,
        "result": result,
        "url": url_redact(result.url),
    }
    return render(request, "partner/test_result.html", context)


@require_POST
@partner_page
def replay(request: HttpRequest, affiliate: Affiliate) -> HttpResponse:
    form = ReplayForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(m) for errors in form.errors.values() for m in errors)
        return _refusal(request, affiliate=affiliate, status=400, message=message)
    try:
        result = partner_replay_failed(
            affiliate=affiliate, since=form.cleaned_data["since"], who=_who(affiliate)
        )
    except LimitReached:
        return _too_many(request, affiliate)
    except LimitUnavailable:
        return _unavailable(request, affiliate)
    context = {"affiliate": affiliate, "count": len(result.delivery_ids)}
    return render(request, "partner/replayed.html", context)


@require_GET
@partner_page
def change_request(request: HttpRequest, affiliate: Affiliate, endpoint_id: int) -> HttpResponse:
    """The setup form, pre-filled for this affiliate and endpoint, through an invite link: what
    it files is a verified SetupRequest for the account manager."""
    endpoint = partner_endpoint(affiliate=affiliate, endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404
    token = invite_token_make(affiliate=affiliate)
    url = reverse("setup:invite", kwargs={"token": token})
    return redirect(f"{url}?endpoint={endpoint.pk}")
