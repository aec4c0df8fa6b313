"""Delivery attempts are never edited (issue 6): PostgreSQL refuses any UPDATE of an attempt.

Attempts are only inserted (by the delivery services) and deleted (by retention, and with their
test delivery); nothing updates one. SQLite (`make run`'s embedded database) gets no trigger.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION postbacks_deliveryattempt_refuse_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'delivery attempt % cannot be changed: attempts are a record', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER postbacks_deliveryattempt_no_update
    BEFORE UPDATE ON postbacks_deliveryattempt
    FOR EACH ROW EXECUTE FUNCTION postbacks_deliveryattempt_refuse_update();
"""

DROP = """
DROP TRIGGER postbacks_deliveryattempt_no_update ON postbacks_deliveryattempt;
DROP FUNCTION postbacks_deliveryattempt_refuse_update();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No params: the % in RAISE is PL/pgSQL's, not a placeholder.
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("postbacks", "0006_history"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
    ]
