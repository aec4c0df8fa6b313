"""Helpers for the affiliate pages' tests: sign an affiliate in the way a browser does."""

import re
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from postbacks.delivery.rq_queue import get_mail_queue
from tests.factories import AffiliateFactory

LINK = re.compile(r"https?://\S+/partner/sign-in/[^/\s]+/")


def mailed_link(index: int = -1) -> str:
    match = LINK.search(str(mail.outbox[index].body))
    assert match, mail.outbox[index].body
    return match.group(0)


def run_mail_jobs() -> int:
    """Run the jobs waiting on the mail queue here, in this thread (the test's database
    connection, Django's test outbox); how many there were. The delivery worker runs them in
    production (test_sign_in.py proves it does)."""
    queue = get_mail_queue()
    waiting = queue.count
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(
        burst=True, logging_level="WARNING"
    )
    assert queue.failed_job_registry.count == 0, "a mail job failed"
    return waiting


def sign_in(client: Any, affiliate: Any) -> None:
    """Ask for a link for the affiliate's address, let the queued mail go out, and use it."""
    client.post(reverse("partner:sign-in"), {"email": affiliate.email})
    run_mail_jobs()
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
