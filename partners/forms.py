"""The affiliate pages' forms: they parse input; the services decide."""

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from postbacks import lifecycle
from postbacks.models import EventType, PostbackEndpoint


class SignInForm(forms.Form):
    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        help_text=_("The address your account manager has for you."),
        error_messages={"invalid": _("Enter an e-mail address such as you@example.com.")},
    )


class LogFilterForm(forms.Form):
    event = forms.ChoiceField(label=_("Event"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    failed = forms.BooleanField(label=_("Failed only"), required=False)
    day = forms.DateField(
        label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        event = self.fields["event"]
        assert isinstance(event, forms.ChoiceField)
        event.choices = [("", _("All events"))] + [
            (e.code, e.name) for e in EventType.objects.order_by("code")
        ]
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [("", _("All statuses"))] + [
            (code, STATUS_WORDS[code]) for code in lifecycle.STATUSES
        ]


STATUS_WORDS = {
    lifecycle.PENDING: _("pending"),
    lifecycle.APPROVED: _("approved"),
    lifecycle.REJECTED: _("rejected"),
    lifecycle.REVERSED: _("reversed"),
}


ENDPOINT_STATUS_WORDS = {
    PostbackEndpoint.Status.DRAFT: _("draft"),
    PostbackEndpoint.Status.TESTING: _("testing"),
    PostbackEndpoint.Status.LIVE: _("live"),
    PostbackEndpoint.Status.DISABLED: _("disabled"),
}


class ReplayForm(forms.Form):
    since = forms.DateTimeField(
        label=_("Failed since (UTC)"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_since(self) -> Any:
        since = self.cleaned_data["since"]
        oldest = timezone.now() - timedelta(days=settings.PARTNER_LOG_DAYS)
        if since > timezone.now():
            raise forms.ValidationError(_("Choose a time in the past."))
        return max(since, oldest)
