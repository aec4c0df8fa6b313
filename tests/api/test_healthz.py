"""GET /healthz (docs/spec.md §5): 200 when the database and Redis answer, else 503 naming which."""

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_is_200_when_database_and_redis_answer(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_is_503_when_redis_does_not_answer(client: Client, settings: Any) -> None:
    settings.RQ_QUEUES = {
        **settings.RQ_QUEUES,
        "postbacks": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 300},
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["redis"].startswith("unavailable")
