"""API tokens: seen and revoked here, made by `manage.py create_api_token`."""

from django.contrib import admin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from config.admin_tools import ViewOnly

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(ViewOnly, TokenAdmin):
    """The database holds only a digest of each token (config/permissions.py), so this page
    shows whose token it is and since when, and deletes it to revoke it; it never shows a key,
    and cannot make a token (the key would be unknown to everyone)."""

    list_display = ("user", "created")
    fields = ("user", "created")
    readonly_fields = fields
