"""Hand-off pages: mark a stage ready for review (and withdraw the mark), notes on a patient and on a
checklist item, a physician's questions and the coordinator's answers.

Each view binds input, calls one service and goes back to the page the step was posted from (a
fixed choice, never a URL taken from the request). Permissions are checked here, on the server, for
every request. A text that cannot be recorded comes back on a page of its own with what was typed
and the message beside the field; a text posted after the session ended is given back there,
unsaved, after signing in again (GET).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from session_guard.restore import restored_entries, restores_entries

from ...patients.fields import SECTIONS
from ...patients.models import Evaluation
from ...patients.selectors import active_patient
from ...rules import checklist_items
from . import services
from .forms import AnswerForm, FollowUpForm, NoteForm, QuestionForm, StepForm
from .models import Question


def _return_to(form) -> str:
    return (form.cleaned_data.get("return_to") if form.is_valid() else "") or ""


def _checklist_url(patient, code: str = "") -> str:
    return reverse("checklist", args=[patient.public_id]) + (f"#item-{code}" if code else "")


def _question_back(question: Question, return_to: str) -> str:
    if return_to == "worklist":
        return reverse("worklist") + "#open-questions"
    if return_to == "question":
        return reverse("question_detail", args=[question.public_id])
    return _checklist_url(question.assessment.patient, question.code)


def _form_page(request, *, patient, title: str, form, action: str, back: str, status: int, question=None):
    """A text not recorded, or given back after signing in again: the form alone, bound, with its
    message beside the field, on a page that says what it is about."""
    return render(request, "review/handoff_form.html", {
        "patient": patient, "sections": SECTIONS, "title": title, "form": form, "action": action, "back": back,
        "question": question}, status=status)


# --- Ready for review --------------------------------------------------------------------------


@permission_required("eligibility.mark_ready", raise_exception=True)
@require_POST
def ready_mark(request, public_id):
    patient = active_patient(public_id)
    try:
        services.ready_mark(assessment=patient.assessment, by=request.user)
    except services.HandoffRefused as refused:
        messages.error(request, f"Not marked: {refused}")
    else:
        messages.success(request, f"{patient.assessment.get_stage_display()}: marked ready for review; the "
                                  "checklist is in the physicians' queue.")
    return redirect(_back_from_patient(request, patient))


@permission_required("eligibility.mark_ready", raise_exception=True)
@require_POST
def ready_mark_withdraw(request, public_id):
    patient = active_patient(public_id)
    try:
        services.ready_mark_withdraw(assessment=patient.assessment, by=request.user)
    except services.HandoffRefused as refused:
        messages.error(request, f"Not withdrawn: {refused}")
    else:
        messages.success(request, "Ready for review withdrawn: the checklist left the physicians' queue.")
    return redirect(_back_from_patient(request, patient))


def _back_from_patient(request, patient) -> str:
    form = StepForm(request.POST)
    if _return_to(form) == "checklist":
        return _checklist_url(patient)
    return reverse("patient_detail", args=[patient.public_id])


# --- Notes -------------------------------------------------------------------------------------


@permission_required("eligibility.add_note", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def patient_note(request, public_id):
    """A note on the patient (GET: a note posted after the session ended, given back unsaved)."""
    patient = active_patient(public_id)
    back = reverse("patient_detail", args=[patient.public_id]) + "#notes"
    action = reverse("patient_note", args=[patient.public_id])
    if request.method == "GET":
        entries = restored_entries(request)
        if entries is None:
            return redirect(back)
        return _form_page(request, patient=patient, title="Note on the patient", form=NoteForm(entries, prefix="note"),
                          action=action, back=back, status=200)
    form = NoteForm(request.POST, prefix="note")
    if form.is_valid():
        try:
            services.note_add(patient=patient, text=form.cleaned_data["text"], by=request.user)
        except services.HandoffRefused as refused:
            form.add_error("text" if refused.field == "text" else None, str(refused))
        else:
            messages.success(request, "Note added.")
            return redirect(back)
    return _form_page(request, patient=patient, title="Note on the patient", form=form, action=action, back=back,
                      status=400)


def _item(public_id, code):
    evaluation = get_object_or_404(Evaluation.objects.select_related("assessment__patient"), public_id=public_id)
    item = next((item for item in checklist_items(evaluation.checklist) if item.code == code), None)
    if item is None:
        raise Http404("No such item.")
    return evaluation, item


def _item_text(request, public_id, code, *, url_name: str, form_class, prefix: str, title: str, write,
               done: str):
    """A note or a question on one checklist item: the form page (a GET only shows typed text the
    session restored after a sign-out, else goes back to the item), then ``write(patient, evaluation, text)``;
    a refusal is shown beside the field with the text kept."""
    evaluation, item = _item(public_id, code)
    patient = active_patient(evaluation.assessment.patient.public_id)
    back, action = _checklist_url(patient, code), reverse(url_name, args=[public_id, code])
    title = f"{title} {item.title}"
    if request.method == "GET":
        entries = restored_entries(request)
        if entries is None:
            return redirect(back)
        return _form_page(request, patient=patient, title=title, form=form_class(entries, prefix=f"{prefix}-{code}"),
                          action=action, back=back, status=200)
    form = form_class(request.POST, prefix=f"{prefix}-{code}")
    if form.is_valid():
        try:
            write(patient, evaluation, form.cleaned_data["text"])
        except services.HandoffRefused as refused:
            form.add_error("text" if refused.field == "text" else None, str(refused))
        else:
            messages.success(request, f"{done}: {item.title}.")
            return redirect(back)
    return _form_page(request, patient=patient, title=title, form=form, action=action, back=back, status=400)


@permission_required("eligibility.add_note", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def item_note(request, public_id, code):
    """A note on one checklist item."""
    return _item_text(
        request, public_id, code, url_name="item_note", form_class=NoteForm, prefix="note", title="Note on",
        write=lambda patient, evaluation, text: services.note_add(patient=patient, evaluation=evaluation, code=code,
                                                                  text=text, by=request.user),
        done="Note added")


# --- Questions ---------------------------------------------------------------------------------


@permission_required("eligibility.ask_question", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def question_ask(request, public_id, code):
    """A physician's question on one item of the current checklist, to the coordinators."""
    return _item_text(
        request, public_id, code, url_name="question_ask", form_class=QuestionForm, prefix="ask",
        title="Question on",
        write=lambda patient, evaluation, text: services.question_ask(evaluation=evaluation, code=code, text=text,
                                                                      by=request.user),
        done="Question sent to the coordinators")


