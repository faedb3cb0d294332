"""Review forms: the worklist's filters and search, a physician's decision on an item, the
signature, reopening a closed work-up, and keeping a signed checklist a new version asks about."""

from __future__ import annotations

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Hidden, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.http import urlencode

from ..common.text import FREE_TEXT_MAX, free_text_field
from ..common.vocabulary import OVERALL_LABELS, STAGE_LABELS
from .models import Disposition
from .selectors import DEFAULT_DIRECTION, DEFAULT_SORT

#: The worklist's columns: sort key (see selectors.WORKLIST_SORTS), heading, and the direction a
#: first click sorts in (names and stages A to Z, counts most first, changes newest first).
WORKLIST_COLUMNS = [
    ("study_id", "Study identifier", "asc"), ("initials", "Initials", "asc"), ("stage", "Stage", "asc"),
    ("result", "Overall result", "asc"), ("flag", "Flag", "desc"), ("defer", "Defer", "desc"),
    ("exclude", "Exclude", "desc"), ("missing", "Missing", "desc"), ("updated", "Last updated", "desc"),
]
FIRST_DIRECTION = {key: direction for key, _, direction in WORKLIST_COLUMNS}
DIRECTIONS = {"asc": "Ascending", "desc": "Descending"}


class FilterForm(forms.Form):
    """Worklist filters and sort (GET: none of them identifies a patient): overall result, stage,
    the column to sort by and the direction.

    An unknown value is ignored (the default applies), not an error: these come from links.
    """

    result = forms.ChoiceField(label="Overall result", required=False,
                               choices=[("", "Any result"), *OVERALL_LABELS.items()])
    stage = forms.ChoiceField(label="Stage", required=False, choices=[("", "Any stage"), *STAGE_LABELS.items()])
    sort = forms.ChoiceField(label="Sort by", required=False,
                             choices=[(key, label) for key, label, _ in WORKLIST_COLUMNS])
    dir = forms.ChoiceField(label="Order", required=False, choices=list(DIRECTIONS.items()))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_class = "row g-2 align-items-end worklist-filters"
        self.helper.layout = Layout(
            Div("result", css_class="col-6 col-lg-3"), Div("stage", css_class="col-6 col-lg-3"),
            Div("sort", css_class="col-6 col-lg-2"), Div("dir", css_class="col-6 col-lg-3"),
            Div(HTML('<button type="submit" class="btn btn-outline-primary mb-3">Apply</button>'),
                css_class="col-lg-1"),
        )


def worklist_criteria(data) -> dict[str, str]:
    """The worklist's filters and sort from ``data`` (a query string's or a form post's): each of
    :class:`FilterForm`'s fields cleaned as the bound form cleans it, a value it refuses (unknown)
    left out; defaults for the rest. Without building the form: its fields' copies and layout were
    0.4 ms of every worklist, for four choices."""
    cleaned = {}
    for name, field in FilterForm.base_fields.items():
        try:
            cleaned[name] = field.clean(field.widget.value_from_datadict(data, {}, name))
        except ValidationError:
            cleaned[name] = ""
    sort = cleaned["sort"] or DEFAULT_SORT
    return {"result": cleaned["result"], "stage": cleaned["stage"], "sort": sort,
            "dir": cleaned["dir"] or FIRST_DIRECTION[sort]}


def worklist_query(criteria: dict[str, str], **changes: str) -> str:
    """The worklist's query string for ``criteria`` with ``changes``, without the defaults (so the
    plain worklist is just "/"); never the search, which stays in the session."""
    wanted = {**criteria, **changes}
    if wanted["sort"] == DEFAULT_SORT and wanted["dir"] == DEFAULT_DIRECTION:
        wanted = {**wanted, "sort": "", "dir": ""}
    return urlencode({key: value for key, value in wanted.items() if value})


