"""Patient pages. Each view binds input, calls one service or selector and renders; permissions are
checked here, on the server, for every request (the role decides, not what the page shows)."""


from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from session_guard.restore import restored_entries, restores_entries

from ..common import compiled
from ..common.jinja import JINJA
from ..common.people import display_name
from ..common.vocabulary import STAGE_LABELS
from ..rulesets.selectors import active_engine
from . import episodes_services, services
from .episodes import day0, day_text
from .episodes import key_dates as episode_key_dates
from .fields import FIELDS_BY_PATH, SECTIONS
from .forms import (
    BASE_SALT,
    EpisodeCloseForm,
    EpisodeStartForm,
    PatientForm,
    PatientIdentityForm,
    SectionForm,
    WithdrawForm,
)
from .keydates import KeyDatesForm
from .models import UNSHOWN_EVALUATION_FIELDS, Assessment, Evaluation, Patient
from .presenters import assessment_changed_since, history_rows
from .selectors import active_patient, patient_for_page, patient_or_404
from .signals import save_notices, write_refusal


@permission_required("eligibility.add_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def patient_create(request):
    form = PatientForm(request.POST if request.method == "POST" else restored_entries(request))
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(by=request.user, **form.cleaned_data)
        except services.PatientRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, "Patient created. Record the screening data below.")
            return redirect("intake", public_id=patient.public_id, phase="screening")
    return render(request, "patients/patient_form.html", {"form": form})


@permission_required("eligibility.change_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def patient_identity(request, public_id):
    """Correct a patient's study identifier or initials (recorded in the history)."""
    patient = active_patient(public_id)
    form = PatientIdentityForm(request.POST if request.method == "POST" else restored_entries(request),
                               initial={"study_id": patient.study_id, "initials": patient.initials})
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_identity_update(patient=patient, by=request.user, **form.cleaned_data)
        except services.PatientRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, "Identifier and initials saved; the change is in the history.")
            return redirect("patient_detail", public_id=patient.public_id)
    return render(request, "patients/patient_identity.html", {"patient": patient, "form": form,
                                                                  "sections": SECTIONS})


