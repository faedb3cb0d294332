"""Hand-offs in pages other packages own: ``{% load handoffs %}``.

- ``{% signature_warning patient as save_warning %}`` (intake form): the standing signature a save
  would void, in words, or an empty string;
- ``{% free_text_max %}``, ``{% free_text_help %}``: the free-text limit, as a number and in words
  (text areas written out in the hand-off templates).
"""

from __future__ import annotations

from django import template
from django.utils import timezone

from ...common.text import FREE_TEXT_MAX
from ..models import SignOff

register = template.Library()


@register.simple_tag
def signature_warning(patient) -> str:
    """Why saving a change now voids a signature (a save that changes nothing writes nothing)."""
    assessment = patient.assessment
    signed = SignOff.objects.standing().filter(evaluation_id=assessment.current_evaluation_id).first()
    if signed is None:
        return ""
    return (f"This checklist is signed by {signed.signer_name} on "
            f"{timezone.localtime(signed.signed_at):%Y-%m-%d %H:%M} ({signed.get_decision_display().lower()}): "
            "saving a change voids the signature and the checklist needs signing again (mark it ready for review "
            "when the data are complete).")


@register.simple_tag
def free_text_max() -> int:
    """The free-text limit, for the ``maxlength`` of text areas written out in templates."""
    return FREE_TEXT_MAX


@register.simple_tag
def free_text_help() -> str:
    """The free-text limit in words, as the forms' help says it."""
    return f"At most {FREE_TEXT_MAX:,} characters."
