"""API tokens are kept as digests (config/permissions.py, issue 6): existing keys are replaced
by their digest, so tokens already handed out keep working and the table holds none of them.

Going back leaves the digests as they are: a digest cannot be turned back into its key, and code
from before this migration would not accept the old keys again (issue them anew).
"""

import hashlib

from django.db import migrations


def _digest(key):
    # Frozen copy of config.permissions.token_digest.
    return hashlib.blake2b(key.encode(), digest_size=20).hexdigest()


def hash_keys(apps, schema_editor):
    token = apps.get_model("authtoken", "Token")
    for key in list(token.objects.values_list("key", flat=True)):
        token.objects.filter(key=key).update(key=_digest(key))


class Migration(migrations.Migration):
    dependencies = [
        ("affiliates", "0003_permission_groups"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(hash_keys, migrations.RunPython.noop, elidable=False)]
