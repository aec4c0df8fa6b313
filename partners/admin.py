"""The account manager's side of the affiliate pages: from an affiliate's admin page, e-mail it a
sign-in link or end all of its sessions.

The views hang off the affiliate admin's URLs by name (admin:partners_affiliate_access) and act on
an affiliate only when its own admin would let this user change it, so a manager reaches only
their own affiliates.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from affiliates.models import Affiliate
from affiliates.selectors import portal_base_url
from config.admin_tools import admin_page_context, object_for_change
from partners.models import PartnerAccess
from partners.sign_in import partner_sessions_revoke, sign_in_link_send


@admin.register(PartnerAccess)
class PartnerAccessAdmin(admin.ModelAdmin):
    """Not listed on its own: its pages are reached from an affiliate's admin page."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "affiliate/<path:object_id>/",
                self.admin_site.admin_view(self.access_view),
                name="partners_affiliate_access",
            ),
            *super().get_urls(),
        ]

    def access_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        affiliate_admin = self.admin_site.get_model_admin(Affiliate)
        affiliate: Affiliate = object_for_change(affiliate_admin, request, object_id)
        if request.method == "POST":
            if "revoke" in request.POST:
                partner_sessions_revoke(affiliate=affiliate)
                self.message_user(
                    request, f"Every session of {affiliate} on its postback page was ended."
                )
            elif not affiliate.email:
                self.message_user(
                    request,
                    f"Affiliate {affiliate.network_id} has no e-mail address.",
                    messages.ERROR,
                )
            else:
                sign_in_link_send(
                    affiliate=affiliate,
                    base_url=portal_base_url(request=request),
                    language=request.POST.get("language") or None,
                )
                self.message_user(request, f"A sign-in link was e-mailed to {affiliate.email}.")
            return redirect("admin:partners_affiliate_access", object_id=affiliate.pk)
        context = {
            **admin_page_context(
                affiliate_admin,
                request,
                original=affiliate,
                title=f"{affiliate}'s postback page",
            ),
            "languages": settings.LANGUAGES,
            "max_age_minutes": settings.PARTNER_LINK_MAX_AGE // 60,
        }
        return TemplateResponse(request, "admin/partners/affiliate_access.html", context)
