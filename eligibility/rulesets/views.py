"""Administrators' pages: rule-set versions, draft editing (values, products, name and change
note), differences, impact preview, a second administrator's approval, and publishing, removing a
product and discarding a draft, each through a confirmation page; the progress and outcome of the
re-evaluation that runs in the background after a publish (and resuming one that stopped)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from session_guard.views import passive

from ..common.display import generic_name, input_error_text, item_status_text
from ..common.vocabulary import OVERALL_LABELS
from ..rules import CATALOGUE, THRESHOLDS_BY_KEY, plain
from . import services as rulesets
from .forms import (
    ConfirmForm,
    DescriptionForm,
    GroupForm,
    IndicationsEditor,
    NewProductForm,
    PresetForm,
    ProductForm,
    RuleForm,
    ThresholdsForm,
)
from .models import Product, RuleSet, RuleSetPreview, RuleSetPreviewRow, RuleSetReevaluation
from .presenters import preview_state, product_rows, reevaluation_state, rule_rows, ruleset_edit_rows, threshold_rows
from .preview import preview_digest, preview_request
from .selectors import (
    preset_summaries,
    ruleset_differences,
    ruleset_editor_ids,
    ruleset_events,
    ruleset_file_bytes,
    ruleset_get,
)
from .tasks import preview_impact

ADMIN = "eligibility.change_ruleset"
#: Patients listed on a page of the preview (all are counted).
PREVIEW_PAGE = 50
TITLES = {entry.code: entry.title for entry in CATALOGUE}


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["GET", "POST"])
def ruleset_list(request):
    """Every version with its change note, who made and published it, and its differences."""
    if request.method == "POST":
        try:
            draft = rulesets.ruleset_draft_create(by=request.user)
        except rulesets.RuleSetRefused as refused:
            messages.error(request, str(refused))
            return redirect("ruleset_list")
        messages.success(request, f"Draft version {draft.version} created from the active version.")
        return redirect("ruleset_detail", version=draft.version)
    versions = list(RuleSet.objects.select_related("created_by", "published_by", "approved_by", "based_on"))
    rows = [{"ruleset": version,
             "differences": ruleset_differences(version.based_on, version) if version.based_on else []}
            for version in versions]
    active = ruleset_get()
    return render(request, "rulesets/ruleset_list.html", {"rows": rows, "active": active,
                                                          "presets": preset_summaries(active)})


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_from_preset(request):
    """Create a draft from a preset (criteria-v2 2.4), offered on the list page."""
    form = PresetForm(request.POST)
    if not form.is_valid():
        messages.error(request, "No draft was created: choose one of the presets listed below.")
        return redirect("ruleset_list")
    try:
        draft = rulesets.ruleset_draft_from_preset(code=form.cleaned_data["preset"], by=request.user)
    except rulesets.RuleSetRefused as refused:
        messages.error(request, f"No draft was created. {refused}")
        return redirect("ruleset_list")
    messages.success(request, f"Draft version {draft.version} created from the preset: enter the values marked "
                              "\"to be entered\", check it, preview its impact and publish it as any draft.")
    return redirect("ruleset_detail", version=draft.version)


@permission_required(ADMIN, raise_exception=True)
@require_safe
def ruleset_file_download(request, version):
    """The version as a rule-set file (criteria-v2 2.6): the bytes ``manage.py ruleset_export`` writes."""
    ruleset = get_object_or_404(RuleSet.objects.select_related("based_on"), version=version)
    response = HttpResponse(ruleset_file_bytes(ruleset), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ruleset-version-{ruleset.version}.json"'
    return response


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["GET", "POST"])
def ruleset_detail(request, version):
    ruleset = get_object_or_404(RuleSet, version=version)
    values = dict(ruleset.thresholds.values_list("key", "value"))
    form = (ThresholdsForm(request.POST or None, values=values, enabled_rules=ruleset.enabled_rules)
            if ruleset.is_editable else None)
    if request.method == "POST":
        if form is None:
            messages.error(request, f"Version {version} is {ruleset.get_status_display().lower()} and read-only.")
            return redirect("ruleset_detail", version=version)
        if form.is_valid() and not _changed_by_someone_else(form, values):
            # Only what this user changed: another administrator's edits to other values stay.
            changed = {key: form.cleaned_data[key] for key in form.changed_data}
            try:
                rulesets.ruleset_thresholds_update(draft=ruleset, values=changed, by=request.user)
            except rulesets.RuleSetRefused as refused:
                _refusal_to_form(form, refused)
            else:
                messages.success(request, "Draft saved." if changed else "Nothing was changed.")
                return redirect("ruleset_detail", version=version)
    return _detail(request, ruleset, values, form=form)


def _changed_by_someone_else(form: forms.Form, current: dict) -> bool:
    """Values this user changed that someone else changed too since the page was shown: refused,
    naming each one, so that nobody overwrites an edit they never saw. (Each field carries the value
    it was shown with: ``show_hidden_initial``.)"""
    conflict = False
    for name in form.changed_data:
        field = form.fields[name]
        widget = field.hidden_widget()
        if widget.value_omitted_from_data(form.data, form.files, form.add_initial_prefix(name)):
            continue  # a client that did not send what it was shown: its values are applied as sent
        try:
            shown = field.to_python(widget.value_from_datadict(form.data, form.files, form.add_initial_prefix(name)))
        except ValidationError:
            # The hidden copy of the value shown was altered (a browser sends it back as it got it).
            form.add_error(name, f"could not be checked against the saved value (now {_shown(current[name])}): "
                                 "reload the page and enter it again")
            conflict = True
            continue
        if _comparable(shown) != _comparable(current[name]):
            form.add_error(name, f"was changed by someone else since you opened this page (now "
                                 f"{_shown(current[name])}); check it and save again")
            conflict = True
    return conflict


def _comparable(value):
    if isinstance(value, str):
        # A browser sends every line break of a form as CRLF; a note stored with LF is the same note.
        return value.replace("\r\n", "\n")
    return sorted(value) if isinstance(value, list) else value


def _shown(value) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "none"
    if isinstance(value, Decimal):
        return plain(value)
    return "none" if value in (None, "") else str(value)


def _refusal_to_form(form: forms.Form, refused: rulesets.RuleSetRefused, *, top: bool = True) -> None:
    """The service's reasons beside the fields they concern (the rest at the top of the form)."""
    if top:
        form.add_error(None, str(refused))
    for key, problems in refused.errors.items():
        for problem in problems:
            form.add_error(key if key in form.fields else None, problem)


