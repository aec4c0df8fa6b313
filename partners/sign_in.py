"""Signing in to the affiliate's own pages: a link e-mailed to the affiliate's address.

A link is a signed, timestamped token naming the affiliate and its login nonce
(PartnerAccess.login_nonce). It works for PARTNER_LINK_MAX_AGE seconds and once: using it moves the
nonce on in one guarded UPDATE, so two clicks at the same moment open one session. A session holds
the affiliate and its session epoch; revoking moves the epoch on and ends every session.

Every way a link can fail (used, expired, forged, made for another affiliate or for another
purpose) gives the one message of SignInError: the page never says which, so it tells nobody
what a guessed link got right.

Asking for a link does the same work for a known and an unknown address: one lookup and one job
on the RQ mail queue, which the delivery worker runs (partners/jobs.py). The mail is sent there,
so the answer's timing does not say whether the address is an affiliate's.
"""

import logging
from collections.abc import Sequence

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from affiliates.models import Affiliate
from config.redis_tools import REDIS_ERRORS
from partners.models import PartnerAccess
from postbacks.delivery.rq_queue import get_mail_queue

logger = logging.getLogger(__name__)

LINK_SALT = "partner-sign-in"
SEND_LINKS_JOB = "partners.jobs.send_sign_in_links"
SESSION_AFFILIATE = "partner_affiliate"
SESSION_EPOCH = "partner_epoch"


class SignInMailUnavailable(Exception):
    """The mail job could not be queued (Redis is away): nothing is sent, for any address."""


class SignInError(Exception):
    """A sign-in link that cannot be used, whatever the reason."""

    def __init__(self) -> None:
        super().__init__(
            _(
                "This sign-in link cannot be used: it has expired, it was already used, or it "
                "is not a link we sent. Ask for a new one below."
            )
        )


def _access(affiliate: Affiliate) -> PartnerAccess:
    access, _created = PartnerAccess.objects.get_or_create(affiliate=affiliate)
    return access


def sign_in_token_make(*, affiliate: Affiliate) -> str:
    """A token for the affiliate's next sign-in: its row, its network id and its login nonce."""
    access = _access(affiliate)
    signer = signing.TimestampSigner(salt=LINK_SALT)
    return signer.sign_object(
        {"a": affiliate.pk, "n": affiliate.network_id, "k": access.login_nonce}, compress=True
    )


def _token_data(token: str) -> tuple[int, int, int]:
    signer = signing.TimestampSigner(salt=LINK_SALT)
    try:
        data = signer.unsign_object(token, max_age=settings.PARTNER_LINK_MAX_AGE)
    except (signing.BadSignature, ValueError) as exc:
        raise SignInError from exc
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in "ank"):
        raise SignInError
    return data["a"], data["n"], data["k"]


def _link_access(token: str) -> PartnerAccess:
    affiliate_id, network_id, nonce = _token_data(token)
    access = (
        PartnerAccess.objects.select_related("affiliate")
        .filter(affiliate_id=affiliate_id, affiliate__network_id=network_id, login_nonce=nonce)
        .first()
    )
    if access is None:
        raise SignInError
    return access


def sign_in_link_check(*, token: str) -> Affiliate:
    """The affiliate a link would sign in, without using it up. Raises SignInError."""
    return _link_access(token).affiliate


def sign_in_link_use(*, token: str) -> tuple[Affiliate, int]:
    """Use a link up: the affiliate it signs in and the session epoch to keep. Raises SignInError
    when the link cannot be used (one guarded UPDATE decides between two clicks at once)."""
    access = _link_access(token)
    # The epoch is part of the guard: a revocation between the read and this UPDATE moves the
    # nonce on too, so the session can never start with an epoch that was revoked.
    used = PartnerAccess.objects.filter(
        pk=access.pk, login_nonce=access.login_nonce, session_epoch=access.session_epoch
    ).update(login_nonce=F("login_nonce") + 1, last_sign_in_at=timezone.now())
    if used != 1:
        raise SignInError
    logger.info("partner sign-in: affiliate %s", access.affiliate.network_id)
    return access.affiliate, access.session_epoch


