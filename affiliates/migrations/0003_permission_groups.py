"""The two staff roles (issue 6): "Account manager" and "Network admin", with their model
permissions. Which rows an account manager sees is decided in config/access.py.

The permission lists are frozen here, as migrations are: a model added later gets its
permissions in a migration of its own.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACCOUNT_MANAGER = "Account manager"
NETWORK_ADMIN = "Network admin"

HISTORY_VIEWS = [
    ("affiliates", "view_historicalaffiliate"),
    ("affiliates", "view_historicalsetuprequest"),
    ("offers", "view_historicaloffer"),
    ("postbacks", "view_historicalpostbackendpoint"),
]

# Their own affiliates, endpoints and setup requests to run; offers and event types to read;
# the records to read and replay (change_delivery is the replay permission).
ACCOUNT_MANAGER_PERMISSIONS = [
    ("affiliates", "view_affiliate"),
    ("affiliates", "add_affiliate"),
    ("affiliates", "change_affiliate"),
    ("affiliates", "view_setuprequest"),
    ("affiliates", "change_setuprequest"),
    ("offers", "view_offer"),
    ("postbacks", "view_eventtype"),
    ("postbacks", "view_postbackendpoint"),
    ("postbacks", "add_postbackendpoint"),
    ("postbacks", "change_postbackendpoint"),
    ("postbacks", "view_conversion"),
    ("postbacks", "view_delivery"),
    ("postbacks", "change_delivery"),
    ("postbacks", "view_deliveryattempt"),
    *HISTORY_VIEWS,
]

# Everything of the three apps, a read of the staff list, and the admin login lockouts to read
# and lift (django-axes). Not add/change user: whoever may change users may make superusers, so
# accounts stay with superusers.
NETWORK_ADMIN_APPS = ("affiliates", "offers", "postbacks")
NETWORK_ADMIN_EXTRA = [
    ("auth", "view_user"),
    ("auth", "view_group"),
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),
    ("axes", "view_accessfailurelog"),
    ("axes", "view_accesslog"),
]


def _ensure_permissions(apps):
    """Permissions are made after migrate (post_migrate); this migration needs them now."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def _permissions(apps, pairs):
    permission = apps.get_model("auth", "Permission")
    found = []
    for app_label, codename in pairs:
        found.append(
            permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return found


def create_groups(apps, schema_editor):
    _ensure_permissions(apps)
    group_model = apps.get_model("auth", "Group")
    permission = apps.get_model("auth", "Permission")
    manager, _ = group_model.objects.get_or_create(name=ACCOUNT_MANAGER)
    manager.permissions.set(_permissions(apps, ACCOUNT_MANAGER_PERMISSIONS))
    network_admin, _ = group_model.objects.get_or_create(name=NETWORK_ADMIN)
    network_admin.permissions.set(
        [
            *permission.objects.filter(content_type__app_label__in=NETWORK_ADMIN_APPS),
            *_permissions(apps, NETWORK_ADMIN_EXTRA),
        ]
    )


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=[ACCOUNT_MANAGER, NETWORK_ADMIN]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("affiliates", "0002_history"),
        ("offers", "0003_history"),
        ("postbacks", "0006_history"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