def _detail(request, ruleset: RuleSet, values=None, *, form=None, bound_product: ProductForm | None = None,
            bound_editor: IndicationsEditor | None = None, add_form: NewProductForm | None = None,
            add_editor: IndicationsEditor | None = None, description_form: DescriptionForm | None = None,
            status: int = 200):
    """The version's page; a form that was refused is shown bound, with its errors beside the fields."""
    ruleset = RuleSet.objects.get(pk=ruleset.pk)  # as it is now (an edit refused or made meanwhile)
    if values is None:
        values = dict(ruleset.thresholds.values_list("key", "value"))
    if form is None and ruleset.is_editable:
        form = ThresholdsForm(values=values, enabled_rules=ruleset.enabled_rules)
    active = ruleset_get()
    products = []
    for row in product_rows(ruleset.products.all()):
        product = row["product"]
        product_form = editor = None
        if ruleset.is_editable:
            mine = bound_product is not None and bound_product.prefix == product.code
            product_form = bound_product if mine else ProductForm(instance=product, prefix=product.code)
            editor = bound_editor if mine and bound_editor is not None else IndicationsEditor(
                product.code, product.indications)
        products.append({**row, "form": product_form, "editor": editor})
    return render(request, "rulesets/ruleset_detail.html", {
        "products": products,
        "add_form": (add_form or NewProductForm(prefix="new")) if ruleset.is_editable else None,
        "add_editor": (add_editor or IndicationsEditor("new", new=True)) if ruleset.is_editable else None,
        "rules": rule_rows(ruleset.enabled_rules, values),
        "to_be_entered": [THRESHOLDS_BY_KEY[key].label for key, value in values.items() if value is None],
        "ruleset": ruleset, "form": form,
        "description_form": ((description_form or DescriptionForm(ruleset=ruleset)) if ruleset.is_editable
                             else None),
        "approval_required": rulesets.ruleset_approval_required(),
        "may_approve": ruleset.is_editable and request.user.pk not in ruleset_editor_ids(ruleset),
        "approve_form": ConfirmForm(initial={"revision": ruleset.revision}),
        "thresholds": threshold_rows(values, ruleset.enabled_rules),
        "differences": ruleset_differences(active, ruleset) if ruleset != active else [],
        "active": active,
        "edits": ruleset_edit_rows(ruleset),
        "events": ruleset_events(ruleset),
        "reevaluation": _reevaluation_state(ruleset),
    }, status=status)


