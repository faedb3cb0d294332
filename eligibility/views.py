"""Pages. Each view binds input, calls one service or selector and renders; permissions are
checked here, on the server, for every request (the role decides, not what the page shows)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_safe

from session_guard.restore import restored_entries, restores_entries

from . import review, services
from .forms import (
    LABELS,
    SECTIONS,
    DispositionForm,
    FilterForm,
    PatientForm,
    ReviewKeepForm,
    SearchForm,
    SectionForm,
    SignOffForm,
)
from .models import Evaluation, Patient, ReviewRequest, SignOff
from .pdf import render_pdf
from .presenters import assessment_changed_since, checklist_view_model, history_rows
from .selectors import active_engine, physician_queue, worklist_patients

PAGE_SIZE = 25
QUEUE_SIZE = 50


SEARCH_SESSION_KEY = "worklist_search"


@permission_required("eligibility.view_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
def worklist(request):
    """Home page: patients with their stage, result and open flags; filters, search, pages.

    The study-identifier search is posted and kept in the session, never put in the URL (URLs end
    up in browser histories and access logs); result and stage filters are ordinary GET parameters.
    """
    if request.method == "POST":
        search = SearchForm(request.POST)
        request.session[SEARCH_SESSION_KEY] = search.cleaned_data["search"] if search.is_valid() else ""
        filters = {key: request.POST.get(key, "") for key in ("result", "stage") if request.POST.get(key)}
        return redirect(f"{reverse('worklist')}?{urlencode(filters)}" if filters else reverse("worklist"))
    filters = FilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    search = request.session.get(SEARCH_SESSION_KEY, "")
    patients = worklist_patients(result=criteria.get("result", ""), stage=criteria.get("stage", ""), search=search)
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    queue = physician_queue()[:QUEUE_SIZE] if request.user.has_perm("eligibility.add_signoff") else None
    return render(request, "eligibility/worklist.html", {
        "page": page, "filters": filters, "query": query.urlencode(),
        "search_form": SearchForm(initial={"search": search}), "search": search, "queue": queue,
    })


@permission_required("eligibility.add_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def patient_create(request):
    form = PatientForm(request.POST if request.method == "POST" else restored_entries(request))
    if request.method == "POST" and form.is_valid():
        patient = services.patient_create(by=request.user, **form.cleaned_data)
        messages.success(request, "Patient created. Record the screening data below.")
        return redirect("intake", public_id=patient.public_id, phase="screening")
    return render(request, "eligibility/patient_form.html", {"form": form})


def _patient(public_id) -> Patient:
    return get_object_or_404(Patient.objects.select_related("assessment"), public_id=public_id)


@permission_required("eligibility.view_patient", raise_exception=True)
@require_safe
def patient_detail(request, public_id):
    patient = _patient(public_id)
    assessment = patient.assessment
    evaluations = assessment.evaluations.select_related("ruleset", "created_by")[:50]
    return render(request, "eligibility/patient_detail.html", {
        "patient": patient, "assessment": assessment, "evaluations": evaluations,
        "history": history_rows(assessment), "sections": SECTIONS,
    })


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
    patient = _patient(public_id)
    assessment = patient.assessment
    _, engine = active_engine()
    data = request.POST if request.method == "POST" else restored_entries(request)
    form = SectionForm(data, initial=SectionForm.initial_for(assessment, phase), phase=phase, engine=engine,
                       assessment=assessment)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.assessment_update(assessment=assessment, changes=form.changes(), stage=form.stage_value(),
                                           revision=form.cleaned_data["revision"], by=request.user)
            except services.ConcurrentEdit as conflict:
                current = conflict.assessment
                base = form.cleaned_data.get("base")
                since = base["r"] if base else form.cleaned_data["revision"]
                form.rebase(current, assessment_changed_since(current, since))
                changed_by = current.updated_by.get_full_name() or current.updated_by.username
                form.add_error(None, (
                    f"Not saved: {changed_by} saved this assessment at "
                    f"{timezone.localtime(current.updated_at):%H:%M on %d %b %Y} while you were editing. Their "
                    "values are shown under each field they changed; your entries are kept. Check them, then "
                    "save again: only what you changed will be saved."))
            except services.CaseValidationError as invalid:  # changed between form check and save
                for error in invalid.errors:
                    form.add_case_error(error["field"], error["message"])
            else:
                title = next(title for section, title, _ in SECTIONS if section == phase)
                removed = "; ".join(f"{LABELS[path]} (was {form.display(path, value)})" for path, value in form.removed)
                messages.success(request, f"{title}: saved; the checklist was re-evaluated." + (
                    f" Removed because they no longer apply: {removed}." if removed else ""))
                return redirect("checklist", public_id=patient.public_id)
        elif form.has_error(NON_FIELD_ERRORS, code="tampered"):
            form.rebase(assessment, {})
    return render(request, "eligibility/intake.html", {
        "patient": patient, "assessment": assessment, "form": form, "phase": phase, "sections": SECTIONS,
    }, status=200)


def _checklist_context(request, patient, evaluation, current: bool) -> dict:
    view = checklist_view_model(evaluation)
    context = {"patient": patient, "evaluation": evaluation, "view": view, "current": current,
               "sections": SECTIONS, "signoffs": evaluation.assessment.signoffs.select_related("evaluation")[:20]}
    standing = next((s for s in context["signoffs"] if not s.is_void and s.evaluation_id == evaluation.pk), None)
    context["standing_signoff"] = standing
    requests = list(evaluation.assessment.review_requests.select_related("ruleset")[:20])
    context["open_request"] = next((r for r in requests if r.is_open), None)
    context["past_requests"] = [r for r in requests if not r.is_open]
    if current and standing and context["open_request"] and request.user.has_perm("eligibility.add_signoff"):
        context["keep_form"] = ReviewKeepForm()
    context["signoff_valid"] = review.signoff_verify(standing) if standing else None
    if current and request.user.has_perm("eligibility.add_signoff") and standing is None:
        context["meaning"] = review.meaning_for(evaluation.stage)
        context["signoff_form"] = SignOffForm()
        for item in view["all_items"]:
            if item["status"] in review.NEEDS_DISPOSITION:
                decided = item.get("disposition")
                initial = {"kind": decided.kind, "reason_code": decided.reason_code,
                           "justification": decided.justification} if decided else None
                item["form"] = DispositionForm(prefix=item["code"], initial=initial)
    return context


@permission_required("eligibility.view_evaluation", raise_exception=True)
@require_safe
def checklist(request, public_id):
    """The current checklist of a patient."""
    patient = _patient(public_id)
    evaluation = patient.assessment.current_evaluation
    if evaluation is None:
        raise Http404("Not evaluated yet.")
    evaluation = Evaluation.objects.select_related("ruleset", "created_by", "assessment", "reevaluated_from").get(
        pk=evaluation.pk)
    return render(request, "eligibility/checklist.html", _checklist_context(request, patient, evaluation, True))


@permission_required("eligibility.view_evaluation", raise_exception=True)
@require_safe
def evaluation_detail(request, public_id):
    """Any past checklist, exactly as it was produced."""
    evaluation = get_object_or_404(
        Evaluation.objects.select_related("ruleset", "created_by", "assessment__patient", "reevaluated_from"),
        public_id=public_id)
    patient = evaluation.assessment.patient
    current = patient.assessment.current_evaluation_id == evaluation.pk
    return render(request, "eligibility/checklist.html", _checklist_context(request, patient, evaluation, current))


def _evaluation_for_review(public_id) -> Evaluation:
    return get_object_or_404(Evaluation.objects.select_related("ruleset", "assessment__patient"), public_id=public_id)


@permission_required("eligibility.add_disposition", raise_exception=True)
@require_http_methods(["POST"])
def disposition(request, public_id, code):
    """Record a physician's decision on one item of the current checklist."""
    evaluation = _evaluation_for_review(public_id)
    form = DispositionForm(request.POST, prefix=code)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{code}: {field if field != '__all__' else ''} {' '.join(errors)}".strip())
    else:
        try:
            review.disposition_record(evaluation=evaluation, code=code, by=request.user, **form.cleaned_data)
        except review.ReviewRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, "Decision recorded.")
    return redirect(f"{reverse('checklist', args=[evaluation.assessment.patient.public_id])}#item-{code}")


