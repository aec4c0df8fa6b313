"""config/db_rows.hot_cursor: the ingest path's statements are prepared once per connection on
PostgreSQL, and plain when the setting is off (a pooler that keeps no prepared statements)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.db_rows import hot_cursor
from postbacks.selectors import affiliates_by_network_id
from tests.factories import AffiliateFactory

pytestmark = pytest.mark.django_db

STATEMENT = "SELECT %s::int + 41"


def prepared(fragment: str) -> list[tuple[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            [f"%{fragment}%"],
        )
        return cursor.fetchall()


def test_a_hot_statement_is_prepared_once_and_run_with_its_parameters():
    answers = []
    for value in (1, 2, 3):
        with hot_cursor() as cursor:
            cursor.execute(STATEMENT, [value])
            answers.append(cursor.fetchone()[0])
    assert answers == [42, 43, 44]
    assert prepared("::int + 41") == [("SELECT $1::int + 41", 3)]


def test_the_ingest_reads_go_through_it_and_are_still_logged():
    affiliate = AffiliateFactory.create(network_id=7654321)
    with CaptureQueriesContext(connection) as queries:
        found = affiliates_by_network_id(network_ids=[7654321])
    assert found[7654321].pk == affiliate.pk
    assert len(queries.captured_queries) == 1
    assert "network_id = ANY" in queries.captured_queries[0]["sql"]
    assert [count for _, count in prepared("network_id = ANY")] == [1]


def test_off_nothing_is_prepared(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    with hot_cursor() as cursor:
        cursor.execute("SELECT %s::int + 40", [2])
        assert cursor.fetchone()[0] == 42
    assert prepared("::int + 40") == []


def test_an_error_is_djangos_and_the_connection_carries_on():
    from django.db import DataError, transaction

    with pytest.raises(DataError), transaction.atomic(), hot_cursor() as cursor:
        cursor.execute("SELECT %s::int", ["not a number"])
    with hot_cursor() as cursor:
        cursor.execute(STATEMENT, [0])
        assert cursor.fetchone()[0] == 41