def _reevaluation_state(ruleset: RuleSet) -> dict | None:
    """The re-evaluation after this version's publish (none for a draft, or a version published
    before re-evaluations were recorded)."""
    reevaluation = RuleSetReevaluation.objects.filter(ruleset=ruleset).first()
    if reevaluation is None:
        return None
    return reevaluation_state(reevaluation, now=timezone.now(), stalled_after=settings.REEVALUATION_STALLED_AFTER)


@permission_required(ADMIN, raise_exception=True)
@require_safe
@passive
def ruleset_reevaluation(request, version):
    """The re-evaluation's progress as JSON, for the version's page to poll (done / total, status and
    outcome in words); no patient data. Polling is not the administrator's activity (the idle
    sign-out still comes)."""
    state = _reevaluation_state(get_object_or_404(RuleSet, version=version))
    if state is None:
        return JsonResponse({"error": f"Version {version} has no re-evaluation."}, status=404)
    return JsonResponse(state)


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_reevaluation_resume(request, version):
    """Queue again a re-evaluation that failed or stalled (the page offers it then)."""
    reevaluation = get_object_or_404(RuleSetReevaluation, ruleset__version=version)
    try:
        rulesets.ruleset_reevaluation_resume(reevaluation=reevaluation, by=request.user)
    except rulesets.RuleSetRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Resumed: a task worker goes on from the last batch done.")
    return redirect(f"{reverse('ruleset_detail', args=[version])}#reevaluation")


def _preview_refused(request, draft: RuleSet) -> bool:
    try:
        rulesets.ruleset_publishable_or_refused(draft=draft, what="previewed")
    except rulesets.RuleSetRefused as refused:
        messages.error(request, f"No preview. {refused}")
        return True
    return False


@permission_required(ADMIN, raise_exception=True)
@require_safe
def ruleset_preview(request, version):
    """The draft's impact preview: made by a task worker (:mod:`.tasks`), whose progress this page
    shows until it has finished, then its counts and the patients concerned a page at a time (a
    page is a range of the rows' positions: the same cost at any number of patients). A preview
    of an earlier revision, or against a version since replaced, is said to be out of date."""
    draft = get_object_or_404(RuleSet, version=version, status=RuleSet.Status.DRAFT)
    if _preview_refused(request, draft):
        return redirect("ruleset_detail", version=version)
    active = ruleset_get()
    preview = draft.previews.select_related("active", "requested_by").first()
    context = {"ruleset": draft, "preview": preview, "active": active}
    if preview is not None:
        context.update(_preview_context(request, preview, draft, active))
    return render(request, "rulesets/ruleset_preview.html", context)


