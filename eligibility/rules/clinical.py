"""Rules 27-29 of criteria-v2 section 6.2 (disabled in version 1): CNS involvement and active GvHD
at screening, the washout before leukapheresis."""

from __future__ import annotations

import datetime

from .base import Outcome, Rule, worst
from .case import Case
from .statuses import DEFER, FLAG, MISSING, PASS, PRE_APHERESIS, SCREENING
from .vocabulary import count

GRECO_TABLE_1 = "Greco et al., eClinicalMedicine 2024 (EBMT) - Table 1, EBMT/EHA recommendations column"
YAKOUB_AGHA_TABLE_1 = "Yakoub-Agha et al., Haematologica 2020 (EBMT/JACIE) - Table 1"
ASH_APHERESIS_TABLE = "ASH table on timing of apheresis (view-large/11896690) - minimum interval before collection"


class CnsInvolvement(Rule):
    """CNS involvement: not an exclusion in itself, but anticonvulsant prophylaxis is mandatory (rule 27)."""

    code = "cns_involvement"
    reads = ("cns_involvement", "anticonvulsant_prophylaxis")
    phase = SCREENING
    title = "CNS involvement"
    source = GRECO_TABLE_1

    def evaluate(self, case: Case) -> Outcome:
        involved, prophylaxis = case.cns_involvement, case.anticonvulsant_prophylaxis
        inputs = {"cns_involvement": involved, "anticonvulsant_prophylaxis": prophylaxis}
        if involved is None:
            return MISSING, "CNS involvement not recorded.", inputs
        if not involved:
            return PASS, "No CNS involvement.", inputs
        if prophylaxis:
            return FLAG, ("CNS involvement, with anticonvulsant prophylaxis planned: not an exclusion in itself; the "
                          "physician weighs risk against benefit."), inputs
        if prophylaxis is False:
            return DEFER, ("CNS involvement without anticonvulsant prophylaxis: plan anticonvulsant prophylaxis "
                           "(mandatory when the CNS is involved) before proceeding."), inputs
        return MISSING, ("CNS involvement: anticonvulsant prophylaxis not recorded (mandatory when the CNS is "
                         "involved)."), inputs


class ActiveGvhd(Rule):
    """Grade II-IV acute or extensive chronic GvHD after allogeneic HSCT (rule 28; conditional on
    ``prior_allo_hsct``). Defers rather than excludes: active GvHD is a temporary contraindication."""

    code = "active_gvhd"
    reads = ("prior_allo_hsct", "gvhd.acute_grade", "gvhd.chronic")
    phase = SCREENING
    title = "Active GvHD after allogeneic HSCT"
    source = YAKOUB_AGHA_TABLE_1

    def evaluate(self, case: Case) -> Outcome:
        prior = case.prior_allo_hsct
        if prior is False:
            return PASS, "Does not apply: no prior allogeneic HSCT.", {"prior_allo_hsct": False}
        acute, chronic = case.gvhd.acute_grade, case.gvhd.chronic
        inputs = {"prior_allo_hsct": prior, "gvhd.acute_grade": acute, "gvhd.chronic": chronic}
        if prior is None:
            return MISSING, "Prior allogeneic HSCT not recorded.", inputs
        defer_from = self.limits["gvhd_acute_defer_from_grade"]
        findings = []
        if acute is None:
            findings.append((MISSING, "Acute GvHD grade not recorded."))
        elif acute >= defer_from:
            findings.append((DEFER, f"Acute GvHD grade {acute} (grade {defer_from} or higher): hold CAR-T until it "
                                    "has resolved."))
        elif acute > 0:
            findings.append((FLAG, f"Acute GvHD grade {acute} (below grade {defer_from}): the physician judges "
                                   "whether to proceed."))
        else:
            findings.append((PASS, "No acute GvHD (grade 0)."))
        if chronic is None:
            findings.append((MISSING, "Chronic GvHD not recorded."))
        elif chronic == "extensive":
            findings.append((DEFER, "Extensive chronic GvHD: hold CAR-T until it has resolved."))
        elif chronic == "limited":
            findings.append((FLAG, "Limited chronic GvHD: the physician judges whether to proceed."))
        else:
            findings.append((PASS, "No chronic GvHD."))
        status, reason = worst(findings)
        return status, reason, inputs


