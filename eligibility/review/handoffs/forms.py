"""Hand-off forms: a note, a question, an answer, a follow-up (free text, one limit), and where to
go back after a step (a fixed choice, never a URL from the request)."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout, Submit
from django import forms

from ...common.text import free_text_field

#: Where a step posted from a page goes back to.
RETURN_TO = [("checklist", "checklist"), ("worklist", "worklist"), ("question", "question")]


class _TextForm(forms.Form):
    label = ""
    button = ""
    empty = ""  # said beside the field when nothing was written

    text = free_text_field("Text")
    return_to = forms.ChoiceField(choices=RETURN_TO, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].label = self.label
        self.fields["text"].error_messages["required"] = self.empty
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("text", "return_to", Submit("send", self.button, css_class="btn-sm"))


class NoteForm(_TextForm):
    label = "Note"
    button = "Add note"
    empty = "The note is empty: write it, then add it."


class QuestionForm(_TextForm):
    label = "Your question to the coordinator"
    button = "Ask the coordinator"
    empty = "The question is empty: write it, then send it."


class AnswerForm(_TextForm):
    label = "Your answer"
    button = "Send the answer"
    empty = "The answer is empty: write it, then send it."


class FollowUpForm(_TextForm):
    label = "Follow-up question"
    button = "Re-open with this follow-up"
    empty = "The follow-up question is empty: write it, then re-open the question."


class StepForm(forms.Form):
    """A step without text (close a question; mark or withdraw ready for review)."""

    return_to = forms.ChoiceField(choices=RETURN_TO, required=False, widget=forms.HiddenInput)
