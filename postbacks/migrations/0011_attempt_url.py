"""Each attempt keeps the URL it sent (docs/spec.md §10): a replay with the current template
renders the delivery's URL again, and the attempts before it must still say what they sent.

Until now a delivery's URL never changed, so every existing attempt sent its delivery's URL: the
backfill copies it. Attempts refuse UPDATEs (0007); the trigger is switched off for the backfill
only, inside this migration's transaction.
"""

from django.db import migrations, models

BACKFILL = """
UPDATE postbacks_deliveryattempt SET url = (
    SELECT d.url FROM postbacks_delivery d WHERE d.id = postbacks_deliveryattempt.delivery_id
)
"""
TRIGGER = "postbacks_deliveryattempt_no_update"


def backfill(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(f"ALTER TABLE postbacks_deliveryattempt DISABLE TRIGGER {TRIGGER}")
    schema_editor.execute(BACKFILL)
    if postgresql:
        schema_editor.execute(f"ALTER TABLE postbacks_deliveryattempt ENABLE TRIGGER {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [
        ("postbacks", "0010_status_postbacks"),
    ]

    operations = [
        migrations.AddField(
            model_name="deliveryattempt",
            name="url",
            field=models.CharField(blank=True, max_length=4096),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
