"""The e-mail that tells an affiliate its setup request was approved, and where its own postback
page is. The portal does not know which language the affiliate reads (the request does not keep
it), so the mail says it in each language the affiliate pages speak, English first."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from affiliates.models import SetupRequest
from affiliates.selectors import setup_request_reference

logger = logging.getLogger(__name__)


def approval_mail_send(*, setup_request: SetupRequest, partner_url: str) -> bool:
    """E-mail the request's contact address; False (logged) when the mail cannot be sent: the
    approval stands, and the account manager can send a sign-in link from the admin."""
    reference = setup_request_reference(setup_request=setup_request)
    subjects, bodies = [], []
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            subjects.append(
                _("Your postback is being set up (%(reference)s)") % {"reference": reference}
            )
            bodies.append(
                _(
                    "Your request %(reference)s was approved: we are testing your postback now "
                    "and set it live once your tracker answers.\n\n"
                    "Your own postback page shows every postback we send you; there you can test "
                    "your endpoint and send failed postbacks again. Sign in with this address: "
                    "%(url)s\n"
                )
                % {"reference": reference, "url": partner_url}
            )
    try:
        send_mail(
            subject=" / ".join(dict.fromkeys(subjects)),
            message="\n\n---\n\n".join(bodies),
            from_email=None,
            recipient_list=[setup_request.contact_email],
        )
    except Exception:
        logger.exception("setup request %s: approval mail failed", setup_request.pk)
        return False
    return True
