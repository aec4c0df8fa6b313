"""Correcting a setup request's tracker params and postback URL on its review page before
approving it (issue 15, item 1): the setup form's checks, the breakage list and preview worked out
again, the edit in the history beside the affiliate's own ask, read-only once reviewed."""

from typing import Any

import pytest
from django.urls import reverse

from affiliates.forms import SetupForm
from affiliates.models import Affiliate, SetupRequest
from affiliates.setup_request_edits import setup_request_edit
from affiliates.setup_requests import SetupRequestReviewed, setup_request_approve
from postbacks.models import PostbackEndpoint
from tests.affiliates.test_review import TEST_LINK, new_request
from tests.affiliates.test_setup_form import form_data
from tests.factories import PostbackEndpointFactory, UserFactory

pytestmark = pytest.mark.django_db

NETWORK_ID = 2345678
OLD_TEMPLATE = "https://old.example/pb?s={subid}&c={clickId}"
# The request's test link with a third value, for a third param.
THREE_VALUES = TEST_LINK.replace("c0ffee_trID", "c0ffee-s7_trID")


def change_url(setup_request: SetupRequest) -> str:
    return reverse("admin:affiliates_setuprequest_change", args=[setup_request.pk])


def approve_url(setup_request: SetupRequest) -> str:
    return reverse("admin:affiliates_setuprequest_approve", args=[setup_request.pk])


def edit(client: Any, setup_request: SetupRequest, **fields: str) -> Any:
    data = {
        "tracker_params": ", ".join(setup_request.tracker_params),
        "tracker_separator": setup_request.tracker_separator,
        "url_template": setup_request.url_template,
        "test_link": setup_request.test_link,
        "_continue": "1",
        **fields,
    }
    return client.post(change_url(setup_request), data)


def endpoint_using_subid() -> PostbackEndpoint:
    """A live endpoint of the affiliate whose template needs {subid}: the request's params
    (affid, clickId) would break it."""
    return PostbackEndpointFactory.create(
        affiliate__network_id=NETWORK_ID,
        affiliate__tracker_params=["subid", "clickId"],
        url_template=OLD_TEMPLATE,
        status=PostbackEndpoint.Status.LIVE,
        events=["signup"],
    )


def test_editing_a_new_requests_params_saves_them_and_the_breakage_list_follows(
    admin_client, admin_user
):
    endpoint = endpoint_using_subid()
    setup_request = new_request()
    before = admin_client.get(change_url(setup_request)).content.decode()
    assert "unknown macro {subid}" in before[before.index('id="setup-breaks"') :]
    assert 'id="edit-params-link"' in before

    response = edit(
        admin_client, setup_request, tracker_params="affid, clickId, subid", test_link=THREE_VALUES
    )
    assert response.status_code == 302
    assert response["Location"] == change_url(setup_request)

    setup_request.refresh_from_db()
    assert setup_request.tracker_params == ["affid", "clickId", "subid"]
    after = admin_client.get(change_url(setup_request)).content.decode()
    assert "tracker params, test link saved" in after
    assert 'id="setup-breaks"' not in after
    # The affiliate's own ask stays on the page, and the edit is in the history with its editor.
    edited = after[after.index('id="setup-edited"') :]
    assert f"Edited before review by {admin_user.username}" in edited
    assert "<code>affid, clickId</code>" in edited
    assert "<code>affid, clickId, subid</code>" in edited
    latest = setup_request.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (
        admin_user,
        "edited before review: tracker params, test link",
    )
    changed = latest.diff_against(latest.prev_record).changed_fields
    assert sorted(changed) == ["test_link", "tracker_params"]
    assert setup_request.history.earliest().tracker_params == ["affid", "clickId"]
    endpoint.refresh_from_db()
    assert endpoint.status == PostbackEndpoint.Status.LIVE


def test_a_param_renamed_with_its_macro_changes_the_preview(admin_client):
    setup_request = new_request(url_template="https://track.example/pb?cid={clickId}")
    response = edit(
        admin_client,
        setup_request,
        tracker_params="affid, click",
        url_template="https://track.example/pb?click={click}&e={event}",
    )
    assert response.status_code == 302
    body = admin_client.get(change_url(setup_request)).content.decode()
    assert "https://track.example/pb?click=c0ffee&amp;e=signup" in body
    assert "tracker params, postback URL saved" in body


