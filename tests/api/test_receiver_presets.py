"""GET /api/v1/receiver-presets/: the presets as data, for ingest and manage tokens alike."""

from typing import Any

from rest_framework.test import APIClient

from postbacks.receivers import PRESETS

URL = "/api/v1/receiver-presets/"


def test_presets_are_listed_with_their_documents(ingest_client: APIClient) -> None:
    response = ingest_client.get(URL)
    assert response.status_code == 200
    by_code = {item["code"]: item for item in response.json()}
    assert set(by_code) == {preset.code for preset in PRESETS}
    keitaro = by_code["keitaro"]
    assert keitaro["url_template"] == (
        "https://{domain}/{key}/postback?subid={click}&status={status}&payout={amount}"
        "&tid={transaction_id}-{event}&currency={currency}"
    )
    assert keitaro["status_values"] == {
        "pending": "lead",
        "approved": "sale",
        "rejected": "rejected",
        "reversed": "rejected",
    }
    assert keitaro["needs_key"] is True
    assert keitaro["doc_url"] == "https://docs.keitaro.io/en/conversions-and-postback/postback.html"
    assert by_code["funnelflux"]["click_macro"] == "{hit}"
    assert by_code["voluum"]["fire_on"] == ["approved"]


def test_manage_tokens_may_read_them_and_no_token_may_not(
    manage_client: APIClient, db: Any
) -> None:
    assert manage_client.get(URL).status_code == 200
    assert APIClient().get(URL).status_code == 401
