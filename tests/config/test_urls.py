"""Project URLs: the portal's front door and the RQ dashboard inside the admin (network-wide:
superusers and network admins only)."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.staticfiles import finders

from config.access import ACCOUNT_MANAGER_GROUP, NETWORK_ADMIN_GROUP
from tests.factories import UserFactory

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


def test_rq_dashboard_is_for_those_who_see_every_affiliate(client):
    manager = UserFactory.create(username="alice")
    manager.groups.add(Group.objects.get(name=ACCOUNT_MANAGER_GROUP))
    client.force_login(manager)
    assert client.get("/admin/rq/").status_code == 403
    assert client.post("/admin/rq/queues/0/empty/").status_code == 403
    network_admin = UserFactory.create(username="nadia")
    network_admin.groups.add(Group.objects.get(name=NETWORK_ADMIN_GROUP))
    client.force_login(network_admin)
    assert client.get("/admin/rq/").status_code == 200


def test_favicon_is_served_from_the_static_files(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/portal/favicon.ico"
    icon = finders.find("portal/favicon.ico")
    assert icon is not None
    with open(icon, "rb") as f:
        assert f.read(4) == b"\x00\x00\x01\x00"  # an ICO file
