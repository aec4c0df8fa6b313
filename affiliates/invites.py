"""Invites: a signed, timestamped link that pre-fills the setup form for one affiliate and
marks what it files as verified; made and e-mailed by its account manager."""

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from affiliates.models import Affiliate

INVITE_SALT = "setup-invite"


class InviteError(Exception):
    """An invite link that cannot be used; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def invite_token_make(*, affiliate: Affiliate) -> str:
    """A token naming the affiliate (its row and its network id), signed and timestamped."""
    signer = signing.TimestampSigner(salt=INVITE_SALT)
    return signer.sign_object({"a": affiliate.pk, "n": affiliate.network_id}, compress=True)


def invite_token_read(*, token: str) -> Affiliate:
    """The affiliate an invite token was made for. Raises InviteError: 410 when it expired,
    400 when it was not made here or no longer matches an affiliate."""
    signer = signing.TimestampSigner(salt=INVITE_SALT)
    try:
        data = signer.unsign_object(token, max_age=settings.SETUP_INVITE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise InviteError(
            _("This invite link has expired. Ask your account manager for a new one."), status=410
        ) from exc
    except (signing.BadSignature, ValueError) as exc:
        raise InviteError(
            _(
                "This invite link is not valid. Check that you copied all of it, or ask your "
                "account manager for a new one."
            ),
            status=400,
        ) from exc
    affiliate = None
    if isinstance(data, dict) and isinstance(data.get("a"), int) and isinstance(data.get("n"), int):
        affiliate = Affiliate.objects.filter(pk=data["a"], network_id=data["n"]).first()
    if affiliate is None:
        raise InviteError(
            _(
                "This invite link no longer matches an affiliate. Ask your account manager for "
                "a new one."
            ),
            status=400,
        )
    return affiliate


def invite_send(
    *, affiliate: Affiliate, link: str, sender: User, partner_url: str = "", language: str = "en"
) -> str:
    """E-mail the invite link to the affiliate, in ``language``; returns the address it went to.
    ``partner_url``: the affiliate's own postback page, named at the end of the mail."""
    if not affiliate.email:
        raise ValidationError(f"Affiliate {affiliate.network_id} has no e-mail address.")
    days = settings.SETUP_INVITE_MAX_AGE // 86400
    with translation.override(language):
        subject = _("Set up your postback")
        body = _(
            "Hello %(name)s,\n\n"
            "Please tell us where to send your postbacks, using this link (it is personal and "
            "valid for %(days)d days):\n\n%(link)s\n\n"
        ) % {"name": affiliate.name, "days": days, "link": link}
        if partner_url:
            body += _(
                "Once your postback is set up, your own postback page shows every postback we "
                "send you, and lets you test and repair them: %(url)s\n\n"
            ) % {"url": partner_url}
    send_mail(
        subject=subject,
        message=body + f"{sender.get_full_name() or sender.get_username()}\n",
        from_email=None,
        recipient_list=[affiliate.email],
        fail_silently=False,
    )
    return affiliate.email
