"""Review pages: the worklist (home), the checklist with decisions and signature, its PDF, review
requests. Each view binds input, calls one service or selector and renders; permissions are
checked here, on the server, for every request (the role decides, not what the page shows)."""


from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Subquery
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_safe

from accounts.services import signing_password_check
from session_guard.restore import restored_entries, restores_entries

from ..common import compiled
from ..common.jinja import JINJA
from ..common.rendering import empty_form_html, per_item
from ..patients.fields import SECTIONS
from ..patients.models import UNSHOWN_EVALUATION_FIELDS, Evaluation
from ..patients.selectors import active_patient
from ..rules import checklist_items
from . import services as review
from . import worklist_html
from .forms import (
    BulkDecisionForm,
    DispositionForm,
    ReopenForm,
    ReviewKeepForm,
    SearchForm,
    SignOffForm,
    worklist_criteria,
    worklist_query,
)
from .found import may_have
from .handoffs.presenters import LOOK_UP, checklist_handoff_context
from .handoffs.selectors import open_questions
from .models import ReviewRequest, SignOff
from .pdf import render_pdf
from .presenters import checklist_view_model
from .selectors import patient_with_checklist, queue_page, worklist_page

PAGE_SIZE = 25
QUEUE_SIZE = 50


SEARCH_SESSION_KEY = "worklist_search"