def _preview_context(request, preview: RuleSetPreview, draft: RuleSet, active: RuleSet) -> dict:
    state = preview_state(preview, now=timezone.now(), stalled_after=settings.REEVALUATION_STALLED_AFTER)
    context = {"state": state, "current": preview.is_current(preview_digest(draft), active)}
    if not state["finished"]:
        return context
    changed, unevaluable = preview.changed, preview.unevaluable
    page, pages = _page_number(request, "page", changed)
    unevaluable_page, unevaluable_pages = _page_number(request, "unevaluable_page", unevaluable)
    rows = _preview_rows(preview, first=(page - 1) * PREVIEW_PAGE + 1, last=min(page * PREVIEW_PAGE, changed))
    unevaluable_rows = _preview_rows(preview, first=changed + (unevaluable_page - 1) * PREVIEW_PAGE + 1,
                                     last=changed + min(unevaluable_page * PREVIEW_PAGE, unevaluable))
    context.update({
        "summary": [(OVERALL_LABELS[before], OVERALL_LABELS[after], count)
                    for before, after, count in preview.transitions],
        "rows": [{"row": row, "before": OVERALL_LABELS[row.before], "after": OVERALL_LABELS[row.after],
                  "items": [(TITLES[code], item_status_text(old), item_status_text(new), old != new)
                            for code, old, new in row.detail]} for row in rows],
        "unevaluable": [{"row": row, "errors": [input_error_text(error) for error in row.detail]}
                        for row in unevaluable_rows],
        "page": _pager(request, "page", page, pages, changed),
        "unevaluable_page": _pager(request, "unevaluable_page", unevaluable_page, unevaluable_pages, unevaluable),
    })
    return context


