"""The affiliate's own postback page in a real browser, in English and in French: sign in from
the e-mailed link, see a failed postback, ask for a change that the account manager approves,
replay the failed postback once the tracker is fixed, see it succeed."""

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from rq import Queue
from rq.job import Job

from affiliates.models import SetupRequest
from affiliates.setup_requests import setup_request_approve
from postbacks.delivery.rq_queue import get_mail_queue, get_queue
from postbacks.models import Delivery
from tests.e2e.conftest import screenshot
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
    UserFactory,
)

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_{network}_aff9-tx77-c0ffee_trID"

WORDS = {
    "en": {
        "send": "Send me a sign-in link",
        "sent": "a sign-in link is on its way",
        "failed": "failed",
        "replayed": "1 failed postback is on its way again.",
        "succeeded": "succeeded",
        "submit": "Send the request",
    },
    "fr": {
        "send": "M'envoyer un lien de connexion",
        "sent": "un lien de connexion est en route",
        "failed": "échoué",
        "replayed": "1 postback en échec est renvoyé.",
        "succeeded": "réussi",
        "submit": "Envoyer la demande",
    },
}


def _run_queued_jobs_in_another_thread(queue: Queue) -> None:
    """Run the jobs waiting on `queue` (the replay's, the sign-in mail), as a worker would. Beside
    this thread: the sender uses asyncio.run, which Playwright's running loop forbids here (and
    RQ's own worker wants the main thread for its signal handlers)."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for job_id in queue.job_ids:
                job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
                queue.remove(job_id)
                job.perform()
        except BaseException as exc:  # handed back to the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_affiliate_signs_in_sees_a_failure_replays_and_sees_it_succeed(
    browser: Any, live_server: Any, receiver: Any, language: str
) -> None:
    words = WORDS[language]
    affiliate = AffiliateFactory.create(name="Acme Media", email="acme@example.com")
    endpoint = PostbackEndpointFactory.create(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?cid={clickId}"
    )
    failed = DeliveryFactory.create(
        conversion=ConversionFactory(affiliate=affiliate),
        endpoint=endpoint,
        url=receiver.base_url + "/pb?cid=c0ffee",
        state=Delivery.State.DEAD,
        attempts=8,
        next_attempt_at=None,
        last_status_code=500,
    )
    DeliveryAttemptFactory(delivery=failed, number=8, status_code=500, response_excerpt="down")
    Delivery.objects.filter(pk=failed.pk).update(created_at=timezone.now() - timedelta(hours=2))

    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR" if language == "fr" else "en-US"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/partner/")
        page.wait_for_url(re.compile(r".*/partner/sign-in/$"))
        assert page.locator("html").get_attribute("lang") == language
        page.fill("#id_email", affiliate.email)
        page.click(f'button:has-text("{words["send"]}")')
        assert words["sent"] in page.locator("#link-sent").inner_text()

        _run_queued_jobs_in_another_thread(get_mail_queue())
        link = re.search(r"https?://\S+/partner/sign-in/[^/\s]+/", str(mail.outbox[-1].body))
        assert link
        page.goto(link.group(0))
        page.click("#sign-in")
        page.wait_for_url(f"{live_server.url}/partner/")
        assert "Acme Media" in page.locator("header").inner_text()

        page.click("#nav-log")
        page.check("#id_failed")
        page.click("#apply-filters")
        row = page.locator(f"#delivery-{failed.pk}")
        assert words["failed"] in row.inner_text()
        assert "500" in row.inner_text()
        screenshot(page, f"partner-log-{language}.png")

        # It asks for a change from its page: the setup form, pre-filled from the endpoint, in
        # its language; its account manager approves the request.
        page.click("#nav-endpoints")
        page.click(f"#change-{endpoint.pk}")
        page.wait_for_url(re.compile(r".*/setup/.+\?endpoint=\d+$"))
        assert page.input_value("#id_url_template") == endpoint.url_template
        assert page.locator("#submit-button").inner_text() == words["submit"]
        page.fill("#id_offer_links", "https://offers.example/go?id=66013")
        page.fill("#id_test_link", TEST_LINK.format(network=affiliate.network_id))
        page.fill("#id_url_template", receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}")
        page.click("#submit-button")
        page.wait_for_url(re.compile(r".*/setup/done/.+"))
        request = SetupRequest.objects.get(network_id=affiliate.network_id)
        assert request.verified
        setup_request_approve(setup_request=request, reviewer=UserFactory.create())
        page.goto(f"{live_server.url}/partner/log/?failed=on")

        # The affiliate fixes its tracker, then asks for the failed postbacks again.
        receiver.default = (200, {}, b"OK")
        since = (timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
        page.fill("#id_since", since)
        page.click("#replay-button")
        assert page.locator("#replay-outcome").inner_text() == words["replayed"]
        _run_queued_jobs_in_another_thread(get_queue())
        assert [r.path for r in receiver.received] == ["/pb?cid=c0ffee"]

        page.click("#back-to-log")
        row = page.locator(f"#delivery-{failed.pk}")
        assert words["succeeded"] in row.inner_text()
        assert "200" in row.inner_text()
    finally:
        context.close()
