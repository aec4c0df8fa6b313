"""Conversion status changes are a record (issue 13): PostgreSQL refuses any UPDATE or DELETE of
one. Nothing edits them and, unlike delivery attempts, no retention deletes them: conversions are
kept for good, and so is how their status came to be. SQLite (`make run`'s embedded database) gets
no trigger.

Also the staff roles' permissions for the lifecycle: both roles may change a conversion's status
(account managers for their own affiliates only, decided in config/access.py) and read the changes.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CREATE = """
CREATE FUNCTION postbacks_conversionstatuschange_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'conversion status change % cannot be changed: changes are a record',
        OLD.id USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER postbacks_conversionstatuschange_append_only
    BEFORE UPDATE OR DELETE ON postbacks_conversionstatuschange
    FOR EACH ROW EXECUTE FUNCTION postbacks_conversionstatuschange_refuse();
"""

DROP = """
DROP TRIGGER postbacks_conversionstatuschange_append_only ON postbacks_conversionstatuschange;
DROP FUNCTION postbacks_conversionstatuschange_refuse();
"""

ROLES = ("Account manager", "Network admin")
PERMISSIONS = ("change_conversion_status", "view_conversionstatuschange")


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No params: the % in RAISE is PL/pgSQL's, not a placeholder.
            schema_editor.execute(sql, params=None)

    return run


def grant(apps, schema_editor):
    # Permissions are made after migrate (post_migrate); these are needed now.
    app_config = apps.get_app_config("postbacks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="postbacks", codename__in=PERMISSIONS
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="postbacks", codename__in=PERMISSIONS
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("postbacks", "0008_conversion_status"),
        ("affiliates", "0003_permission_groups"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
        migrations.RunPython(grant, revoke),
    ]