def _page_number(request, name: str, count: int) -> tuple[int, int]:
    """The page asked for (the first when absent or not a number; the last when beyond it) and
    the number of pages of ``count`` rows."""
    pages = max(1, -(-count // PREVIEW_PAGE))
    try:
        page = int(request.GET.get(name, 1))
    except ValueError:
        page = 1
    return min(max(page, 1), pages), pages


def _pager(request, name: str, page: int, pages: int, count: int) -> dict:
    """Links to the previous and next page (the other list's page kept)."""
    def url(number):
        query = request.GET.copy()
        query[name] = number
        return f"?{query.urlencode()}"
    return {"number": page, "pages": pages, "first": (page - 1) * PREVIEW_PAGE + 1 if count else 0,
            "last": min(page * PREVIEW_PAGE, count), "count": count,
            "previous": url(page - 1) if page > 1 else None, "next": url(page + 1) if page < pages else None}


def _preview_rows(preview: RuleSetPreview, *, first: int, last: int) -> list[RuleSetPreviewRow]:
    """The rows at positions ``first`` to ``last`` (by the preview's index), with their patients."""
    if last < first:
        return []
    return list(RuleSetPreviewRow.objects.filter(preview=preview, position__range=(first, last))
                .select_related("patient").only("position", "rank", "before", "after", "detail", "signed", "asks",
                                                "patient__public_id", "patient__study_id", "patient__initials")
                .order_by("position"))


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_preview_start(request, version):
    """Ask for the draft's impact preview at its current revision: a task worker makes it (two
    administrators asking at once get the same one; one that stopped is resumed)."""
    draft = get_object_or_404(RuleSet, version=version, status=RuleSet.Status.DRAFT)
    if _preview_refused(request, draft):
        return redirect("ruleset_detail", version=version)
    with transaction.atomic():
        preview, enqueue = preview_request(draft=draft, by=request.user)
        if enqueue:
            transaction.on_commit(lambda: preview_impact.enqueue(preview_id=preview.pk))
    if enqueue:
        messages.success(request, "A task worker is comparing the open assessments: the progress is below.")
    else:
        messages.info(request, "The preview of this revision is already made or under way: see below.")
    return redirect("ruleset_preview", version=version)


@permission_required(ADMIN, raise_exception=True)
@require_safe
@passive
def ruleset_preview_progress(request, version):
    """The latest preview's progress as JSON, for its page to poll (no patient data)."""
    draft = get_object_or_404(RuleSet, version=version, status=RuleSet.Status.DRAFT)
    preview = draft.previews.first()
    if preview is None:
        return JsonResponse({"error": f"Draft version {version} has no impact preview."}, status=404)
    return JsonResponse(preview_state(preview, now=timezone.now(), stalled_after=settings.REEVALUATION_STALLED_AFTER))


def _confirmation(request, ruleset: RuleSet, action: str, *, product: Product | None = None, error: str = "",
                  status: int = 200):
    """The confirmation page of ``action`` (publish, remove, discard): what it will do, and a form
    carrying the draft's revision shown (a post without it, or after an edit, acts on nothing)."""
    context = {"ruleset": ruleset, "action": action, "product": product, "error": error,
               "form": ConfirmForm(initial={"revision": ruleset.revision})}
    if action == "publish":
        blockers = []
        if not ruleset.change_note.strip():
            blockers.append("It has no change note: write why, and the source, on the draft's page.")
        for problem in rulesets.ruleset_name_errors(draft=ruleset, name=ruleset.name):
            blockers.append(f"Its name {problem}.")
        if rulesets.ruleset_approval_required() and ruleset.approved_by_id is None:
            blockers.append("It needs the approval of a second administrator (neither its author nor anyone who "
                            "edited it).")
        try:
            rulesets.ruleset_publishable_or_refused(draft=ruleset, what="published")
        except rulesets.RuleSetRefused as refused:
            blockers.append(str(refused))
        active = ruleset_get()
        # The latest finished preview of the draft's values as they are against the active version
        # (made by a task worker from the preview page), never computed here.
        preview = None if blockers else RuleSetPreview.objects.filter(
            draft=ruleset, digest=preview_digest(ruleset), active=active, status=RuleSetPreview.Status.FINISHED).first()
        context.update({
            "blockers": blockers, "preview": preview, "active": active,
            "differences": ruleset_differences(active, ruleset),
            "summary": [(OVERALL_LABELS[before], OVERALL_LABELS[after], count)
                        for before, after, count in preview.transitions] if preview else [],
            "approval_required": rulesets.ruleset_approval_required(),
        })
    elif action == "discard":
        context["edits"] = len(ruleset_edit_rows(ruleset))
    return render(request, "rulesets/ruleset_confirm.html", context, status=status)


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["GET", "POST"])
def ruleset_publish(request, version):
    """GET: what publishing will do, and the confirmation; POST (from that page): publish."""
    draft = get_object_or_404(RuleSet, version=version)
    if not _editable_or_refused(request, draft):
        return redirect("ruleset_detail", version=version)
    if request.method == "GET":
        return _confirmation(request, draft, "publish")
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _confirmation(request, draft, "publish", status=400,
                             error="Not published: confirm on this page, after reading what publishing will do.")
    try:
        published = rulesets.ruleset_publish(draft=draft, revision=form.cleaned_data["revision"], by=request.user)
    except rulesets.RuleSetRefused as refused:
        return _confirmation(request, RuleSet.objects.get(pk=draft.pk), "publish", status=409,
                             error=f"Not published. {refused}")
    messages.success(request, f"Version {published.version} is active. Its open assessments are re-evaluated in the "
                              "background: the progress is below.")
    return redirect(f"{reverse('ruleset_detail', args=[published.version])}#reevaluation")


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_describe(request, version):
    """Save a draft's name and change note (only what this administrator changed)."""
    ruleset = get_object_or_404(RuleSet, version=version)
    if not _editable_or_refused(request, ruleset):
        return redirect("ruleset_detail", version=version)
    form = DescriptionForm(request.POST, ruleset=ruleset)
    current = {"name": ruleset.name, "change_note": ruleset.change_note}
    if form.is_valid() and not _changed_by_someone_else(form, current):
        changed = {field: form.cleaned_data[field] for field in form.changed_data}
        try:
            rulesets.ruleset_describe(draft=ruleset, by=request.user, **changed)
        except rulesets.RuleSetRefused as refused:
            _refusal_to_form(form, refused)
        else:
            messages.success(request, "Name and change note saved." if changed else "Nothing was changed.")
            return redirect("ruleset_detail", version=version)
    messages.error(request, "The name and change note were not saved: see the reasons beside the fields.")
    return _detail(request, ruleset, description_form=form, status=400)


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_approve(request, version):
    """A second administrator approves the draft as the page showed it (four eyes)."""
    ruleset = get_object_or_404(RuleSet, version=version)
    if not _editable_or_refused(request, ruleset):
        return redirect("ruleset_detail", version=version)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not approved: approve from the draft's page.")
        return redirect("ruleset_detail", version=version)
    try:
        rulesets.ruleset_approve(draft=ruleset, revision=form.cleaned_data["revision"], by=request.user)
    except rulesets.RuleSetRefused as refused:
        messages.error(request, f"Not approved. {refused}")
    else:
        messages.success(request, f"You approved draft version {version}; any edit from now on withdraws the "
                                  "approval.")
    return redirect("ruleset_detail", version=version)


def _editable_or_refused(request, ruleset: RuleSet) -> bool:
    if ruleset.is_editable:
        return True
    messages.error(request, f"Version {ruleset.version} is {ruleset.get_status_display().lower()} and read-only; "
                            "make a draft to change it.")
    return False


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_product(request, version, code):
    """Save one product of a draft's catalogue: its own fields and its indication entries (or, for
    "add an indication" and "add a pathway", show the forms again with one more, saving nothing)."""
    ruleset = get_object_or_404(RuleSet, version=version)
    product = get_object_or_404(Product, ruleset=ruleset, code=code)
    if not _editable_or_refused(request, ruleset):
        return redirect("ruleset_detail", version=version)
    form = ProductForm(request.POST, instance=Product.objects.get(pk=product.pk), prefix=code)
    editor = IndicationsEditor(code, data=request.POST)
    if editor.adding:
        return _detail(request, ruleset, bound_product=form, bound_editor=editor)
    current = {field: getattr(product, field) for field in ProductForm.Meta.fields}
    forms_valid = form.is_valid() & editor.is_valid()  # both validated: every problem at once
    if forms_valid and not _changed_by_someone_else(form, current):
        # Only what this user changed is applied over the product's own fields as they are now.
        values = {**current, **{field: form.cleaned_data[field] for field in form.changed_data},
                  "indications": editor.cleaned()}
        # The service validates again and saves a fresh copy of the product (the forms only convert).
        try:
            rulesets.ruleset_product_update(draft=ruleset, code=code, by=request.user,
                                            shown_indications=editor.shown_indications(), **values)
        except rulesets.RuleSetRefused as refused:
            form.add_error(None, str(refused))
            _refusal_to_form(form, _own(refused, exclude="indications"), top=False)
            editor.add_errors(refused.errors)
        else:
            messages.success(request, f"{values['name']} saved.")
            return redirect("ruleset_detail", version=version)
    messages.error(request, f"{product.name} was not saved: see the reasons beside its fields.")
    return _detail(request, ruleset, bound_product=form, bound_editor=editor, status=400)


def _own(refused: rulesets.RuleSetRefused, *, exclude: str) -> rulesets.RuleSetRefused:
    """The refusal's reasons about the product's own fields (those of its indications go beside theirs)."""
    return rulesets.RuleSetRefused(str(refused), {key: problems for key, problems in refused.errors.items()
                                                  if not key.startswith(exclude)})


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_product_add(request, version):
    """Add a product to a draft's catalogue, with its first indication entries."""
    ruleset = get_object_or_404(RuleSet, version=version)
    if not _editable_or_refused(request, ruleset):
        return redirect("ruleset_detail", version=version)
    form = NewProductForm(request.POST, prefix="new")
    editor = IndicationsEditor("new", data=request.POST)
    if editor.adding:
        return _detail(request, ruleset, add_form=form, add_editor=editor)
    if form.is_valid() & editor.is_valid():
        values = {field: form.cleaned_data[field] for field in ProductForm.Meta.fields}
        try:
            product = rulesets.ruleset_product_add(draft=ruleset, code=form.cleaned_data["code"], by=request.user,
                                                   indications=editor.cleaned(), **values)
        except rulesets.RuleSetRefused as refused:
            form.add_error(None, str(refused))
            _refusal_to_form(form, _own(refused, exclude="indications"), top=False)
            editor.add_errors(refused.errors)
        else:
            messages.success(request,
                             f"{product.name} ({generic_name(product.code)}) added to draft version {version}.")
            return redirect("ruleset_detail", version=version)
    messages.error(request, "The product was not added: see the reasons beside its fields.")
    return _detail(request, ruleset, add_form=form, add_editor=editor, status=400)


def _catalogue_edit(request, version, form_class, what: str, edit) -> HttpResponse:
    """A draft's catalogue switched one step (a rule enabled or disabled, an optional group added or
    removed): ``edit(draft, cleaned_data)`` calls the service and gives the success message."""
    ruleset = get_object_or_404(RuleSet, version=version)
    if not _editable_or_refused(request, ruleset):
        return redirect("ruleset_detail", version=version)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was changed: choose {what} on the draft's page.")
        return redirect("ruleset_detail", version=version)
    try:
        done = edit(ruleset, form.cleaned_data)
    except rulesets.RuleSetRefused as refused:
        messages.error(request, f"Not changed. {refused}")
    else:
        messages.success(request, done)
    return redirect(f"{reverse('ruleset_detail', args=[version])}#rules")


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_rule(request, version):
    """Enable or disable one rule of a draft."""
    def edit(draft, data):
        code, enabled = data["code"], data["enabled"]
        rulesets.ruleset_rule_enable(draft=draft, code=code, enabled=enabled, by=request.user)
        return (f"Rule '{TITLES[code]}' {'enabled' if enabled else 'disabled'}"
                + ("; its thresholds are below." if enabled else
                   "; its thresholds are kept, not read while it is disabled."))
    return _catalogue_edit(request, version, RuleForm, "a rule", edit)


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["POST"])
def ruleset_group(request, version):
    """Add or remove an optional group of a draft as a whole."""
    def edit(draft, data):
        group, held = data["group"], data["held"]
        rulesets.ruleset_group_hold(draft=draft, group=group, held=held, by=request.user)
        return f"Optional group '{group}' {'added' if held else 'removed'}."
    return _catalogue_edit(request, version, GroupForm, "an optional group", edit)


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["GET", "POST"])
def ruleset_product_remove(request, version, code):
    """GET: what removing a product of a draft's catalogue will do; POST (from that page): remove it."""
    ruleset = get_object_or_404(RuleSet, version=version)
    product = get_object_or_404(Product, ruleset=ruleset, code=code)
    if not _editable_or_refused(request, ruleset):
        return redirect("ruleset_detail", version=version)
    if request.method == "GET":
        return _confirmation(request, ruleset, "remove", product=product)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _confirmation(request, ruleset, "remove", product=product, status=400,
                             error=f"{product.name} was not removed: confirm on this page.")
    try:
        rulesets.ruleset_product_remove(draft=ruleset, code=code, revision=form.cleaned_data["revision"],
                                        by=request.user)
    except rulesets.RuleSetRefused as refused:
        return _confirmation(request, RuleSet.objects.get(pk=ruleset.pk), "remove", product=product, status=409,
                             error=f"{product.name} was not removed. {refused}")
    messages.success(request, f"{product.name} ({generic_name(code)}) removed from draft version {version}. "
                              "Preview the impact: open assessments naming it cannot be evaluated under this version.")
    return redirect("ruleset_detail", version=version)


@permission_required(ADMIN, raise_exception=True)
@require_http_methods(["GET", "POST"])
def ruleset_discard(request, version):
    """GET: what discarding a draft will do; POST (from that page): discard it (nothing it changed
    ever took effect)."""
    ruleset = get_object_or_404(RuleSet, version=version)
    if not _editable_or_refused(request, ruleset):
        return redirect("ruleset_detail", version=version)
    if request.method == "GET":
        return _confirmation(request, ruleset, "discard")
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _confirmation(request, ruleset, "discard", status=400,
                             error="Not discarded: confirm on this page.")
    try:
        rulesets.ruleset_draft_discard(draft=ruleset, revision=form.cleaned_data["revision"], by=request.user)
    except rulesets.RuleSetRefused as refused:
        return _confirmation(request, RuleSet.objects.get(pk=ruleset.pk), "discard", status=409,
                             error=f"Not discarded. {refused}")
    messages.success(request, f"Draft version {version} discarded.")
    return redirect("ruleset_list")
