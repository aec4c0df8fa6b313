"""The client's address as the portal counts it: the setup form's rate limit and the admin
login lockout both key on it, so behind a proxy both trust the same header."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """SETUP_CLIENT_IP_HEADER's last entry behind a proxy, else REMOTE_ADDR ("unknown" without)."""
    header = settings.SETUP_CLIENT_IP_HEADER
    if header and request.META.get(header):
        # The last entry is the one our own proxy added; earlier ones are the client's word.
        return str(request.META[header]).split(",")[-1].strip()
    return str(request.META.get("REMOTE_ADDR") or "unknown")