@permission_required("eligibility.withdraw_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def patient_withdraw(request, public_id):
    """Withdraw a patient with a reason (leaves the worklists; an administrator can restore)."""
    patient = active_patient(public_id)
    form = WithdrawForm(request.POST if request.method == "POST" else restored_entries(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_withdraw(patient=patient, by=request.user, reason=form.cleaned_data["reason"])
        except services.PatientRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, "The patient is withdrawn: no longer on the worklists. The record stays; an "
                                      "administrator can restore it.")
            return redirect("worklist")
    return render(request, "patients/patient_withdraw.html", {"patient": patient, "form": form,
                                                                  "sections": SECTIONS})


@permission_required("eligibility.restore_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
def withdrawn_patients(request):
    """Administrators: withdrawn patients, each with who withdrew it, when and why, and a restore button."""
    if request.method == "POST":
        patient = get_object_or_404(Patient, public_id=request.POST.get("patient", ""))
        try:
            services.patient_restore(patient=patient, by=request.user)
        except services.PatientRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, "Patient restored to the worklists.")
        return redirect("withdrawn_patients")
    patients = Patient.objects.filter(withdrawn_at__isnull=False).select_related("withdrawn_by").order_by(
        "-withdrawn_at")
    return render(request, "patients/withdrawn_patients.html", {"patients": patients})


def _episodes(patient) -> list:
    episodes = compiled.objects_for("patient page episodes", lambda key: Assessment.objects.filter(
        patient_id=key).select_related("opened_by", "closed_by").order_by("-number"), patient.pk)
    for episode in episodes:
        episode.patient = patient  # as the related manager would have set it
    return episodes


@permission_required("eligibility.view_patient", raise_exception=True)
@require_safe
def patient_detail(request, public_id):
    # The episode with who last updated it (the page names them), and the episode's patient this
    # one (the history reads it): no query for either.
    # Its queries built once per connection (compiled), run with this patient's keys.
    patient = patient_for_page(public_id, "assessment__updated_by")  # with which hand-off parts have rows
    assessment = patient.assessment
    assessment.patient = patient
    # The page lists checklists by time, result, stage and rule set: not their stored items and inputs
    # (about 7 KB of JSON each, decoded for nothing, up to 50 times).
    evaluations = compiled.objects_for("patient page checklists", lambda episode: Evaluation.objects.filter(
        assessment_id=episode).select_related("ruleset", "created_by").defer(*UNSHOWN_EVALUATION_FIELDS)[:50],
        assessment.pk)
    for evaluation in evaluations:
        evaluation.assessment = assessment  # as the related manager would have set it
    current = next((e for e in evaluations if e.pk == assessment.current_evaluation_id), None)
    if current is not None:
        assessment.current_evaluation = current  # the row already read, not a query for it and its JSON
    dates = episode_key_dates(assessment)
    return render(request, "patients/patient_detail.jinja", using=JINJA, context={
        "patient": patient, "assessment": assessment, "evaluations": evaluations,
        "history": history_rows(assessment), "sections": SECTIONS,
        "episodes": _episodes(patient),
        "key_dates": dates, "any_key_date": any(item.on for item in dates), "day0": day0(assessment),
    })


@permission_required("eligibility.manage_episode", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def episode_start(request, public_id):
    """Start a new treatment episode of the patient (the current one, if open, is closed as replaced)."""
    patient = active_patient(public_id)
    current = patient.assessment
    form = EpisodeStartForm(request.POST if request.method == "POST" else restored_entries(request),
                            initial={"current": current.public_id, "start_from_previous": "yes"})
    if request.method == "POST" and form.is_valid():
        expected = (Assessment.objects.filter(patient=patient, public_id=form.cleaned_data["current"])
                    .values_list("pk", flat=True).first())
        try:
            episode = episodes_services.episode_start(
                patient=patient, kind=form.cleaned_data["kind"], expected_current_id=expected, by=request.user,
                start_from_previous=form.cleaned_data["start_from_previous"])
        except episodes_services.EpisodeRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, f"{episodes_services.episode_title(episode)} started; it is the current "
                                      "episode. Record its screening data below.")
            return redirect("intake", public_id=patient.public_id, phase="screening")
    return render(request, "patients/episode_start.html", {
        "patient": patient, "assessment": current, "form": form, "sections": SECTIONS,
        "next_number": patient.episodes.count() + 1})


def _episode_or_404(public_id) -> Assessment:
    return get_object_or_404(Assessment.objects.select_related("patient", "opened_by", "closed_by"),
                             public_id=public_id)


@permission_required("eligibility.manage_episode", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def episode_close(request, public_id):
    """Close an episode without starting a new one (a confirmation page, no script needed)."""
    episode = _episode_or_404(public_id)
    patient = active_patient(episode.patient.public_id)
    form = EpisodeCloseForm(request.POST if request.method == "POST" else restored_entries(request))
    if request.method == "POST" and form.is_valid():
        try:
            episodes_services.episode_close(assessment=episode, reason=form.cleaned_data["reason"],
                                            note=form.cleaned_data["note"], by=request.user)
        except episodes_services.EpisodeRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, f"{episodes_services.episode_title(episode)} is closed: it stays readable and "
                                      "takes no more data, decisions or signatures.")
            return redirect("patient_detail", public_id=patient.public_id)
    return render(request, "patients/episode_close.html", {
        "patient": patient, "assessment": patient.assessment, "episode": episode, "form": form,
        "sections": SECTIONS})


@permission_required("eligibility.view_patient", raise_exception=True)
@require_safe
def episode_detail(request, public_id):
    """One episode, read-only: its key dates, evaluations, signatures (with their PDFs) and history."""
    episode = _episode_or_404(public_id)
    patient = episode.patient
    zero = day0(episode)
    dates = [{"date": date, "day": day_text(date.on, zero)} for date in episode_key_dates(episode)]
    evaluations = list(episode.evaluations.select_related("ruleset", "created_by").defer(*UNSHOWN_EVALUATION_FIELDS))
    # The review package's signatures of this episode, by their relation (patients imports nothing above it).
    signoffs = list(episode.signoffs.order_by("-signed_at", "-id"))
    return render(request, "patients/episode_detail.html", {
        "patient": patient, "episode": episode, "assessment": patient.assessment, "dates": dates,
        "evaluations": evaluations, "signoffs": signoffs, "history": history_rows(episode), "sections": SECTIONS,
        "is_current": patient.assessment_id == episode.pk,
    })


def _posted_episode(request, patient) -> Assessment | None:
    """The episode of ``patient`` other than the current one that a posted intake form was built
    from (its signed snapshot names it), or ``None``."""
    try:
        base = signing.loads(request.POST.get("base") or "", salt=BASE_SALT)
    except signing.BadSignature:
        return None
    pk = base.get("a") if isinstance(base, dict) else None
    if not isinstance(pk, int) or pk == patient.assessment_id:
        return None
    return Assessment.objects.select_related("patient", "current_evaluation").filter(patient=patient, pk=pk).first()


@permission_required("eligibility.change_assessment", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def intake(request, public_id, phase):
    """One phase's intake form; saving re-evaluates the checklist.

    A save applies only what the user changed from the values the form was opened with. If a
    colleague saved meanwhile, the save is refused: the form comes back with the colleague's values
    under the fields they changed, the user's entries kept, and built on the saved revision.
    """
    if phase not in {section for section, _, _ in SECTIONS}:
        raise Http404("No such section.")
    patient = patient_or_404(public_id)
    assessment = patient.assessment
    if request.method == "POST":
        # A form opened on an earlier episode (a new one started meanwhile) saves into that one, where
        # it is refused as closed with the entries kept: never into the new episode unseen.
        assessment = _posted_episode(request, patient) or assessment
    _, engine = active_engine()
    data = request.POST if request.method == "POST" else restored_entries(request)
    form = SectionForm(data, initial=SectionForm.initial_for(assessment, phase), phase=phase, engine=engine,
                       assessment=assessment)
    if request.method == "POST":
        if form.is_valid():
            previous = assessment.current_evaluation_id
            try:
                evaluation = services.assessment_update(
                    assessment=assessment, changes=form.changes(), stage=form.stage_value(),
                    revision=form.cleaned_data["revision"], by=request.user)
            except services.ConcurrentEdit as conflict:
                current = conflict.assessment
                base = form.cleaned_data.get("base")
                since = base["r"] if base else form.cleaned_data["revision"]
                form.rebase(current, assessment_changed_since(current, since))
                changed_by = display_name(current.updated_by)
                form.add_error(None, (
                    f"Not saved: {changed_by} saved this assessment at "
                    f"{timezone.localtime(current.updated_at):%H:%M on %d %b %Y} while you were editing. Their "
                    "values are shown under each field they changed; your entries are kept. Check them, then "
                    "save again: only what you changed will be saved."))
            except services.WorkupClosed as closed:
                form.add_error(None, f"Not saved: {closed}")
            except services.CaseValidationError as invalid:  # changed between form check and save
                for error in invalid.errors:
                    form.add_case_error(error["field"], error["message"])
            else:
                removed = "; ".join(f"{FIELDS_BY_PATH[path].label} (was {form.display(path, value)})"
                                    for path, value in form.removed)
                notices = save_notices(previous, evaluation) if previous and evaluation.pk != previous else []
                messages.success(request, f"{STAGE_LABELS[phase]}: saved; the checklist was re-evaluated." + (
                    f" Removed because they no longer apply: {removed}." if removed else "")
                    + "".join(f" {notice}" for notice in notices))
                return redirect("checklist", public_id=patient.public_id)
        elif form.has_error(NON_FIELD_ERRORS, code="tampered"):
            form.rebase(assessment, {})
    return render(request, "patients/intake.html", {
        "patient": patient, "assessment": assessment, "form": form, "phase": phase, "sections": SECTIONS,
        "refusal": write_refusal(assessment),
    }, status=200)


@permission_required("eligibility.view_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def key_dates(request, public_id):
    """The key dates of the patient's current episode, one form, one save (issue 14): the treatment
    dates go through the intake's save path (revision check, the engine's validation, re-evaluation),
    the episode's own dates and done flags with them, under the same lock and revision. Read-only for
    a user who may not record data, a withdrawn patient or a closed work-up."""
    patient = patient_or_404(public_id)
    assessment = patient.assessment
    may_edit = request.user.has_perm("eligibility.change_assessment")
    refusal = write_refusal(assessment)
    if assessment.is_closed:
        refusal = f"Episode {assessment.number} is closed: nothing can be recorded in it."
    if patient.is_withdrawn:
        refusal = "This patient has been withdrawn: nothing can be recorded."
    if request.method == "POST" and not may_edit:
        raise PermissionDenied
    _, engine = active_engine()
    data = request.POST if request.method == "POST" else restored_entries(request)
    # A save refused because the episode was closed (or the patient withdrawn) since the page was
    # opened shows what was typed, not the saved dates: nothing typed is lost.
    refused_post = request.method == "POST" and bool(refusal)
    form = KeyDatesForm(data, initial=KeyDatesForm.initial_for(assessment), assessment=assessment, engine=engine,
                        read_only=not may_edit or (bool(refusal) and not refused_post))
    if refused_post:
        form.is_valid()
        form.add_error(None, f"Not saved: {refusal} What you typed is kept below.")
    if request.method == "POST" and not refusal and form.is_valid():
        previous = assessment.current_evaluation_id
        try:
            evaluation = services.assessment_update(
                assessment=assessment, changes=form.changes(), stage=assessment.stage,
                revision=form.cleaned_data["revision"], by=request.user, episode_fields=form.episode_values())
        except services.ConcurrentEdit as conflict:
            current = conflict.assessment
            form.rebase(current)
            form.add_error(None, (
                f"Not saved: {display_name(current.updated_by)} saved this episode at "
                f"{timezone.localtime(current.updated_at):%H:%M on %Y-%m-%d} while you were editing. Their "
                "values are shown under each date they changed; your entries are kept. Check them, then save "
                "again."))
        except services.WorkupClosed as closed:
            form.add_error(None, f"Not saved: {closed}")
        except services.CaseValidationError as invalid:  # changed between form check and save
            for error in invalid.errors:
                form.add_case_error(error["field"], error["message"])
        else:
            notices = save_notices(previous, evaluation) if previous and evaluation.pk != previous else []
            reevaluated = " The checklist was re-evaluated." if previous and evaluation.pk != previous else ""
            messages.success(request, "Key dates saved." + reevaluated + "".join(f" {notice}" for notice in notices))
            return redirect("key_dates", public_id=patient.public_id)
    return render(request, "patients/key_dates.html", {
        "patient": patient, "assessment": assessment, "form": form, "sections": SECTIONS, "refusal": refusal,
        "may_edit": may_edit, "key_dates": episode_key_dates(assessment), "day0": day0(assessment),
        "phase": "dates",
    })
