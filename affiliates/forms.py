"""The affiliate's setup form (docs/spec.md §7), and the account manager's edit of a request it
filed: both parse input and hand it to the one validator in affiliates.setup_requests, so the
form, the admin and the API agree on what is valid."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from affiliates.models import Affiliate, SetupRequest
from affiliates.selectors import event_types_active
from affiliates.setup_request_edits import setup_request_edit_validate
from affiliates.setup_requests import setup_request_validate
from affiliates.validators import MAX_TRACKER_PARAMS
from postbacks.models import PostbackEndpoint
from postbacks.receivers import PRESETS

# Rows shown without JavaScript; setup.js reveals more, up to MAX_TRACKER_PARAMS.
VISIBLE_PARAM_ROWS = 5
PARAM_NAME_MAX = 64
PARAM_MEANING_MAX = 200
TEXT_MAX = 4000
URL_MAX = 2048
HONEYPOT = "website"


class SetupForm(forms.Form):
    network_id = forms.IntegerField(
        label=_("Your network id"),
        min_value=1,
        max_value=10**18 - 1,
        help_text=_("Your affiliate id on our network, e.g. 1234567."),
        error_messages={"invalid": _("Enter your network id as a number, e.g. 1234567.")},
    )
    affiliate_name = forms.CharField(
        label=_("Your name or company"),
        required=False,
        max_length=200,
        help_text=_("How we should address you, e.g. Tracker Media Ltd."),
    )
    contact_email = forms.EmailField(
        label=_("Contact e-mail"),
        max_length=254,
        help_text=_("Where we answer you about this postback."),
        error_messages={"invalid": _("Enter an e-mail address such as you@example.com.")},
    )
    offer_links = forms.CharField(
        label=_("Offer links you use"),
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, as you put them on your site."),
    )
    events = forms.ChoiceField(
        label=_("Which events should we send?"),
        choices=[
            (SetupRequest.Events.CONVERSIONS, _("Conversions (sales)")),
            (SetupRequest.Events.FREEREG, _("Free registrations")),
            (SetupRequest.Events.BOTH, _("Conversions and free registrations")),
            (SetupRequest.Events.CHOSEN, _("A chosen set of events")),
        ],
        initial=SetupRequest.Events.CONVERSIONS,
        widget=forms.RadioSelect,
    )
    event_codes = forms.MultipleChoiceField(
        label=_("Chosen events"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_('Only for "A chosen set of events".'),
    )
    # The tracker picker fills the URL in (setup.js); only the choice is kept, so that approval
    # gives the endpoint the statuses and words of that tracker.
    receiver_preset = forms.ChoiceField(
        label=_("Your tracker"),
        required=False,
        choices=[("", _("Other: I write the URL myself"))]
        + [(preset.code, preset.name) for preset in PRESETS],
        help_text=_(
            "Pick it, give its domain (and key), and we fill the postback URL in for you "
            "to check and edit."
        ),
    )
    receiver_domain = forms.CharField(
        label=_("Your tracker's domain"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"size": 40, "spellcheck": "false"}),
        help_text=_("e.g. track.example.com"),
    )
    receiver_key = forms.CharField(
        label=_("Its postback key"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"size": 40, "spellcheck": "false"}),
        help_text=_("Only where your tracker has one (Keitaro)."),
    )
    url_template = forms.CharField(
        label=_("Postback URL"),
        max_length=URL_MAX,
        widget=forms.TextInput(attrs={"size": 80, "spellcheck": "false"}),
        help_text=_(
            "Your tracker's postback address, with macros in braces, e.g. "
            "https://track.example/pb?cid={clickId}&amp;tx={transaction_id}&amp;sum={amount}"
        ),
    )
    method = forms.ChoiceField(
        label=_("Send it as"),
        choices=[("GET", "GET"), ("POST", _("POST (the query as a form body)"))],
        initial=PostbackEndpoint.Method.GET,
        widget=forms.RadioSelect,
    )
    tracker_separator = forms.CharField(
        label=_("Separator between the values"),
        max_length=8,
        initial="-",
        strip=False,
        widget=forms.TextInput(attrs={"size": 4}),
    )
    test_link = forms.CharField(
        label=_("Test link"),
        max_length=URL_MAX,
        widget=forms.TextInput(attrs={"size": 80, "spellcheck": "false"}),
        help_text=_(
            "One of your offer links as it looks after a click, with your tracker's values "
            "filled in, e.g. https://offers.example/go?id=66013;tracker="
            "trID_1234567_aff9-tx77-c0ffee_trID"
        ),
    )
    questions = forms.CharField(
        label=_("Anything else?"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # Hidden from people by CSS; bots that fill every field fill this one too.
    website = forms.CharField(required=False, max_length=200, label="Leave this empty")

    def __init__(self, *args: Any, affiliate: Affiliate | None = None, **kwargs: Any) -> None:
        """``affiliate``: the invited affiliate; its network id is fixed and the form pre-filled."""
        if affiliate is not None and not kwargs.get("data") and not args:
            kwargs["initial"] = {**self.initial_for(affiliate), **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.affiliate = affiliate
        self.params_errors: list[str] = []
        self.event_codes_list: list[str] = []
        event_codes = self.fields["event_codes"]
        assert isinstance(event_codes, forms.MultipleChoiceField)
        event_codes.choices = [(event.code, event.name) for event in event_types_active()]
        for index in range(MAX_TRACKER_PARAMS):
            self.fields[f"param_name_{index}"] = forms.CharField(
                required=False,
                max_length=PARAM_NAME_MAX,
                label=gettext("Param %(number)d name") % {"number": index + 1},
            )
            self.fields[f"param_meaning_{index}"] = forms.CharField(
                required=False,
                max_length=PARAM_MEANING_MAX,
                label=gettext("Param %(number)d meaning") % {"number": index + 1},
            )
        if affiliate is not None:
            field = self.fields["network_id"]
            field.disabled = True
            field.initial = affiliate.network_id
            field.help_text = _("Fixed by your invite link.")

    @staticmethod
    def initial_for(affiliate: Affiliate) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "network_id": affiliate.network_id,
            "affiliate_name": affiliate.name,
            "contact_email": affiliate.email,
            "tracker_separator": affiliate.tracker_separator,
        }
        for index, name in enumerate(affiliate.tracker_params or []):
            initial[f"param_name_{index}"] = name
        return initial

    @property
    def tracker_prefix(self) -> str:
        return self.affiliate.tracker_prefix if self.affiliate else "trID_"

    @property
    def tracker_suffix(self) -> str:
        return self.affiliate.tracker_suffix if self.affiliate else "_trID"

    def param_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, bool]]:
        """(name, meaning, shown) per row: the first rows and any filled ones are shown."""
        rows = []
        last_filled = -1
        for index in range(MAX_TRACKER_PARAMS):
            name, meaning = self[f"param_name_{index}"], self[f"param_meaning_{index}"]
            if name.value() or meaning.value():
                last_filled = index
        for index in range(MAX_TRACKER_PARAMS):
            shown = index < max(VISIBLE_PARAM_ROWS, last_filled + 2)
            rows.append((self[f"param_name_{index}"], self[f"param_meaning_{index}"], shown))
        return rows

    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT))

    def _params(self) -> tuple[list[str], dict[str, str]]:
        names: list[str] = []
        meanings: dict[str, str] = {}
        for index in range(MAX_TRACKER_PARAMS):
            name = (self.cleaned_data.get(f"param_name_{index}") or "").strip()
            meaning = (self.cleaned_data.get(f"param_meaning_{index}") or "").strip()
            if not name and meaning:
                self.params_errors.append(
                    gettext("Row %(number)d explains %(meaning)r but has no param name.")
                    % {"number": index + 1, "meaning": meaning}
                )
            if name:
                names.append(name)
                meanings[name] = meaning
        return names, meanings

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        names, meanings = self._params()
        cleaned["tracker_params"] = names
        cleaned["tracker_param_descriptions"] = meanings
        needed = ("network_id", "events", "url_template", "method", "tracker_separator")
        if any(field not in cleaned for field in needed):
            return cleaned  # a field error already says what is missing
        try:
            self.event_codes_list = setup_request_validate(
                network_id=cleaned["network_id"],
                events=cleaned["events"],
                event_codes=cleaned.get("event_codes") or [],
                url_template=cleaned["url_template"],
                method=cleaned["method"],
                tracker_params=names,
                tracker_separator=cleaned["tracker_separator"],
                test_link=cleaned.get("test_link") or "",
                affiliate=self.affiliate,
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                if field == "tracker_params":
                    self.params_errors.extend(messages)
                elif field in self.fields and field not in self.errors:
                    self.add_error(field, messages)
        if self.params_errors:
            raise ValidationError(gettext("The tracker params need a look: see below."))
        return cleaned


class ParamNamesField(forms.CharField):
    """Tracker param names typed as one comma-separated line; checked by the setup form's own
    validator (setup_request_validate) in the form's clean, not here."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(name) for name in value)
        return value