class SearchForm(forms.Form):
    """Search by study identifier or initials (POST: the term is kept in the session, not in the
    URL). The filters and sort in force travel along as hidden fields, so that a search keeps them."""

    search = forms.CharField(label="Study identifier or initials", required=False, max_length=40, strip=True)

    def __init__(self, *args, criteria: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_class = "row g-2 align-items-end worklist-search"
        kept = [Hidden(name, value) for name, value in (criteria or {}).items() if value]
        self.helper.layout = Layout(
            Div("search", css_class="col-sm-8 col-lg-6"),
            Div(HTML('<button type="submit" class="btn btn-outline-primary mb-3">Search</button>'),
                css_class="col-sm-4 col-lg-2"),
            *kept,
        )


DECISION_CHOICES = {
    "flag": [(Disposition.Kind.ACKNOWLEDGED, "Acknowledge")],
    "blocking": [(Disposition.Kind.ACCEPTED, "Accept the finding"), (Disposition.Kind.OVERRIDDEN, "Override")],
}


class DispositionForm(forms.Form):
    """A physician's decision on one item (prefixed with the rule code: one form per item).

    A flag is acknowledged, with an optional note; a blocking item is accepted (a note is optional)
    or overridden with a reason and a justification (both required).
    """

    kind = forms.ChoiceField(label="Decision", widget=forms.RadioSelect)
    reason_code = forms.ChoiceField(label="Reason for the override", required=False,
                                    choices=[("", "Choose a reason"), *Disposition.Reason.choices])
    justification = free_text_field("Justification", required=False, help_text="Required for an override.")

    def __init__(self, *args, status: str = "flag", **kwargs):
        super().__init__(*args, **kwargs)
        self.status = status
        self.fields["kind"].choices = DECISION_CHOICES["flag" if status == "flag" else "blocking"]
        if status != "flag":
            self.fields["kind"].help_text = ("Accept: the patient does not go on because of this finding. Override: "
                                             "the patient goes on despite it (reason and justification required).")
        if status == "flag":
            self.fields["kind"].initial = Disposition.Kind.ACKNOWLEDGED
            del self.fields["reason_code"]
            self.fields["justification"].label = "Note (optional)"
            self.fields["justification"].help_text = f"At most {FREE_TEXT_MAX:,} characters."  # not required
        self.helper = FormHelper()
        self.helper.form_tag = False
        if status == "flag":
            self.helper.layout = Layout(*self.fields, Submit("record", "Record decision", css_class="btn-sm"))
        else:
            # Without JavaScript the override's fields are always shown, said to be for an override
            # only; static/js/review.js shows them only while Override is chosen.
            self.helper.layout = Layout(
                "kind",
                Fieldset("Only for an override", "reason_code", "justification", css_class="override-fields",
                         data_override_fields=""),
                Submit("record", "Record decision", css_class="btn-sm"))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == Disposition.Kind.OVERRIDDEN:
            if not cleaned.get("reason_code"):
                self.add_error("reason_code", "An override needs a reason: choose one.")
            if not (cleaned.get("justification") or "").strip() and "justification" not in self.errors:
                self.add_error("justification", "An override needs a justification: write why the finding does "
                                                "not stop the patient.")
        return cleaned


class BulkDecisionForm(forms.Form):
    """One note for a decision on several items at once (acknowledge all flags, accept all missing)."""

    note = free_text_field("Note (optional)", required=False)

    def __init__(self, *args, action: str, **kwargs):
        kwargs.setdefault("prefix", action)
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("note")


class SignOffForm(forms.Form):
    """Re-enter the password to sign (the signature's meaning is shown beside it)."""

    password = forms.CharField(label="Your password (to sign)", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("password", Submit("sign", "Sign"))


class ReopenForm(forms.Form):
    """A physician reopens a work-up closed as not eligible: why."""

    justification = free_text_field("Why the work-up is reopened")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("justification", Submit("reopen", "Reopen the work-up", css_class="btn-secondary"))


class ReviewKeepForm(forms.Form):
    """Keep a signed checklist that a new rule-set version would change: say why."""

    justification = free_text_field("Why the signed checklist stands")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("justification", StrictButton("Keep the signed checklist", type="submit",
                                                                  name="keep", css_class="btn-secondary"))