def _question(public_id) -> Question:
    return get_object_or_404(Question.objects.select_related("assessment__patient", "evaluation"), public_id=public_id)


@permission_required("eligibility.view_question", raise_exception=True)
@require_safe
def question_detail(request, public_id):
    """One question with every step (who, when, what), and the steps the user's role may take."""
    question = _question(public_id)
    return render(request, "review/question_detail.html", {
        "patient": question.assessment.patient, "sections": SECTIONS, "question": question})


def _text_step(request, public_id, *, form_class, prefix: str, step, title: str, done: str):
    question = _question(public_id)
    patient = question.assessment.patient
    action = request.path
    if request.method == "GET":
        entries = restored_entries(request)
        if entries is None:
            return redirect("question_detail", public_id=question.public_id)
        return _form_page(request, patient=patient, title=f"{title}: {question.item_title}", question=question,
                          form=form_class(entries, prefix=f"{prefix}-{question.public_id}"), action=action,
                          back=_question_back(question, "question"), status=200)
    form = form_class(request.POST, prefix=f"{prefix}-{question.public_id}")
    if form.is_valid():
        try:
            step(question=question, text=form.cleaned_data["text"], by=request.user)
        except services.HandoffRefused as refused:
            if refused.field == "text":
                form.add_error("text", str(refused))
            else:  # what happened meanwhile: on the question's page, with the steps now possible
                messages.error(request, str(refused))
                return redirect("question_detail", public_id=question.public_id)
        else:
            messages.success(request, f"{done}: {question.item_title}.")
            return redirect(_question_back(question, _return_to(form)))
    return _form_page(request, patient=patient, title=f"{title}: {question.item_title}", question=question, form=form,
                      action=action, back=_question_back(question, "question"), status=400)


@permission_required("eligibility.answer_question", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def question_answer(request, public_id):
    """The coordinator answers an open question."""
    return _text_step(request, public_id, form_class=AnswerForm, prefix="answer", step=services.question_answer,
                      title="Answer", done="Answer sent")


@permission_required("eligibility.close_question", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def question_follow_up(request, public_id):
    """The physician re-opens an answered question with a follow-up."""
    return _text_step(request, public_id, form_class=FollowUpForm, prefix="followup",
                      step=services.question_follow_up, title="Follow-up", done="Follow-up sent")


@permission_required("eligibility.close_question", raise_exception=True)
@require_POST
def question_close(request, public_id):
    """The physician closes a question (answered, or open: no answer needed any more)."""
    question = _question(public_id)
    form = StepForm(request.POST)
    try:
        services.question_close(question=question, by=request.user)
    except services.HandoffRefused as refused:
        messages.error(request, str(refused))
        return redirect("question_detail", public_id=question.public_id)
    messages.success(request, f"Question closed: {question.item_title}.")
    return redirect(_question_back(question, _return_to(form)))
