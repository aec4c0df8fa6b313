"""Admin forms for postback endpoints: templates are checked as the API and setup form do."""

from typing import Any

from django import forms

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks import lifecycle
from postbacks.endpoint_changes import (
    ENDPOINT_SETTINGS,
    live_endpoint_would_break,
    live_template_kept,
)
from postbacks.endpoints import endpoint_status_check
from postbacks.headers import HeaderError, headers_masked, headers_parse
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

    headers_text = forms.CharField(
        required=False,
        label="Custom headers",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 70, "autocomplete": "off"}),
        help_text="One 'Name: value' per line, e.g. X-Api-Key: 123, sent with every postback. "
        "Saved headers are not shown again: leave empty to keep them.",
    )
    clear_headers = forms.BooleanField(required=False, label="Remove the saved custom headers")

    class Meta:
        model = PostbackEndpoint
        fields = ENDPOINT_SETTINGS
        widgets = {
            "url_template": forms.TextInput(attrs={"size": 90}),
            "test_link": forms.TextInput(attrs={"size": 90}),
            "status_values": forms.Textarea(attrs={"rows": 3, "cols": 70}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        saved = self.instance.headers if self.instance.pk is not None else {}
        if saved and "headers_text" in self.fields:
            self.fields["headers_text"].help_text += f" Saved: {headers_masked(saved)}."

    def clean_status_values(self) -> object:
        # An emptied box means no words of its own: every status is sent as it is named.
        return self.cleaned_data["status_values"] or {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            parsed = headers_parse(cleaned.get("headers_text") or "")
        except HeaderError as exc:
            self.add_error("headers_text", f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
            return cleaned
        # Not a model field of the form: the headers go on the instance, checked by its clean().
        if cleaned.get("clear_headers"):
            self.instance.headers = {}
        if parsed:
            self.instance.headers = parsed
        return cleaned

    def clean_status(self) -> str:
        status: str = self.cleaned_data["status"]
        endpoint_status_check(
            was=self.instance.status if self.instance.pk is not None else None, status=status
        )
        return status


class PostbackEndpointInlineFormSet(forms.BaseInlineFormSet):
    """The endpoints on an affiliate's page, checked against the params saved with it.

    On an existing affiliate each endpoint's clean already sees the affiliate being saved (the
    inline form holds the parent object, updated in place), so a param renamed together with its
    endpoints is accepted, and one still in use cannot be removed. A live endpoint whose change
    will be tested first keeps firing meanwhile: the new params must not break it
    (endpoint_changes.live_template_kept).
    """

    # The affiliate's tracker params as saved, before this save (None: a new affiliate).
    params_before: list[str] | None = None

    def clean(self) -> None:
        super().clean()
        if self.instance.pk is None:
            self._check_new_affiliates_templates()
            return
        self.params_before = list(
            Affiliate.objects.filter(pk=self.instance.pk)
            .values_list("tracker_params", flat=True)
            .get()
            or []
        )
        for form in self.initial_forms:
            self._check_live_endpoint_keeps_firing(form)

    def _check_new_affiliates_templates(self) -> None:
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

    def _check_live_endpoint_keeps_firing(self, form: forms.ModelForm) -> None:
        data = getattr(form, "cleaned_data", {})
        saved = form.initial
        stays_live = saved.get("status") == data.get("status") == PostbackEndpoint.Status.LIVE
        if not stays_live or data.get("DELETE") or form.errors or not form.has_changed():
            return
        try:
            live_template_kept(
                template=saved["url_template"],
                params=self.instance.tracker_params or [],
                params_before=self.params_before,
            )
        except TemplateError as exc:
            form.add_error("url_template", live_endpoint_would_break(form.instance, exc))


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
