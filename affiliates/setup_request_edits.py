"""An account manager's corrections to a new setup request before approving it (issue 15): the
tracker params an affiliate asked for would break its existing endpoints, or were mistyped, and
the manager fixes them rather than sending the affiliate back to the form."""

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from affiliates.models import SetupRequest
from affiliates.selectors import SETUP_REQUEST_EDITABLE
from affiliates.setup_requests import reviewed_elsewhere, setup_request_validate
from affiliates.validators import tracker_params_validate
from config.history import history_record_update


def setup_request_edit_validate(
    *,
    setup_request: SetupRequest,
    tracker_params: object,
    tracker_separator: str,
    url_template: str,
    test_link: str,
) -> list[str]:
    """Check an account manager's edit of a request with the setup form's own checks
    (setup_request_validate, with the request's other answers as the affiliate gave them), so
    a request edited in the admin is one the affiliate could have sent. Returns the params as a
    list; raises ValidationError by field, or SetupRequestReviewed once it is not new."""
    if not SetupRequest.objects.filter(
        pk=setup_request.pk, status=SetupRequest.Status.NEW
    ).exists():
        raise reviewed_elsewhere(setup_request, doing="edited")
    setup_request_validate(
        network_id=setup_request.network_id,
        events=setup_request.events,
        event_codes=setup_request.event_codes,
        url_template=url_template,
        method=setup_request.method,
        tracker_params=tracker_params,
        tracker_separator=tracker_separator,
        test_link=test_link,
    )
    return tracker_params_validate(params=tracker_params)


def setup_request_edit(
    *,
    setup_request: SetupRequest,
    editor: User,
    tracker_params: object,
    tracker_separator: str,
    url_template: str,
    test_link: str,
) -> list[str]:
    """Correct what a new request asks for before approving it: its tracker params, separator,
    postback URL and test link (a renamed param needs the URL changed with it, an added one a
    test link that holds it). Validated as the setup form validates; returns the fields that
    changed.

    One guarded UPDATE (only while `new`): an approval at the same moment takes the request
    either wholly before or wholly after the edit. The history records the editor and what
    changed, and keeps the affiliate's own ask as the request's first version."""
    params = setup_request_edit_validate(
        setup_request=setup_request,
        tracker_params=tracker_params,
        tracker_separator=tracker_separator,
        url_template=url_template,
        test_link=test_link,
    )
    values: dict[str, Any] = {
        "tracker_params": params,
        "tracker_separator": tracker_separator,
        "url_template": url_template,
        "test_link": test_link,
    }
    with transaction.atomic():
        stored = (
            SetupRequest.objects.filter(pk=setup_request.pk).values(*SETUP_REQUEST_EDITABLE).first()
        )
        if stored is None:
            raise reviewed_elsewhere(setup_request, doing="edited")
        changed = [field for field in SETUP_REQUEST_EDITABLE if stored[field] != values[field]]
        if not changed:
            setup_request.refresh_from_db()
            return []
        updated = SetupRequest.objects.filter(
            pk=setup_request.pk, status=SetupRequest.Status.NEW
        ).update(**values, updated_at=timezone.now())
        if not updated:
            raise reviewed_elsewhere(setup_request, doing="edited")
        history_record_update(
            instance=setup_request,
            user=editor,
            reason="edited before review: " + ", ".join(SETUP_REQUEST_EDITABLE[f] for f in changed),
        )
    return changed