class SetupRequestEditForm(forms.ModelForm):
    """An account manager's correction of a new request on its review page: the tracker params,
    separator, postback URL and test link, checked exactly as the affiliate's setup form checks
    them, with the request's other answers (events, method) as the affiliate gave them."""

    tracker_params = ParamNamesField(
        label="Tracker params",
        max_length=MAX_TRACKER_PARAMS * (PARAM_NAME_MAX + 2),
        widget=forms.TextInput(attrs={"size": 50, "spellcheck": "false"}),
        help_text="In order, separated by commas, e.g. affid, clickId. A renamed param needs "
        "the postback URL's macro renamed too.",
    )
    tracker_separator = forms.CharField(
        label="Separator",
        max_length=8,
        strip=False,
        widget=forms.TextInput(attrs={"size": 4}),
    )
    url_template = forms.CharField(
        label="Postback URL",
        max_length=URL_MAX,
        widget=forms.TextInput(attrs={"size": 80, "spellcheck": "false"}),
    )
    test_link = forms.CharField(
        label="Test link",
        max_length=URL_MAX,
        widget=forms.TextInput(attrs={"size": 80, "spellcheck": "false"}),
        help_text="An offer link with the tracker filled in: a value for each param.",
    )

    class Meta:
        model = SetupRequest
        fields = ("tracker_params", "tracker_separator", "url_template", "test_link")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The admin drops the fields of a reviewed request (read-only); a field error already
        # says what is missing.
        if any(field not in cleaned for field in SetupRequestEditForm.Meta.fields):
            return cleaned
        try:
            cleaned["tracker_params"] = setup_request_edit_validate(
                setup_request=self.instance,
                tracker_params=cleaned["tracker_params"],
                tracker_separator=cleaned["tracker_separator"],
                url_template=cleaned["url_template"],
                test_link=cleaned["test_link"],
            )
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise
            for field, messages in exc.message_dict.items():
                if field in self.fields:
                    self.add_error(field, messages)
                else:
                    # Events: not editable here, so named in the form's own error.
                    label = field.replace("_", " ").capitalize()
                    self.add_error(None, [f"{label}: {message}" for message in messages])
        return cleaned