def test_invalid_params_are_refused_with_the_setup_forms_message_and_nothing_changes(
    admin_client,
):
    setup_request = new_request()
    versions = setup_request.history.count()
    setup_form = SetupForm(data=form_data(param_name_1="click-id"))
    assert not setup_form.is_valid()
    (expected,) = setup_form.params_errors

    response = edit(admin_client, setup_request, tracker_params="affid, click-id")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["tracker_params"] == [expected]
    assert "Please correct the errors below." in response.content.decode()

    setup_request.refresh_from_db()
    assert setup_request.tracker_params == ["affid", "clickId"]
    assert setup_request.history.count() == versions


def test_a_param_renamed_without_its_macro_is_refused_naming_the_macro(admin_client):
    setup_request = new_request()
    response = edit(admin_client, setup_request, tracker_params="affid, click")
    errors = response.context["adminform"].form.errors
    (message,) = errors["url_template"]
    assert message.startswith(
        "This postback URL cannot be used: unknown macro {clickId} (did you mean {click}?)"
    )
    setup_request.refresh_from_db()
    assert setup_request.tracker_params == ["affid", "clickId"]


def test_approving_after_the_edit_applies_the_edited_params_in_one_step(admin_client):
    endpoint = endpoint_using_subid()
    setup_request = new_request(url_template="https://track.example/pb?cid={clickId}")
    edit(
        admin_client,
        setup_request,
        tracker_params="subid, clickId",
        url_template="https://track.example/pb?cid={clickId}&s={subid}",
    )
    page = admin_client.get(change_url(setup_request))
    assert 'id="setup-breaks"' not in page.content.decode()
    setup_request.refresh_from_db()

    response = admin_client.post(
        approve_url(setup_request), {"seen_updated_at": setup_request.updated_at.isoformat()}
    )
    assert response.status_code == 302
    affiliate = Affiliate.objects.get(network_id=NETWORK_ID)
    assert affiliate.tracker_params == ["subid", "clickId"]
    new = affiliate.endpoints.exclude(pk=endpoint.pk).get()
    assert new.url_template == "https://track.example/pb?cid={clickId}&s={subid}"
    assert new.status == PostbackEndpoint.Status.TESTING
    endpoint.refresh_from_db()
    assert endpoint.status == PostbackEndpoint.Status.LIVE  # nothing broke, nothing disabled
    setup_request.refresh_from_db()
    assert setup_request.status == SetupRequest.Status.APPROVED


def test_an_edit_made_after_the_page_was_shown_refuses_the_approval(admin_client):
    setup_request = new_request()
    shown = setup_request.updated_at.isoformat()
    setup_request_edit(
        setup_request=setup_request,
        editor=UserFactory.create(),
        tracker_params=["affid", "clickId", "subid"],
        tracker_separator="-",
        url_template=setup_request.url_template,
        test_link=THREE_VALUES,
    )
    body = admin_client.post(
        approve_url(setup_request), {"seen_updated_at": shown}, follow=True
    ).content.decode()
    assert "was edited after this page was opened" in body
    setup_request.refresh_from_db()
    assert setup_request.status == SetupRequest.Status.NEW
    assert not Affiliate.objects.exists()


def test_an_approved_request_cannot_be_edited(admin_client):
    setup_request = new_request()
    setup_request_approve(setup_request=setup_request, reviewer=UserFactory.create())
    page = admin_client.get(change_url(setup_request)).content.decode()
    assert 'name="tracker_params"' not in page
    assert 'id="save-edits"' not in page

    response = edit(admin_client, setup_request, tracker_params="affid, clickId, subid")
    assert response.status_code == 302
    body = admin_client.get(response["Location"]).content.decode()
    reference = f"SR-{setup_request.pk:06d}"
    assert f"{reference} is already approved; only a new request can be edited." in body
    setup_request.refresh_from_db()
    assert setup_request.tracker_params == ["affid", "clickId"]
    with pytest.raises(SetupRequestReviewed):
        setup_request_edit(
            setup_request=setup_request,
            editor=UserFactory.create(),
            tracker_params=["subid"],
            tracker_separator="-",
            url_template="https://track.example/pb?s={subid}",
            test_link=TEST_LINK,
        )
