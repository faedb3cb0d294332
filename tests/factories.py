"""factory_boy factories for the web tests.

``UserFactory(role="Coordinator")`` puts the user in the group of that name (the groups and their
permissions come from migration 0004). ``PatientFactory`` goes through ``services.patient_create``,
so the patient has its assessment and a first evaluation, exactly as a patient created on the page.
"""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from eligibility.models import Patient
from eligibility.patients import services

PASSWORD = "correct-horse-battery-staple"

#: Screening data in order except an active viral infection (defer) and HBV positive with
#: prophylaxis (flag): a checklist that needs a physician's decisions.
SCREENING_TO_REVIEW = {
    "age_years": 54, "weight_kg": 72, "diagnosis": "lbcl", "disease_status": "refractory", "prior_lines": 2,
    "product": "axicabtagene_ciloleucel", "ecog": 1, "life_expectancy_weeks": 26,
    "infections": {"bacterial": "none", "fungal": "none", "viral": "active", "hbv": "positive",
                   "hbv_prophylaxis": True, "hcv": "negative", "hiv": "negative"},
    "prior_allo_hsct": False, "prior_bispecific": False, "prior_car_t": False, "prior_inotuzumab": False,
    "target_antigen_status": "positive",
}

#: Two flags (HBV on prophylaxis, prior inotuzumab), one deferral (active viral infection) and two
#: missing items (ECOG and life expectancy not recorded): a checklist for the bulk decisions.
SCREENING_WITH_FLAGS_AND_GAPS = {
    **{key: value for key, value in SCREENING_TO_REVIEW.items() if key not in ("ecog", "life_expectancy_weeks")},
    "prior_inotuzumab": True,
}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """``role="Coordinator"`` (or Physician, Administrator): join that group; none by default."""
        if not create or not extracted:
            return
        self.groups.add(Group.objects.get(name=extracted))


class PatientFactory(factory.Factory):
    """A patient created by the service: assessment at screening, evaluated once."""

    class Meta:
        model = Patient

    study_id = factory.Sequence(lambda n: f"STUDY-{n:05d}")
    initials = "AB"
    by = factory.SubFactory(UserFactory, role="Coordinator")

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("Patients are created through services.patient_create; use create().")

    @classmethod
    def _create(cls, model_class, *args, by, **kwargs):
        return services.patient_create(by=by, **kwargs)