def _duration(seconds: int) -> str:
    """A wall-clock interval in hours and minutes (and seconds where recorded): ``71 h 59 min``."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "") + (f" {seconds} s" if seconds else "")


def _written(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds" if moment.second else "minutes")


class Washout(Rule):
    """Minimum interval between the last dose of systemic corticosteroids or cytotoxic chemotherapy
    and leukapheresis (rule 29). The case holds no time of collection: corticosteroid hours are
    counted to 00:00 on the leukapheresis date (conservative), on the wall clock."""

    code = "washout"
    reads = ("washout.systemic_corticosteroids", "washout.cytotoxic_chemotherapy", "leukapheresis_date")
    phase = PRE_APHERESIS
    title = "Washout before leukapheresis"
    source = ASH_APHERESIS_TABLE

    def key_function(self):
        def key(case: Case):
            # ``last_dose_at`` is quoted as written: 08:00 and 08:00:00 are equal times, not equal inputs.
            steroids = case.washout.systemic_corticosteroids
            if steroids is None:
                written = None
            else:
                last = steroids.last_dose_at
                written = (steroids.status, last.text if last is not None else None)
            return written, case.washout.cytotoxic_chemotherapy, case.leukapheresis_date
        return key

    def evaluate(self, case: Case) -> Outcome:
        steroids, chemotherapy = case.washout.systemic_corticosteroids, case.washout.cytotoxic_chemotherapy
        collection = case.leukapheresis_date
        inputs = {
            "washout.systemic_corticosteroids": None if steroids is None else {
                "status": steroids.status,
                "last_dose_at": steroids.last_dose_at.text if steroids.last_dose_at is not None else None},
            "washout.cytotoxic_chemotherapy": None if chemotherapy is None else {
                "status": chemotherapy.status,
                "last_dose_on": chemotherapy.last_dose_on.isoformat() if chemotherapy.last_dose_on else None},
            "leukapheresis_date": collection.isoformat() if collection is not None else None,
        }
        status, reason = worst([self._corticosteroids(steroids, collection),
                                self._chemotherapy(chemotherapy, collection)])
        return status, reason, inputs

    def _corticosteroids(self, washout, collection: datetime.date | None) -> tuple[str, str]:
        hours = self.limits["washout_corticosteroids_hours"]
        name = "Systemic corticosteroids"
        if washout is None:
            return MISSING, f"{name} not recorded."
        if washout.status == "never":
            return PASS, f"{name}: never received."
        if washout.status == "ongoing":
            return DEFER, f"{name} ongoing: stop them and wait at least {hours} h before leukapheresis."
        last = washout.last_dose_at
        if last is None:
            return MISSING, f"{name} stopped: time of the last dose not recorded."
        if collection is None:
            return MISSING, f"{name} stopped (last dose {last.text}): leukapheresis_date not recorded."
        day_starts = datetime.datetime.combine(collection, datetime.time())
        seconds = int((day_starts - last).total_seconds())
        earliest = _written(datetime.datetime.combine(last.date(), last.time()) + datetime.timedelta(hours=hours))
        if seconds < 0:
            return DEFER, (f"{name}: last dose {last.text}, after the start of the leukapheresis day "
                           f"({collection.isoformat()}), less than the {hours} h required: wait until {earliest}.")
        interval = (f"{name}: last dose {last.text}, {_duration(seconds)} before the start of the leukapheresis day "
                    f"({collection.isoformat()})")
        if seconds >= hours * 3600:
            return PASS, f"{interval}, at least the {hours} h required."
        return DEFER, f"{interval}, less than the {hours} h required: wait until {earliest}."

    def _chemotherapy(self, washout, collection: datetime.date | None) -> tuple[str, str]:
        required = self.limits["washout_chemotherapy_days"]
        name = "Cytotoxic chemotherapy"
        if washout is None:
            return MISSING, f"{name} not recorded."
        if washout.status == "never":
            return PASS, f"{name}: never received."
        if washout.status == "ongoing":
            return DEFER, (f"{name} ongoing: stop it and wait at least {count(required, 'day')} before "
                           "leukapheresis.")
        last = washout.last_dose_on
        if last is None:
            return MISSING, f"{name} stopped: date of the last dose not recorded."
        if collection is None:
            return MISSING, f"{name} stopped (last dose on {last.isoformat()}): leukapheresis_date not recorded."
        days = (collection - last).days
        when = f"{count(days, 'day')} before" if days >= 0 else f"{count(-days, 'day')} after"
        interval = f"{name}: last dose on {last.isoformat()}, {when} leukapheresis on {collection.isoformat()}"
        if days >= required:
            return PASS, f"{interval}, at least the {count(required, 'day')} required."
        earliest = (last + datetime.timedelta(days=required)).isoformat()
        return DEFER, f"{interval}, fewer than the {count(required, 'day')} required: wait until {earliest}."


RULES = (CnsInvolvement, ActiveGvhd, Washout)
