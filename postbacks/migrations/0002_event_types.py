from django.db import migrations

EVENT_TYPES = [
    ("freereg", "Free registration"),
    ("trial", "Trial"),
    ("signup", "Signup (sale)"),
    ("rebill", "Rebill"),
]


def create_event_types(apps, schema_editor):
    EventType = apps.get_model("postbacks", "EventType")
    for code, name in EVENT_TYPES:
        EventType.objects.get_or_create(code=code, defaults={"name": name, "is_active": True})


def remove_event_types(apps, schema_editor):
    EventType = apps.get_model("postbacks", "EventType")
    EventType.objects.filter(code__in=[code for code, _ in EVENT_TYPES], conversions=None).delete()


class Migration(migrations.Migration):
    dependencies = [("postbacks", "0001_initial")]

    operations = [migrations.RunPython(create_event_types, remove_event_types)]