def sign_in_link_url(*, affiliate: Affiliate, base_url: str) -> str:
    token = sign_in_token_make(affiliate=affiliate)
    return base_url + reverse("partner:sign-in-link", kwargs={"token": token})


def sign_in_link_send(*, affiliate: Affiliate, base_url: str, language: str | None = None) -> None:
    """E-mail a fresh sign-in link to the affiliate's address, in ``language`` (else the current
    one). Does nothing for an affiliate without an address."""
    if not affiliate.email:
        return
    link = sign_in_link_url(affiliate=affiliate, base_url=base_url)
    minutes = settings.PARTNER_LINK_MAX_AGE // 60
    with translation.override(language or translation.get_language()):
        subject = _("Sign in to your postback page")
        body = _(
            "Hello %(name)s,\n\n"
            "Use this link to sign in to your postback page. It works once, for %(minutes)d "
            "minutes:\n\n%(link)s\n\n"
            "If you did not ask for it, you can ignore this message.\n"
        ) % {"name": affiliate.name, "minutes": minutes, "link": link}
    send_mail(subject, body, None, [affiliate.email], fail_silently=False)


def sign_in_links_send(*, affiliate_ids: Sequence[int], base_url: str, language: str) -> None:
    """E-mail a fresh link to each of these affiliates that still exists and has an address.
    Run again (RQ may run a job twice), it sends new links; using any one voids the others."""
    for affiliate in Affiliate.objects.filter(pk__in=affiliate_ids).order_by("pk"):
        sign_in_link_send(affiliate=affiliate, base_url=base_url, language=language)


def sign_in_link_request(*, email: str, base_url: str) -> None:
    """Queue the sending of a link to every affiliate with this address. An unknown address
    queues a job too, with no affiliate in it: the request does the same work either way. The
    caller answers the same either way (and has counted the request against its limits).

    The job names the affiliates' ids rather than the address: addresses are not written to
    Redis as they are (partners/limits.py hashes them for the same reason). Raises
    SignInMailUnavailable when the job cannot be queued. Nothing is sent inline then: that would
    make a known address's answer slow again exactly while Redis is away, and the limits refuse
    without Redis anyway, so the form answers 503 for every address."""
    affiliate_ids = list(
        Affiliate.objects.filter(email__iexact=email.strip())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    language = translation.get_language() or settings.LANGUAGE_CODE
    try:
        get_mail_queue().enqueue(SEND_LINKS_JOB, affiliate_ids, base_url, language, result_ttl=0)
    except REDIS_ERRORS as exc:
        logger.warning("sign-in link not queued: Redis unavailable: %s", exc)
        raise SignInMailUnavailable from exc


def partner_session_start(*, request: HttpRequest, affiliate: Affiliate, epoch: int) -> None:
    """Bind this browser's session to one affiliate (a new session key: no fixation)."""
    request.session.cycle_key()
    request.session[SESSION_AFFILIATE] = affiliate.pk
    request.session[SESSION_EPOCH] = epoch
    request.session.set_expiry(settings.PARTNER_SESSION_SECONDS)


def partner_session_end(*, request: HttpRequest) -> None:
    request.session.pop(SESSION_AFFILIATE, None)
    request.session.pop(SESSION_EPOCH, None)
    request.session.cycle_key()


def partner_session_affiliate(*, request: HttpRequest) -> Affiliate | None:
    """The affiliate this session is signed in as, or None (never signed in, signed out, or its
    sessions revoked since)."""
    affiliate_id = request.session.get(SESSION_AFFILIATE)
    epoch = request.session.get(SESSION_EPOCH)
    if not isinstance(affiliate_id, int) or not isinstance(epoch, int):
        return None
    access = (
        PartnerAccess.objects.select_related("affiliate")
        .filter(affiliate_id=affiliate_id, session_epoch=epoch)
        .first()
    )
    return access.affiliate if access else None


def partner_sessions_revoke(*, affiliate: Affiliate) -> None:
    """End every session of the affiliate and void every link not yet used."""
    _access(affiliate)
    PartnerAccess.objects.filter(affiliate=affiliate).update(
        session_epoch=F("session_epoch") + 1, login_nonce=F("login_nonce") + 1
    )
    logger.info("partner sessions revoked: affiliate %s", affiliate.network_id)
