"""CSV exports from the admin (issue 7, item 4): streamed, the rows the changelist shows (its
filters and search), a header row, and no cell a spreadsheet would run as a formula."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from postbacks import exports
from postbacks.models import Conversion, Delivery
from tests.factories import ConversionFactory, DeliveryFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

State = Delivery.State


def rows(response: StreamingHttpResponse) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[arg-type]
    assert body.startswith(exports.BOM)
    return list(csv.DictReader(io.StringIO(body.removeprefix(exports.BOM))))


def test_conversion_export_streams_the_filtered_rows_with_a_header(admin_client):
    kept = [
        ConversionFactory(affiliate=None, attribution=Conversion.Attribution.UNATTRIBUTED)
        for _ in range(3)
    ]
    ConversionFactory()
    url = reverse("admin:postbacks_conversion_export")
    response = admin_client.get(url, {"attribution__exact": "unattributed", "p": "7"})
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="conversions-')
    exported = rows(response)
    assert list(exported[0]) == [header for header, _ in exports.CONVERSION_COLUMNS]
    assert sorted(int(r["id"]) for r in exported) == sorted(c.pk for c in kept)
    assert {r["attribution"] for r in exported} == {"unattributed"}


def test_conversion_export_respects_the_search(admin_client):
    wanted = ConversionFactory(transaction_id="tx-wanted", amount=Decimal("35.5"))
    ConversionFactory(transaction_id="tx-other")
    response = admin_client.get(reverse("admin:postbacks_conversion_export"), {"q": "tx-wanted"})
    (row,) = rows(response)
    assert row["id"] == str(wanted.pk)
    assert row["event"] == "signup"
    assert row["offer_id"] == str(wanted.offer.network_offer_id)
    assert row["affiliate_id"] == str(wanted.affiliate.network_id)
    assert row["amount"] == "35.5000"


def test_delivery_export_respects_the_state_filter(admin_client):
    endpoint = PostbackEndpointFactory()
    dead = [
        DeliveryFactory(endpoint=endpoint, conversion=ConversionFactory(), state=State.DEAD)
        for _ in range(2)
    ]
    DeliveryFactory(endpoint=endpoint, conversion=ConversionFactory(), state=State.SUCCEEDED)
    response = admin_client.get(
        reverse("admin:postbacks_delivery_export"), {"state__exact": "dead"}
    )
    assert isinstance(response, StreamingHttpResponse)
    exported = rows(response)
    assert list(exported[0]) == [header for header, _ in exports.DELIVERY_COLUMNS]
    assert sorted(int(r["id"]) for r in exported) == sorted(d.pk for d in dead)
    assert {r["state"] for r in exported} == {"dead"}
    assert {r["endpoint_id"] for r in exported} == {str(endpoint.pk)}


def test_export_of_an_empty_list_is_the_header_alone(admin_client):
    response = admin_client.get(reverse("admin:postbacks_delivery_export"))
    body = b"".join(response.streaming_content).decode()
    assert body == exports.BOM + ",".join(h for h, _ in exports.DELIVERY_COLUMNS) + "\r\n"


def test_formulas_are_defused_and_values_keep_their_meaning(admin_client):
    ConversionFactory(
        transaction_id='=HYPERLINK("http://evil")',
        tracker_raw="+1-2",
        attribution_error="@SUM(A1)",
        amount=Decimal("-5"),
        tracker_values={"clickId": "-x"},
        occurred_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    (row,) = rows(admin_client.get(reverse("admin:postbacks_conversion_export")))
    assert row["transaction_id"] == '\'=HYPERLINK("http://evil")'
    assert row["tracker"] == "'+1-2"
    assert row["attribution_error"] == "'@SUM(A1)"
    assert row["amount"] == "-5.0000"  # a number, not text: left as it is
    assert row["tracker_values"] == '{"clickId": "-x"}'
    assert row["occurred_at"] == "2025-01-02T03:04:05+00:00"
    assert exports.csv_cell("-cmd") == "'-cmd"
    assert exports.csv_cell("\tx") == "'\tx"
    assert exports.csv_cell(None) == ""
    assert exports.csv_cell(True) == "true"


def test_rows_are_read_in_chunks_not_all_at_once(django_assert_num_queries):
    ConversionFactory.create_batch(5)
    lines = exports.csv_lines(Conversion.objects.order_by("pk"), exports.CONVERSION_COLUMNS)
    assert next(lines) == exports.BOM
    with django_assert_num_queries(0):
        assert next(lines).startswith("id,transaction_id")  # nothing read before it is needed
    with django_assert_num_queries(1):
        assert len(list(lines)) == 5


def test_export_link_on_the_changelist_carries_the_filters(admin_client):
    response = admin_client.get(
        reverse("admin:postbacks_delivery_changelist"), {"state__exact": "dead"}
    )
    assert reverse("admin:postbacks_delivery_export") + "?state__exact=dead" in (
        response.content.decode()
    )


def test_conversion_changelist_links_its_own_export(admin_client):
    # Both record lists share one change_list template; each links the export of its own model.
    response = admin_client.get(
        reverse("admin:postbacks_conversion_changelist"), {"attribution__exact": "unattributed"}
    )
    body = response.content.decode()
    assert reverse("admin:postbacks_conversion_export") + "?attribution__exact=unattributed" in body
    assert reverse("admin:postbacks_delivery_export") not in body


def test_export_needs_view_permission(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    response = client.get(reverse("admin:postbacks_conversion_export"))
    assert response.status_code == 403
