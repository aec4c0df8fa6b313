"""Project URLs: the portal's front door and the RQ dashboard inside the admin."""

import pytest

pytestmark = pytest.mark.django_db


def test_root_redirects_to_the_admin(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_rq_dashboard_is_linked_from_the_admin_and_answers(admin_client):
    assert "/admin/rq/" in admin_client.get("/admin/").content.decode()
    assert admin_client.get("/admin/rq/").status_code == 200


def test_rq_dashboard_is_for_staff_only(client):
    response = client.get("/admin/rq/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
