"""Admin forms for postback endpoints: templates are checked as the API and setup form do."""

from django import forms

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks import lifecycle
from postbacks.endpoints import endpoint_status_check
from postbacks.macros import MAX_URL_LENGTH, TemplateError, validate_template
from postbacks.models import Conversion, EventType, PostbackEndpoint


class PostbackEndpointAdminForm(forms.ModelForm):
    """The template, the statuses it fires on and their words are validated by
    PostbackEndpoint.clean (the template against the affiliate's params)."""

    fire_on = forms.MultipleChoiceField(
        choices=Conversion.Status.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Fire on",
        help_text="The conversion statuses that send this postback. Approved only (the usual): "
        "a pending sale waits for its approval, and a rejected one is never sent.",
    )

    class Meta:
        model = PostbackEndpoint
        fields = (
            "affiliate",
            "offer",
            "event_types",
            "url_template",
            "method",
            "status",
            "disabled_reason",
            "test_link",
            "fire_on",
            "status_values",
            "success_body",
        )
        widgets = {
            "url_template": forms.TextInput(attrs={"size": 90}),
            "test_link": forms.TextInput(attrs={"size": 90}),
            "status_values": forms.Textarea(attrs={"rows": 3, "cols": 70}),
        }

    def clean_status_values(self) -> object:
        # An emptied box means no words of its own: every status is sent as it is named.
        return self.cleaned_data["status_values"] or {}

    def clean_status(self) -> str:
        status: str = self.cleaned_data["status"]
        endpoint_status_check(
            was=self.instance.status if self.instance.pk is not None else None, status=status
        )
        return status


class PostbackEndpointInlineFormSet(forms.BaseInlineFormSet):
    """Endpoints added on a new affiliate's page, checked against the params saved with it.

    On an existing affiliate each endpoint's clean already sees the affiliate being saved (the
    inline form holds the parent object, updated in place), so a param renamed together with its
    endpoints is accepted, and one still in use cannot be removed.
    """

    def clean(self) -> None:
        super().clean()
        if self.instance.pk is not None:
            return
        # A new affiliate has no id yet, so PostbackEndpoint.clean skips the template check.
        params = self.instance.tracker_params or []
        for form in self.forms:
            data = getattr(form, "cleaned_data", {})
            template = data.get("url_template")
            if not template or data.get("DELETE") or "url_template" in form.errors:
                continue
            try:
                validate_template(template, params)
            except TemplateError as exc:
                form.add_error("url_template", str(exc))


class EndpointPreviewForm(forms.Form):
    """The fields of the endpoint page the live preview renders from (unsaved, as typed)."""

    affiliate = forms.ModelChoiceField(queryset=Affiliate.objects.all(), required=False)
    offer = forms.ModelChoiceField(queryset=Offer.objects.all(), required=False)
    event_types = forms.ModelMultipleChoiceField(queryset=EventType.objects.all(), required=False)
    # Longer than a template may be, so that the template's own check names the problem.
    url_template = forms.CharField(required=False, strip=False, max_length=10 * MAX_URL_LENGTH)
    test_link = forms.CharField(required=False, max_length=10 * MAX_URL_LENGTH)
    fire_on = forms.MultipleChoiceField(choices=Conversion.Status.choices, required=False)
    status_values = forms.JSONField(required=False)

    def clean_status_values(self) -> dict[str, str]:
        try:
            return lifecycle.status_values_clean(self.cleaned_data["status_values"] or {})
        except lifecycle.StatusConfigError as exc:
            raise forms.ValidationError(str(exc)) from exc
