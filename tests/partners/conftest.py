"""Helpers for the affiliate pages' tests: sign an affiliate in the way a browser does."""

import re
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import AffiliateFactory

LINK = re.compile(r"https?://\S+/partner/sign-in/[^/\s]+/")


def mailed_link(index: int = -1) -> str:
    match = LINK.search(str(mail.outbox[index].body))
    assert match, mail.outbox[index].body
    return match.group(0)


def sign_in(client: Any, affiliate: Any) -> None:
    """Ask for a link for the affiliate's address and use it."""
    client.post(reverse("partner:sign-in"), {"email": affiliate.email})
    response = client.post(mailed_link())
    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("partner:home")


@pytest.fixture
def affiliate(db: Any) -> Any:
    return AffiliateFactory(name="Acme Media", email="acme@example.com")


@pytest.fixture
def signed_in(client: Any, affiliate: Any) -> Any:
    sign_in(client, affiliate)
    return client