@permission_required("eligibility.add_signoff", raise_exception=True)
@require_http_methods(["POST"])
def sign_off(request, public_id):
    """Sign the current checklist after re-entering the password."""
    evaluation = _evaluation_for_review(public_id)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter your password to sign.")
    else:
        try:
            signoff = review.signoff_create(evaluation=evaluation, password=form.cleaned_data["password"],
                                            by=request.user)
        except review.ReviewRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, f"Signed: {signoff.meaning}.")
    return redirect("checklist", public_id=evaluation.assessment.patient.public_id)


@permission_required("eligibility.view_signoff", raise_exception=True)
@require_safe
def signoff_pdf(request, public_id):
    """The signed checklist as a PDF: exactly the evaluation and dispositions the signature binds."""
    signoff = get_object_or_404(SignOff.objects.select_related("evaluation__ruleset", "assessment__patient"),
                                public_id=public_id)
    evaluation = signoff.evaluation
    html = render_to_string("eligibility/signed_checklist_pdf.html", {
        "patient": signoff.assessment.patient, "evaluation": evaluation, "signoff": signoff,
        "view": checklist_view_model(evaluation), "valid": review.signoff_verify(signoff),
    }, request=request)
    pdf = render_pdf(html)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="signed-checklist-{signoff.signed_at:%Y%m%d-%H%M}.pdf"'
    return response


def _review_request(public_id) -> ReviewRequest:
    return get_object_or_404(ReviewRequest.objects.select_related("assessment__patient"), public_id=public_id)


@permission_required("eligibility.add_signoff", raise_exception=True)
@require_http_methods(["POST"])
def review_keep(request, public_id):
    """A physician keeps a signed checklist a new rule-set version would change, saying why."""
    review_request = _review_request(public_id)
    form = ReviewKeepForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Why the signed checklist stands: write the justification.")
    else:
        try:
            services.review_request_keep(request=review_request, justification=form.cleaned_data["justification"],
                                         by=request.user)
        except review.ReviewRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, "The signed checklist stands; your decision is recorded.")
    return redirect("checklist", public_id=review_request.assessment.patient.public_id)


@permission_required("eligibility.add_signoff", raise_exception=True)
@require_http_methods(["POST"])
def review_reevaluate(request, public_id):
    """A physician takes the new rule-set version: a new checklist, to review and sign."""
    review_request = _review_request(public_id)
    try:
        evaluation = services.review_request_reevaluate(request=review_request, by=request.user)
    except review.ReviewRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Re-evaluated under rule-set version {evaluation.ruleset.version}: review the "
                                  "changed items and sign again.")
    return redirect("checklist", public_id=review_request.assessment.patient.public_id)
