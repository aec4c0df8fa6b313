from django.db import models


class Conversion(models.Model):
    """What the afternoon view keeps: the transaction id, unique, and the posted JSON."""

    transaction_id = models.CharField(max_length=255, unique=True)
    event = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Spelt out for mypy: the app is installed in its own settings only, not in the ones the
    # type checker loads, so django-stubs would not add the default manager.
    objects: models.Manager["Conversion"] = models.Manager()

    def __str__(self) -> str:
        return self.transaction_id
