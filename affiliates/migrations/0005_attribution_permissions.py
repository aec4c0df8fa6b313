"""Account managers may give an unattributed conversion its affiliate (docs/spec.md §10:
change_conversion is the permission) and read conversions' history; network admins get the new
history model's permissions, as they have every other postbacks permission."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACCOUNT_MANAGER = "Account manager"
NETWORK_ADMIN = "Network admin"
MANAGER_ADDS = [("postbacks", "change_conversion"), ("postbacks", "view_historicalconversion")]
ADMIN_ADDS = ["add", "change", "delete", "view"]


def ensure_permissions(apps):
    """Permissions are made after migrate (post_migrate); this migration needs them now."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def _permission(apps, app_label, codename):
    return apps.get_model("auth", "Permission").objects.get(
        content_type__app_label=app_label, codename=codename
    )


def grant(apps, schema_editor):
    ensure_permissions(apps)
    groups = apps.get_model("auth", "Group").objects
    manager = groups.filter(name=ACCOUNT_MANAGER).first()
    if manager is not None:
        manager.permissions.add(*[_permission(apps, *pair) for pair in MANAGER_ADDS])
    network_admin = groups.filter(name=NETWORK_ADMIN).first()
    if network_admin is not None:
        network_admin.permissions.add(
            *[
                _permission(apps, "postbacks", f"{action}_historicalconversion")
                for action in ADMIN_ADDS
            ]
        )


def revoke(apps, schema_editor):
    groups = apps.get_model("auth", "Group").objects
    manager = groups.filter(name=ACCOUNT_MANAGER).first()
    if manager is not None:
        manager.permissions.remove(*[_permission(apps, *pair) for pair in MANAGER_ADDS])


class Migration(migrations.Migration):
    dependencies = [
        ("affiliates", "0004_hash_api_tokens"),
        ("postbacks", "0012_conversion_history"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
