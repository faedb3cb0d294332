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


def active_patient(public_id) -> Patient:
    """A patient not withdrawn (a withdrawn patient's pages are read-only; 404 for writes)."""
    patient = patient_or_404(public_id)
    if patient.is_withdrawn:
        raise Http404("This patient has been withdrawn.")
    return patient
