"""The approval e-mail points the affiliate to its own page, in English and in French."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.affiliates.test_review import new_request

pytestmark = pytest.mark.django_db


def test_approving_a_request_mails_the_affiliate_its_page_in_both_languages(admin_client):
    request = new_request(contact_email="jane@tracker.example")
    admin_client.post(reverse("admin:affiliates_setuprequest_approve", args=[request.pk]))
    (message,) = mail.outbox
    assert message.to == ["jane@tracker.example"]
    reference = f"SR-{request.pk:06d}"
    assert message.subject == (
        f"Your postback is being set up ({reference}) / "
        f"Votre postback est en cours de configuration ({reference})"
    )
    assert message.body.count("http://testserver/partner/sign-in/") == 2
    assert "was approved" in message.body and "a été approuvée" in message.body


def test_the_bulk_approval_mails_each_affiliate(admin_client):
    first = new_request(network_id=4444444, test_link="", contact_email="a@example.com")
    second = new_request(network_id=4444445, test_link="", contact_email="b@example.com")
    admin_client.post(
        reverse("admin:affiliates_setuprequest_changelist"),
        {"action": "approve_selected", "_selected_action": [first.pk, second.pk]},
    )
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]
