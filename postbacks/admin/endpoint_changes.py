"""How the admin's endpoint pages save a change (the endpoint's own page and the affiliate page's
inline): through endpoint_changes.endpoint_change, as the API does, so a live endpoint's change of
what it fires becomes a new endpoint in testing on every door, and the manager is told so."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from postbacks.endpoint_changes import CHANGE_FIELDS, EndpointChange, endpoint_change
from postbacks.forms import PostbackEndpointInlineFormSet
from postbacks.models import PostbackEndpoint

Status = PostbackEndpoint.Status


def form_change_values(form: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """What an endpoint form asks to change, for endpoint_change: the model fields it shows, as
    cleaned, and the custom headers its clean() put on the instance."""
    values = {
        name: form.cleaned_data[name]
        for name in form._meta.fields
        if name in form.cleaned_data and name in CHANGE_FIELDS and name not in exclude
    }
    values["headers"] = form.instance.headers
    return values


def revision_message(change: EndpointChange) -> SafeString:
    """What the manager reads after a live endpoint's change was made a new endpoint, with a
    link to the new one's page (the affiliate page's save lands on the affiliates list)."""
    assert change.revision is not None
    live, new = change.endpoint.pk, change.revision.pk
    text = format_html(
        "Endpoint #{} is live and keeps firing as it was. Your change is "
        '<a href="{}">endpoint #{}</a>, in testing: send it a test postback, then Set live, '
        "which disables #{}.",
        live,
        reverse("admin:postbacks_postbackendpoint_change", args=[new]),
        new,
        live,
    )
    if change.superseded:
        earlier = ", ".join(f"#{pk}" for pk in change.superseded)
        text += format_html(" The earlier change still waiting ({}) is disabled.", earlier)
    return text


class EndpointInlineFormSet(PostbackEndpointInlineFormSet):
    """The affiliate page's endpoints, each change saved through endpoint_change as on the
    endpoint's own page: a live one's change of what it fires becomes a new endpoint in testing
    (a row of its own after the save), and the manager is told so."""

    request: HttpRequest  # bound per request by PostbackEndpointInline.get_formset

    @property
    def has_live(self) -> bool:
        """Whether a saved row is live: the page then says what saving its change does."""
        return any(form.initial.get("status") == Status.LIVE for form in self.initial_forms)

    def save_existing(self, form: Any, obj: Any, commit: bool = True) -> Any:
        if not commit:
            return super().save_existing(form, obj, commit=commit)
        done = endpoint_change(
            endpoint=obj,
            values=form_change_values(form, exclude=(self.fk.name,)),
            user=self.request.user,
            params_before=self.params_before,
        )
        if done.revision is not None:
            messages.warning(self.request, revision_message(done))
        return done.endpoint
