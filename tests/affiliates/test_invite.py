"""Signed invite links (docs/spec.md §7): pre-filled, verified, expiring, bound to one affiliate."""

import re

import pytest
from django.core import mail, signing
from django.urls import reverse

from affiliates.invites import INVITE_SALT, invite_token_make
from affiliates.models import SetupRequest
from tests.affiliates.test_setup_form import form_data
from tests.factories import AffiliateFactory

pytestmark = pytest.mark.django_db


def invite_url(token: str) -> str:
    return reverse("setup:invite", kwargs={"token": token})


@pytest.fixture
def affiliate():
    return AffiliateFactory.create(
        network_id=1234567,
        email="jane@tracker.example",
        tracker_params=["affid", "TransID", "clickId"],
    )


def test_the_invite_prefills_the_form_and_fixes_the_network_id(client, affiliate):
    response = client.get(invite_url(invite_token_make(affiliate=affiliate)))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["network_id"].value() == 1234567
    assert form.fields["network_id"].disabled
    assert form["contact_email"].value() == "jane@tracker.example"
    assert [form[f"param_name_{i}"].value() for i in range(3)] == ["affid", "TransID", "clickId"]
    assert re.search(r'name="network_id"[^>]*disabled', response.content.decode())


def test_a_request_through_the_invite_is_verified_and_bound(client, affiliate):
    response = client.post(invite_url(invite_token_make(affiliate=affiliate)), form_data())
    assert response.status_code == 302
    request = SetupRequest.objects.get()
    assert request.verified is True
    assert request.affiliate == affiliate


def test_the_network_id_cannot_be_changed_to_another_affiliates(client, affiliate):
    other = AffiliateFactory.create(network_id=7654321)
    link = "https://offers.example/go?id=66013;tracker=trID_7654321_aff9-tx77-c0ffee_trID"
    token = invite_token_make(affiliate=affiliate)
    client.post(invite_url(token), form_data(network_id=str(other.network_id)))
    request = SetupRequest.objects.get()
    assert request.network_id == affiliate.network_id
    assert request.affiliate == affiliate
    response = client.post(invite_url(token), form_data(network_id="7654321", test_link=link))
    assert response.status_code == 200
    assert "not your network id 1234567" in response.context["form"].errors["test_link"][0]


def test_an_expired_invite_says_so_with_410(client, affiliate, settings):
    token = invite_token_make(affiliate=affiliate)
    settings.SETUP_INVITE_MAX_AGE = -1
    response = client.get(invite_url(token))
    assert response.status_code == 410
    assert "This invite link has expired" in response.content.decode()
    assert client.post(invite_url(token), form_data()).status_code == 410
    assert not SetupRequest.objects.exists()


def test_a_forged_invite_is_refused_with_400(client, affiliate):
    forged = signing.TimestampSigner(salt=INVITE_SALT, key="not-our-key").sign_object(
        {"a": affiliate.pk, "n": affiliate.network_id}
    )
    response = client.get(invite_url(forged))
    assert response.status_code == 400
    assert "This invite link is not valid" in response.content.decode()
    tampered = invite_token_make(affiliate=affiliate)[:-2] + "xx"
    assert client.get(invite_url(tampered)).status_code == 400


def test_an_invite_for_a_changed_affiliate_no_longer_works(client, affiliate):
    token = invite_token_make(affiliate=affiliate)
    affiliate.network_id = 1999999
    affiliate.save()
    response = client.get(invite_url(token))
    assert response.status_code == 400
    assert "no longer matches an affiliate" in response.content.decode()


def test_the_invite_preview_uses_the_invited_affiliate(client, affiliate):
    url = reverse("setup:invite-preview", kwargs={"token": invite_token_make(affiliate=affiliate)})
    answer = client.post(url, form_data(network_id="7654321")).json()
    assert answer["ok"] is True
    assert "cid=c0ffee" in answer["preview"][0]["url"]


def test_send_invite_round_trip_from_the_admin(admin_client, client, affiliate, settings):
    settings.PORTAL_BASE_URL = "https://portal.example"
    page = admin_client.get(reverse("admin:affiliates_affiliate_invite", args=[affiliate.pk]))
    link = re.search(r'id="invite-link" value="([^"]+)"', page.content.decode()).group(1)
    assert link.startswith("https://portal.example/setup/")
    change = admin_client.get(reverse("admin:affiliates_affiliate_change", args=[affiliate.pk]))
    assert reverse("admin:affiliates_affiliate_invite", args=[affiliate.pk]) in (
        change.content.decode()
    )
    admin_client.post(reverse("admin:affiliates_affiliate_invite", args=[affiliate.pk]))
    (message,) = mail.outbox
    assert message.to == ["jane@tracker.example"]
    mailed = re.search(r"https://portal\.example(/setup/\S+/)", message.body).group(1)
    response = client.post(mailed, form_data())
    assert response.status_code == 302
    assert SetupRequest.objects.get().verified is True


def test_the_invite_link_uses_the_request_host_without_portal_base_url(admin_client, affiliate):
    page = admin_client.get(reverse("admin:affiliates_affiliate_invite", args=[affiliate.pk]))
    assert 'value="http://testserver/setup/' in page.content.decode()