@permission_required("eligibility.view_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
def worklist(request):
    """Home page: patients with their stage, result and open flags; filters, sort, search, pages.

    The search (a study identifier or initials) is posted and kept in the session, never put in the
    URL (URLs end up in browser histories and access logs); the filters and the sort are ordinary
    GET parameters, carried by the search form as hidden fields so that a search keeps them.
    """
    if request.method == "POST":
        search = SearchForm(request.POST)
        request.session[SEARCH_SESSION_KEY] = search.cleaned_data["search"] if search.is_valid() else ""
        query = worklist_query(worklist_criteria(request.POST))
        return redirect(f"{reverse('worklist')}?{query}" if query else reverse("worklist"))
    criteria = worklist_criteria(request.GET)
    search = request.session.get(SEARCH_SESSION_KEY, "")
    page = worklist_page(result=criteria["result"], stage=criteria["stage"], search=search, sort=criteria["sort"],
                         direction=criteria["dir"], number=request.GET.get("page"), per_page=PAGE_SIZE)
    queue = (queue_page(size=QUEUE_SIZE) if request.user.has_perm("eligibility.add_signoff")
             else None)
    return render(request, "review/worklist.jinja", using=JINJA, context={
        "page": page, "query": worklist_query(criteria), "columns": worklist_html.columns(criteria),
        "filters_html": worklist_html.filters_html(criteria),
        "search_form_html": worklist_html.search_form_html(request, criteria, search),
        "criteria": criteria, "search": search, "queue": queue,
        "today": timezone.localdate(),  # the rows' expiries and dates due (worklist_rows)
        # None: not shown; none if the page's statement found no question that is not closed.
        "open_questions": (None if not request.user.has_perm("eligibility.view_question")
                           else [] if page.questions_found is not None and not page.questions_found
                           else open_questions()),
    })


def _checklist_context(request, patient, evaluation, current: bool, *, item_forms=None, signoff_form=None,
                       reopen_form=None, bulk_forms=None, open_mark=LOOK_UP) -> dict:
    """What the checklist page shows: only the signatures, decisions and review requests that belong
    to this checklist; for a physician on the current one, a decision form per item that needs one
    (``item_forms`` holds a refused form, bound, to show again with its errors; ``bulk_forms`` the
    same for a decision on several items), and the meaning the signature will have. An empty decision
    form's HTML is ``form_html`` (rendered once per process); its ``form`` is built only if read.
    ``open_mark``: the episode's open ready mark if read with the patient (else looked up)."""
    view = checklist_view_model(evaluation)
    # Queries built once per connection (compiled): each checklist page asks them.
    # Each skipped if the page's first query found none of it (``found``).
    signoffs = compiled.objects_for("checklist signatures", lambda pk: SignOff.objects.filter(evaluation_id=pk),
                                    evaluation.pk) if may_have(evaluation, "signoffs") else []
    for signoff in signoffs:
        signoff.evaluation = evaluation  # as the related manager would have set it
    standing = next((s for s in signoffs if not s.is_void), None)
    requests = compiled.objects_for("checklist review requests", lambda pk: ReviewRequest.objects.filter(
        evaluation_id=pk).select_related("ruleset")[:20], evaluation.pk) if may_have(
        evaluation, "review_requests") else []
    episode = evaluation.assessment
    closed = episode.is_closed  # a closed episode's checklists are read-only: no decision, sign or review forms
    context = {"patient": patient, "evaluation": evaluation, "view": view, "current": current,
               "episode": episode, "episode_closed": closed,
               "sections": SECTIONS, "signoffs": signoffs, "standing_signoff": standing,
               "open_request": next((r for r in requests if r.is_open), None),
               "past_requests": [r for r in requests if not r.is_open]}
    # The signatures of the checklist this one replaced that its replacement voided (they belong to
    # the previous checklist, and are shown as such), with that checklist: one query.
    replaced = compiled.objects_for("replaced signatures", _replaced_signatures, evaluation.assessment_id,
                                    evaluation.pk) if may_have(evaluation, "replaced_signoffs") else []
    if replaced:
        context["previous"] = replaced[0].evaluation
        context["replaced_signoffs"] = replaced
    physician = request.user.has_perm("eligibility.add_signoff") and not closed
    if current and standing and context["open_request"] and physician:
        context["keep_form"] = ReviewKeepForm()
        context["keep_form_html"] = empty_form_html(ReviewKeepForm, key="review keep")
    if current and physician and standing and standing.decision == SignOff.Decision.NOT_ELIGIBLE:
        context["reopen_form"] = reopen_form or ReopenForm()
        if reopen_form is None:
            context["reopen_form_html"] = empty_form_html(ReopenForm, key="reopen")
    context["signoff_valid"] = review.signoff_verify(standing) if standing else None
    context.update(checklist_handoff_context(request.user, patient=patient, evaluation=evaluation, view=view,
                                             current=current, open_mark=open_mark))
    if current and physician and standing is None and not patient.is_withdrawn:
        dispositions = [row["disposition"] for row in view["all_items"] if row["disposition"]]
        context["signature"] = review.signature_meaning(evaluation, dispositions)
        context["signoff_form"] = signoff_form or SignOffForm()
        if signoff_form is None:
            context["signoff_form_html"] = empty_form_html(SignOffForm, key="sign off")
        item_forms = item_forms or {}
        empty_forms = {}  # by status: an empty decision form, rendered once for every item of that status
        for row in view["all_items"]:
            item, decided = row["item"], row["disposition"]
            if row["needs_decision"]:
                initial = ({"kind": decided.kind, "reason_code": decided.reason_code,
                            "justification": decided.justification} if row["decided"] else None)
                if initial is None and item.code not in item_forms:
                    # An empty form: the page shows its HTML; the form itself is built only if asked
                    # for (not by the page: fields' deep copies and a layout for each item, for nothing).
                    if item.status not in empty_forms:
                        empty_forms[item.status] = per_item(
                            lambda code, status=item.status: DispositionForm(prefix=code, status=status),
                            key=("decision", item.status))
                    row["form_html"] = empty_forms[item.status](item.code)
                    row["form"] = SimpleLazyObject(
                        lambda code=item.code, status=item.status: DispositionForm(prefix=code, status=status))
                else:  # a decision to change (initial values), or a refused one (bound, with its errors)
                    row["form"] = item_forms.get(item.code) or DispositionForm(prefix=item.code, initial=initial,
                                                                                status=item.status)
        bulk_forms = bulk_forms or {}
        context["bulk"] = [
            {"action": action, "count": count, "form": bulk_forms.get(action) or BulkDecisionForm(action=action),
             "form_html": None if action in bulk_forms else empty_form_html(
                 lambda action=action: BulkDecisionForm(action=action), key=("bulk", action))}
            for action, status in (("acknowledge-flags", "flag"), ("accept-missing", "missing"))
            if (count := sum(1 for row in view["undecided"] if row["status"] == status))]
    return context


def _replaced_signatures(episode: int, pk: int):
    """The signatures on the checklist before checklist ``pk`` of its episode voided when ``pk``
    was made or later (its replacement voided them), with that checklist (not its documents)."""
    previous = Evaluation.objects.filter(assessment_id=episode, pk__lt=pk).order_by("-pk").values("pk")[:1]
    made = Evaluation.objects.filter(pk=pk).values("created_at")[:1]
    return (SignOff.objects.filter(evaluation_id=Subquery(previous), voided_at__gte=Subquery(made))
            .select_related("evaluation").defer(*(f"evaluation__{name}" for name in UNSHOWN_EVALUATION_FIELDS)))


def _current_evaluation(patient) -> Evaluation:
    # By its key: the assessment's own reference would read the row (and its JSON) once more.
    if patient.assessment.current_evaluation_id is None:
        raise Http404("Not evaluated yet.")
    found = compiled.objects_for("current evaluation", lambda pk: Evaluation.objects.select_related(
        "ruleset", "created_by", "assessment", "reevaluated_from").filter(pk=pk),
        patient.assessment.current_evaluation_id)
    if not found:
        raise Http404("Not evaluated yet.")
    return found[0]


@permission_required("eligibility.view_evaluation", raise_exception=True)
@require_safe
def checklist(request, public_id):
    """The current checklist of a patient."""
    patient, evaluation, mark = patient_with_checklist(public_id)
    return render(request, "review/checklist.jinja", using=JINJA,
                  context=_checklist_context(request, patient, evaluation, True, open_mark=mark))


@permission_required("eligibility.view_evaluation", raise_exception=True)
@require_safe
def evaluation_detail(request, public_id):
    """Any past checklist, exactly as it was produced, with what belongs to it only."""
    evaluation = get_object_or_404(
        Evaluation.objects.select_related("ruleset", "created_by", "assessment__patient", "reevaluated_from"),
        public_id=public_id)
    patient = evaluation.assessment.patient
    current = patient.assessment.current_evaluation_id == evaluation.pk
    return render(request, "review/checklist.jinja", using=JINJA,
                  context=_checklist_context(request, patient, evaluation, current))


def _evaluation_for_review(public_id) -> Evaluation:
    return get_object_or_404(Evaluation.objects.select_related("ruleset", "assessment__patient"), public_id=public_id)


def _refused_page(request, evaluation, status=400, **forms_to_show):
    """The checklist again, with the refused form bound (what was typed kept) and its errors beside
    the fields (400: nothing was recorded; 200 for entries given back after signing in again)."""
    patient = evaluation.assessment.patient
    current = patient.assessment.current_evaluation_id == evaluation.pk
    context = _checklist_context(request, patient, evaluation, current, **forms_to_show)
    return render(request, "review/checklist.jinja", using=JINJA, context=context, status=status)


@permission_required("eligibility.add_disposition", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def disposition(request, public_id, code):
    """Record a physician's decision on one item of the current checklist: the page's script gets
    the changed parts of the page as JSON (:func:`_fragments`), a plain form post the page again.

    GET only gives back a decision posted after the session ended (on the checklist, unsaved), or
    goes to the item on the checklist.
    """
    evaluation = _evaluation_for_review(public_id)
    item = next((item for item in checklist_items(evaluation.checklist) if item.code == code), None)
    if item is None or item.status not in review.NEEDS_DISPOSITION:
        raise Http404("No such item needs a decision.")
    if request.method == "GET":
        entries = restored_entries(request)
        if entries is None:
            return redirect(f"{reverse('checklist', args=[evaluation.assessment.patient.public_id])}#item-{code}")
        return _refused_page(request, evaluation, status=200,
                             item_forms={code: DispositionForm(entries, prefix=code, status=item.status)})
    form = DispositionForm(request.POST, prefix=code, status=item.status)
    if form.is_valid():
        try:
            review.disposition_record(evaluation=evaluation, code=code, by=request.user, **form.cleaned_data)
        except review.ReviewRefused as refused:
            if refused.field not in form.fields:
                return _decision_refused(request, evaluation, f"{item.title}: not recorded. {refused}")
            form.add_error(refused.field, str(refused))
        else:
            message = f"Decision recorded: {item.title}."
            if _wants_fragments(request):
                return _fragments(request, evaluation, [code], message)
            messages.success(request, message)
            return redirect(f"{reverse('checklist', args=[evaluation.assessment.patient.public_id])}#item-{code}")
    if _wants_fragments(request):
        return _fragments(request, evaluation, [code], f"{item.title}: not recorded; see the message beside the "
                          "decision.", status=400, item_forms={code: form})
    messages.error(request, format_html('{}: not recorded; see <a href="#item-{}">the message beside the decision</a>.',
                                        item.title, code))
    first = next((name for name in form.fields if name in form.errors), None)
    if first is not None:
        form.fields[first].widget.attrs["autofocus"] = True
    return _refused_page(request, evaluation, item_forms={code: form})


@permission_required("eligibility.add_disposition", raise_exception=True)
@require_http_methods(["GET", "POST"])
def dispositions_bulk(request, public_id, action):
    """One decision with one note on every undecided item of a kind: acknowledge all flags, accept
    all missing items (GET goes to the items on the checklist)."""
    if action not in review.BULK_DECISIONS:
        raise Http404("No such decision.")
    evaluation = _evaluation_for_review(public_id)
    back = f"{reverse('checklist', args=[evaluation.assessment.patient.public_id])}#needs-decision"
    if request.method == "GET":
        return redirect(back)
    form = BulkDecisionForm(request.POST, action=action)
    if form.is_valid():
        try:
            recorded = review.dispositions_record_bulk(evaluation=evaluation, action=action,
                                                       note=form.cleaned_data["note"], by=request.user)
        except review.ReviewRefused as refused:
            if refused.field != "note":
                return _decision_refused(request, evaluation, f"Not recorded. {refused}")
            form.add_error("note", str(refused))
        else:
            message = _bulk_message(evaluation, action, [d.code for d in recorded])
            if _wants_fragments(request):
                return _fragments(request, evaluation, [d.code for d in recorded], message)
            messages.success(request, message)
            return redirect(back)
    message = "Not recorded; see the message beside the note."
    if _wants_fragments(request):
        return _fragments(request, evaluation, [], message, status=400, bulk_forms={action: form})
    messages.error(request, message)
    return _refused_page(request, evaluation, bulk_forms={action: form})


def _bulk_message(evaluation, action, codes) -> str:
    if not codes:
        return "Nothing recorded: every such item has a decision already."
    titles = "; ".join(item.title for item in checklist_items(evaluation.checklist) if item.code in codes)
    if action == "acknowledge-flags":
        return f"Acknowledged {len(codes)} flag{pluralize(len(codes))}: {titles}."
    return f"Accepted {len(codes)} missing item{pluralize(len(codes))}: {titles}."


def _wants_fragments(request) -> bool:
    """The checklist's script (static/js/review.js) asks for the changed parts of the page as JSON;
    a form posted without it gets a whole page."""
    return "application/json" in request.headers.get("Accept", "")


def _fragments(request, evaluation, codes, message, status=200, **forms_to_show) -> JsonResponse:
    """The re-rendered items ``codes``, the bulk decisions and the sign-off block, for the script
    to swap into the page in place."""
    patient = evaluation.assessment.patient
    current = evaluation.assessment.current_evaluation_id == evaluation.pk
    context = _checklist_context(request, patient, evaluation, current, **forms_to_show)
    rows = {row["code"]: row for row in context["view"]["all_items"]}
    return JsonResponse({
        "ok": status == 200, "message": message, "undecided": len(context["view"]["undecided"]),
        "items": {code: render_to_string("review/_checklist_item.jinja", using=JINJA,
                                         context={**context, "item": rows[code]}, request=request) for code in codes},
        "bulk": render_to_string("review/_bulk_decisions.jinja", using=JINJA, context=context, request=request),
        "sign": render_to_string("review/_sign_block.jinja", using=JINJA, context=context, request=request),
    }, status=status)


def _decision_refused(request, evaluation, message):
    """A decision refused whole (the checklist was replaced, signed or withdrawn meanwhile): said at
    the top of the page with a way to the current checklist, never a server error."""
    checklist_url = reverse("checklist", args=[evaluation.assessment.patient.public_id])
    if _wants_fragments(request):
        return JsonResponse({"ok": False, "stale": True, "message": message, "reload": checklist_url}, status=409)
    messages.error(request, format_html('{} <a href="{}">See the current checklist.</a>', message, checklist_url))
    return redirect(checklist_url)


@permission_required("eligibility.add_signoff", raise_exception=True)
@require_http_methods(["POST"])
def sign_off(request, public_id):
    """Sign the current checklist after re-entering the password."""
    evaluation = _evaluation_for_review(public_id)
    form = SignOffForm(request.POST)
    if form.is_valid():
        if not signing_password_check(request=request, user=request.user, password=form.cleaned_data["password"]):
            if not request.user.is_authenticated:  # that wrong password locked the account: signed out
                return redirect("login")
            form.add_error("password", "The password is not correct; nothing was signed.")
            return _sign_refused(request, evaluation, form)
        try:
            signoff = review.signoff_create(evaluation=evaluation, password=form.cleaned_data["password"],
                                            by=request.user)
        except review.ReviewRefused as refused:
            form.add_error("password" if refused.field == "password" else None, str(refused))
        else:
            messages.success(request, f"Signed: {signoff.meaning.rstrip('.')}.")
            return redirect("checklist", public_id=evaluation.assessment.patient.public_id)
    return _sign_refused(request, evaluation, form)


def _sign_refused(request, evaluation, form):
    """Not signed: said at the top of the page (the sign-off block is at its end) and beside the
    field, which takes the focus."""
    problems = [str(error) for errors in form.errors.values() for error in errors]
    reasons = " ".join(problems or ["Enter your password to sign."])
    messages.error(request, f"Not signed. {reasons}")
    form.fields["password"].widget.attrs["autofocus"] = True
    return _refused_page(request, evaluation, signoff_form=form)


@permission_required("eligibility.add_signoff", raise_exception=True)
@require_http_methods(["GET", "POST"])
@restores_entries
def workup_reopen(request, public_id):
    """A physician reopens a work-up closed as not eligible, saying why (GET: the justification
    posted after the session ended, given back unsaved, or the checklist)."""
    patient = active_patient(public_id)
    if request.method == "GET":
        entries = restored_entries(request)
        if entries is None:
            return redirect("checklist", public_id=patient.public_id)
        return _refused_page(request, _current_evaluation(patient), status=200, reopen_form=ReopenForm(entries))
    form = ReopenForm(request.POST)
    if form.is_valid():
        try:
            review.workup_reopen(assessment=patient.assessment, justification=form.cleaned_data["justification"],
                                 by=request.user)
        except review.ReviewRefused as refused:
            form.add_error("justification" if refused.field == "justification" else None, str(refused))
        else:
            messages.success(request, "The work-up is reopened and the signature voided: change your decisions, or "
                                      "let the coordinator update the data, then sign again.")
            return redirect("checklist", public_id=patient.public_id)
    return _refused_page(request, _current_evaluation(patient), reopen_form=form)


@permission_required("eligibility.view_signoff", raise_exception=True)
@require_safe
def signoff_pdf(request, public_id):
    """The signed checklist as a PDF: exactly the evaluation and dispositions the signature binds. A
    voided signature's copy has its own title, says VOID on every page and has its own file name."""
    signoff = get_object_or_404(SignOff.objects.select_related("evaluation__ruleset", "assessment__patient"),
                                public_id=public_id)
    evaluation, patient = signoff.evaluation, signoff.assessment.patient
    view = checklist_view_model(evaluation)
    html = render_to_string("review/signed_checklist_pdf.html", {
        "patient": patient, "evaluation": evaluation, "signoff": signoff, "view": view,
        "title": ("Voided CAR-T readiness checklist: this signature no longer stands" if signoff.is_void
                  else "CAR-T readiness checklist: signed"),
        "time_zone": settings.TIME_ZONE,
        "valid": review.signoff_verify(signoff),
        "overridden": [item["title"] for item in view["all_items"]
                       if item.get("disposition") and item["disposition"].kind == "overridden"],
    }, request=request)
    pdf = render_pdf(html)
    response = HttpResponse(pdf, content_type="application/pdf")
    # The file names the patient (the URL never does) and the signing time in the programme's zone.
    response["Content-Disposition"] = f'attachment; filename="{signoff_pdf_filename(signoff, patient)}"'
    return response


def signoff_pdf_filename(signoff, patient) -> str:
    """``signed-checklist-CART-002-2026-12-02-1042.pdf``, ``voided-checklist-...`` for a voided
    signature's copy: the study identifier (characters a file name cannot hold replaced by ``-``)
    and the signing time in the programme's time zone."""
    study_id = re.sub(r"[^A-Za-z0-9._-]+", "-", patient.study_id).strip("-.") or "patient"
    kind = "voided" if signoff.is_void else "signed"
    return f"{kind}-checklist-{study_id}-{timezone.localtime(signoff.signed_at):%Y-%m-%d-%H%M}.pdf"


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
            review.review_request_keep(request=review_request, justification=form.cleaned_data["justification"],
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
        evaluation = review.review_request_reevaluate(request=review_request, by=request.user)
    except review.ReviewRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Re-evaluated under rule-set version {evaluation.ruleset.version}: review the "
                                  "changed items and sign again.")
    return redirect("checklist", public_id=review_request.assessment.patient.public_id)
