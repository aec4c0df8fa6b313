"""Giving an unattributed conversion its affiliate from the admin (docs/spec.md §10): an
"Attribute…" page on the conversion's page, for those with change_conversion, offering only the
affiliates the manager runs. The work is done by postbacks.mending, as for the API."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from affiliates.models import Affiliate
from config.access import managed_queryset
from config.admin_tools import admin_page_context, object_or_404
from postbacks import mending
from postbacks.models import Conversion

ATTRIBUTE_PERMISSION = "postbacks.change_conversion"


def may_attribute(user: Any) -> bool:
    return bool(user.has_perm(ATTRIBUTE_PERMISSION))


class AttributeForm(forms.Form):
    affiliate = forms.ModelChoiceField(
        queryset=Affiliate.objects.none(), help_text="Only affiliates you manage are offered."
    )
    tracker = forms.CharField(
        max_length=1024,
        required=False,
        strip=False,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text="Correct it if it was mangled; it is parsed again for the affiliate.",
    )

    def __init__(self, *args: Any, affiliates: QuerySet[Affiliate], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["affiliate"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = affiliates.order_by("network_id")


class AttributesConversions(admin.ModelAdmin):
    """The conversion admin's Attribute page and the button that leads to it."""

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/attribute/",
                self.admin_site.admin_view(self.attribute_view),
                name="postbacks_conversion_attribute",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        context["can_attribute"] = may_attribute(request.user)
        return super().change_view(request, object_id, form_url, context)

    def attribute_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        conversion: Conversion = object_or_404(self, request, object_id)
        if not may_attribute(request.user):
            raise PermissionDenied
        if conversion.affiliate_id is not None:
            self.message_user(request, "This conversion is already attributed.", messages.ERROR)
            return redirect("admin:postbacks_conversion_change", object_id=conversion.pk)
        affiliates = managed_queryset(
            Affiliate.objects.all(), user=request.user, manager_path="account_manager"
        )
        form = AttributeForm(
            request.POST or None, affiliates=affiliates, initial={"tracker": conversion.tracker_raw}
        )
        if request.method == "POST" and form.is_valid():
            try:
                done = mending.conversion_attribute(
                    conversion_id=conversion.pk,
                    affiliate_id=form.cleaned_data["affiliate"].network_id,
                    tracker=form.cleaned_data["tracker"],
                    user=request.user,
                )
            except mending.AlreadyAttributed as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return redirect("admin:postbacks_conversion_change", object_id=conversion.pk)
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                count = len(done.delivery_ids)
                text = (
                    f"Attributed to affiliate {form.cleaned_data['affiliate'].network_id}; "
                    f"{count} postback{'' if count == 1 else 's'} queued."
                )
                if done.notes:
                    text += f" Nothing fires: {'; '.join(done.notes)}."
                self.message_user(request, text, messages.SUCCESS if count else messages.WARNING)
                return redirect("admin:postbacks_conversion_change", object_id=conversion.pk)
        context = {
            **admin_page_context(
                self, request, original=conversion, title=f"Attribute conversion {conversion}"
            ),
            "form": form,
        }
        return TemplateResponse(request, "admin/postbacks/conversion/attribute.html", context)
