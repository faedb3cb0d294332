"""Patients, reads: a patient by its opaque identifier, for the pages."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Patient


def patient_or_404(public_id) -> Patient:
    return get_object_or_404(Patient.objects.select_related("assessment"), public_id=public_id)


def active_patient(public_id) -> Patient:
    """A patient not withdrawn (a withdrawn patient's pages are read-only; 404 for writes)."""
    patient = patient_or_404(public_id)
    if patient.is_withdrawn:
        raise Http404("This patient has been withdrawn.")
    return patient
