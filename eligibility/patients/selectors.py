"""Patients, reads: a patient by its opaque identifier, for the pages."""

from __future__ import annotations

import uuid

from django.http import Http404

from ..common import compiled
from .models import Patient


def patient_key(public_id) -> uuid.UUID:
    """A patient's opaque identifier as a UUID (404 for anything that is not one)."""
    if isinstance(public_id, uuid.UUID):
        return public_id
    try:
        return uuid.UUID(str(public_id))
    except ValueError:
        raise Http404("No such patient.") from None


def patient_or_404(public_id, related: str = "assessment") -> Patient:
    """The patient with its current episode (``related``: what ``select_related`` reads with it;
    the query built once per connection and ``related``: every patient page asks for it)."""
    found = compiled.objects_for(("patient", related), lambda key: Patient.objects.select_related(related)
                                 .filter(public_id=key), patient_key(public_id))
    if not found:
        raise Http404("No such patient.")
    return found[0]


_PARTS_FOUND = "_page_parts_found"


def patient_for_page(public_id, related: str = "assessment") -> Patient:
    """:func:`patient_or_404` for the patient page: with it, whether each registered part of the page
    has rows (``signals.PAGE_PARTS``, ``EXISTS``), noted on its episode (one query, compiled)."""
    from django.db.models import Exists, OuterRef

    from .signals import PAGE_PARTS

    names = tuple(PAGE_PARTS)
    references = (OuterRef("assessment_id"), OuterRef("pk"), OuterRef("assessment__current_evaluation_id"))
    found = compiled.objects_for(("patient page", related, names), lambda key: Patient.objects.select_related(
        related).filter(public_id=key).annotate(**{f"part_{index}": Exists(PAGE_PARTS[name](*references))
                                                     for index, name in enumerate(names)}), patient_key(public_id))
    if not found:
        raise Http404("No such patient.")
    patient = found[0]
    setattr(patient.assessment, _PARTS_FOUND,
            frozenset(name for index, name in enumerate(names) if getattr(patient, f"part_{index}")))
    return patient


def page_part_may_have(assessment, name: str) -> bool:
    """False only if the patient page's first query found no row of part ``name`` for this episode
    (:func:`patient_for_page`); an episode read another way has every part read."""
    found = getattr(assessment, _PARTS_FOUND, None)
    return found is None or name in found


def active_patient(public_id) -> Patient:
    """A patient not withdrawn (a withdrawn patient's pages are read-only; 404 for writes)."""
    patient = patient_or_404(public_id)
    if patient.is_withdrawn:
        raise Http404("This patient has been withdrawn.")
    return patient
