"""Speed without a change of behaviour: the physicians' worklist (with the queue) makes the same
queries at 5 patients as at 50, the queue keeps its members and counts when it takes its first rows,
and the forms rendered once for every item of the checklist are the HTML each would have alone
(also when kept from an earlier request)."""

from __future__ import annotations

import gc
import re

import jinja2.runtime
import pytest
from crispy_forms.utils import render_crispy_form
from django.core.paginator import Page
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_script_prefix
from django.urls import reverse

from eligibility.common.rendering import CODE, per_item
from eligibility.models import Assessment
from eligibility.patients import services
from eligibility.review import services as review
from eligibility.review.forms import DispositionForm
from eligibility.review.handoffs import services as handoffs
from eligibility.review.handoffs.forms import NoteForm, QuestionForm
from eligibility.review.selectors import physician_queue, queue_page, worklist_count, worklist_patients
from tests.factories import SCREENING_TO_REVIEW, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")


@pytest.fixture
def physician():
    return UserFactory(role="Physician", first_name="Robin", last_name="Lee")


def _queued_patients(count: int, coordinator, physician, *, start: int = 0) -> None:
    """``count`` patients at screening with a deferred and a flagged item, marked ready for review;
    every other one with the flag acknowledged (a decided item the queue's count subtracts)."""
    for number in range(start, start + count):
        patient = PatientFactory(by=coordinator, study_id=f"SPEED-{number:03d}")
        assessment = Assessment.objects.get(patient=patient)
        evaluation = services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW,
                                                stage="screening", revision=assessment.revision, by=coordinator)
        handoffs.ready_mark(assessment=Assessment.objects.get(pk=assessment.pk), by=coordinator)
        if number % 2:
            review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_physician_worklist_makes_the_same_queries_at_5_and_50_patients(client, coordinator, physician):
    _queued_patients(5, coordinator, physician)
    client.force_login(physician)
    url = reverse("worklist")
    client.get(url)  # warm the per-process caches (content types, engine)
    with_5 = _queries(client, url)
    assert _queue_section(client.get(url)).count("SPEED-") == 5

    _queued_patients(45, coordinator, physician, start=5)
    assert _queue_section(client.get(url)).count("SPEED-") == 50
    assert _queries(client, url) == with_5


def _queue_section(response) -> str:
    page = response.content.decode()
    return page[page.index('id="queue"'):page.index('id="patients"')]


def test_queue_page_keeps_the_queue_order_and_counts(coordinator, physician):
    _queued_patients(6, coordinator, physician)
    everything = list(physician_queue())
    first = queue_page(size=4)

    assert [row.pk for row in first] == [row.pk for row in everything][:4]
    assert [row.created_at for row in everything] == sorted(row.created_at for row in everything)
    # SPEED-000 (even): the deferred and the flagged item undecided; SPEED-001: the flag acknowledged.
    assert [(row.assessment.patient.study_id, row.undecided) for row in first[:2]] == [("SPEED-000", 2),
                                                                                        ("SPEED-001", 1)]
    assert all(row.ready_marked_by == "Casey Jones" and not row.review_requested for row in first)
    # Fewer than the size: all of them, as the queue's own rows say.
    assert ([(row.pk, row.stage, row.overall, row.created_at, row.undecided, row.ready_marked_at,
              row.assessment.number, row.assessment.get_kind_display(), row.assessment.patient.public_id)
             for row in queue_page(size=10)]
            == [(row.pk, row.stage, row.overall, row.created_at, row.undecided, row.ready_marked_at,
                 row.assessment.number, row.assessment.get_kind_display(), row.assessment.patient.public_id)
                for row in everything])


def test_the_queue_reads_current_checklists_only_whatever_the_history(coordinator, physician):
    """The queue's keys are the episodes' current checklists: an episode's past checklists (older than
    every current one after a publish) are never read. Read from the evaluations by age, 10,000 past
    checklists came before the first current one."""
    _queued_patients(4, coordinator, physician)
    first = Assessment.objects.get(patient__study_id="SPEED-000")  # saved again: its checklist is the newest
    newest = services.assessment_update(assessment=first, changes={"weight_kg": 73}, stage="screening",
                                        revision=first.revision, by=coordinator)
    assert [row.assessment.patient.study_id for row in queue_page(size=10)] == [
        "SPEED-001", "SPEED-002", "SPEED-003", "SPEED-000"]
    assert queue_page(size=10)[-1].pk == newest.pk  # the current checklist, not its past one

    for by_parts in (True, False):
        with CaptureQueriesContext(connection) as queries:
            queue_page(size=50, by_parts=by_parts)
        (sql,) = [query["sql"] for query in queries.captured_queries]  # one query, as run (parameters in it)
        if by_parts:
            # Its keys: each part's first 50 current checklists, ordered by the one column it selects (the
            # current evaluation's key, "ORDER BY 1"): the open marks' part, the requests'.
            among = r"= ANY\(ARRAY\(SELECT" if connection.vendor == "postgresql" else r"IN \(SELECT"
            parts = re.findall(
                among + r' \S*"current_evaluation_id" AS "current_evaluation_id" FROM "eligibility_assessment"(.*?) '
                r'ORDER BY (?:1|\S*"current_evaluation_id") ASC LIMIT 50\)', sql, re.DOTALL)
            assert len(parts) == 2, sql
            assert "eligibility_readymark" in parts[0] and "eligibility_reviewrequest" in parts[1]
            continue
        keys = sql[sql.upper().index("IN (SELECT"):]  # the page's keys: the subquery up to its LIMIT
        assert re.match(r'IN \(SELECT \S*"current_evaluation_id" AS "current_evaluation_id" FROM '
                        r'"eligibility_assessment".* ORDER BY (1|\S*"current_evaluation_id") ASC LIMIT 50\)', keys,
                        re.DOTALL), keys
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert "USING INDEX sqlite_autoindex_eligibility_assessment" in plan, plan


def test_the_queue_page_is_the_first_of_both_its_parts_together(administrator, coordinator, physician):
    """Marked unsigned checklists and signed ones a new version asks about, their keys interleaved:
    a page of 4 is the first 4 of both parts by key (not 4 of one part), shown oldest first; a
    signed one whose request was answered is in neither part."""
    from tests.review.test_review_requests import lower_alc, signed_before_apheresis

    signed = [signed_before_apheresis(coordinator, physician, study_id="SIGNED-1")[0]]
    _queued_patients(2, coordinator, physician)  # SPEED-000, SPEED-001
    signed.append(signed_before_apheresis(coordinator, physician, study_id="SIGNED-2")[0])
    _queued_patients(1, coordinator, physician, start=2)  # SPEED-002
    kept = signed_before_apheresis(coordinator, physician, study_id="SIGNED-3")[0]
    lower_alc(administrator)  # asks about the three signed checklists (ALC 150 cells/uL)
    review.review_request_keep(request=kept.assessment.review_requests.get(), by=physician,
                               justification="Leukapheresis booked; ALC rechecked.")  # signed, nothing asked now
    everything = list(physician_queue())
    by_key = sorted(everything, key=lambda row: row.pk)
    assert sorted(row.assessment.patient.study_id for row in everything) == [
        "SIGNED-1", "SIGNED-2", "SPEED-000", "SPEED-001", "SPEED-002"]
    for size in (1, 2, 3, 4, 5, 6):
        page = queue_page(size=size)
        assert sorted(row.pk for row in page) == [row.pk for row in by_key][:size]
        assert [(row.created_at, row.pk) for row in page] == sorted((row.created_at, row.pk) for row in page)
        # Either database's way to the keys gives the same rows on this one (CI runs the suite on PostgreSQL).
        both = [[(row.pk, row.created_at, row.undecided, row.review_requested, row.ready_marked_at)
                 for row in queue_page(size=size, by_parts=by_parts)] for by_parts in (True, False)]
        assert both[0] == both[1] == [(row.pk, row.created_at, row.undecided, row.review_requested,
                                       row.ready_marked_at) for row in page]
    assert {row.assessment.patient.study_id: row.review_requested for row in queue_page(size=5)} == {
        "SIGNED-1": True, "SIGNED-2": True, "SPEED-000": False, "SPEED-001": False, "SPEED-002": False}


def _key_reads(size: int) -> int:
    """How many reads of the current checklists' keys the queue page's statement has (by parts: 2)."""
    with CaptureQueriesContext(connection) as queries:
        queue_page(size=size)
    return queries.captured_queries[-1]["sql"].count('"current_evaluation_id" AS "current_evaluation_id"')


def test_the_queue_is_read_by_parts_when_short_against_the_programme(coordinator, physician):
    """PostgreSQL's planner chooses from its statistics: by parts always. SQLite: by parts while the
    open marks and requests, squared, times 3, stay under the page's size times the listed patients;
    in order from there. A page of 2: 2 marked of 6 listed, 12 against 12 (in order); of 7, 12 against
    14 (by parts); 6 marked of 11, 108 against 22 (in order)."""
    postgresql = connection.vendor == "postgresql"
    for number in range(4):
        PatientFactory(by=coordinator, study_id=f"UNMARKED-{number}")
    _queued_patients(2, coordinator, physician)
    assert worklist_count() == 6
    assert _key_reads(2) == (2 if postgresql else 1)
    PatientFactory(by=coordinator, study_id="UNMARKED-4")
    assert _key_reads(2) == 2
    _queued_patients(4, coordinator, physician, start=2)
    assert worklist_count() == 11
    assert [row.assessment.patient.study_id for row in queue_page(size=2)] == ["SPEED-000", "SPEED-001"]
    assert _key_reads(2) == (2 if postgresql else 1)


@pytest.mark.parametrize("make_form", [
    lambda prefix: NoteForm(prefix=f"note-{prefix}", initial={"return_to": "checklist"}),
    lambda prefix: QuestionForm(prefix=f"ask-{prefix}", initial={"return_to": "checklist"}),
    lambda prefix: DispositionForm(prefix=prefix, status="flag"),
    lambda prefix: DispositionForm(prefix=prefix, status="defer"),
    lambda prefix: DispositionForm(prefix=prefix, status="missing"),
], ids=["note", "question", "decision on a flag", "decision on a deferral", "decision on a missing item"])
def test_a_form_rendered_once_is_each_items_own(make_form, request):
    rendered = per_item(make_form, key=("test", request.node.callspec.id))
    for code in ("hbv", "viral_infection"):
        own = render_crispy_form(make_form(code))
        assert rendered(code) == own
        assert f'-{code}-' in own or f'"{code}-' in own  # the fields carry the item's code
        assert CODE not in rendered(code)


def test_a_kept_form_is_rendered_again_after_a_setting_changes(settings):
    calls = []

    def make_form(code):
        calls.append(code)
        return NoteForm(prefix=f"note-{code}")

    first = per_item(make_form, key="kept")("hbv")
    per_item(make_form, key="kept")("ecog")
    assert calls == [CODE]  # once for the process
    assert per_item(make_form, key="kept")("hbv") is first  # each code's HTML kept too
    settings.PROGRAMME_TIME_ZONE = "Europe/Paris"
    again = per_item(make_form, key="kept")("hbv")
    assert calls == [CODE, CODE] and again == first and again is not first  # written again


def test_an_items_code_goes_into_its_form_escaped():
    rendered = per_item(lambda code: NoteForm(prefix=f"note-{code}"), key="escaped")
    html = rendered('a"b<c')
    assert 'a&quot;b&lt;c' in html and 'a"b<c' not in html
    assert rendered('a"b<c') is html and rendered("d") != html


@pytest.mark.parametrize("criteria", [{}, {"result": "deferred"}, {"result": "cleared"}, {"stage": "screening"},
                                      {"stage": "pre_infusion"}, {"search": "speed-00"}, {"search": "AB"},
                                      {"result": "deferred", "search": "SPEED-001"}])
def test_the_worklist_count_is_the_number_of_rows(coordinator, physician, criteria):
    _queued_patients(3, coordinator, physician)
    PatientFactory(by=coordinator, study_id="OTHER-1")  # not evaluated with data: another result
    withdrawn = PatientFactory(by=coordinator, study_id="SPEED-009")
    services.patient_withdraw(patient=withdrawn, by=coordinator, reason="Entered by mistake")

    assert worklist_count(**criteria) == len(list(worklist_patients(**criteria)))


def test_the_worklist_count_of_an_empty_programme_is_zero_then_counts_the_first_patient(coordinator):
    """The kept counts' sum: one row even of an empty table (0, not no answer); the same statement,
    built once, then counts the patient added."""
    assert (worklist_count(), worklist_count(stage="screening"), worklist_count(result="deferred")) == (0, 0, 0)
    PatientFactory(by=coordinator, study_id="SPEED-ONE")
    with CaptureQueriesContext(connection) as queries:
        assert worklist_count() == 1
    assert len(queries) == 1
    assert worklist_count(stage="screening") == 1 and worklist_count(stage="pre_infusion") == 0


@pytest.mark.parametrize("criteria", [{}, {"result": "deferred"}, {"stage": "screening"}, {"stage": "pre_infusion"}])
def test_a_worklist_page_brings_its_number_of_patients_in_its_one_statement(coordinator, physician, criteria):
    """The page's rows and the number the caption and the pages show, in one statement, the same
    number as counted apart; past the last page (no row) and below the first, the last page, as
    the paginator gives it."""
    from eligibility.review.selectors import worklist_page

    _queued_patients(3, coordinator, physician)
    counted = worklist_count(**criteria)
    with CaptureQueriesContext(connection) as queries:
        first = worklist_page(number="1", per_page=2, **criteria)
    assert len(queries) == 1
    assert first.paginator.count == counted and len(first.object_list) == min(counted, 2)
    for asked in ("9", "0", "-1"):
        page = worklist_page(number=asked, per_page=2, **criteria)
        assert page.number == max(first.paginator.num_pages, 1)
        assert page.paginator.count == counted
    if counted > 2:
        with CaptureQueriesContext(connection) as queries:
            second = worklist_page(number="2", per_page=2, **criteria)
        assert len(queries) == 1 and second.number == 2 and len(second.object_list) == counted - 2


@pytest.mark.parametrize("asked", ["99999999999999999999", "100001", "100000"])
def test_a_worklist_page_number_beyond_any_page_gives_the_last_page_not_an_error(coordinator, physician, asked):
    """An offset past the database's integers was an error; the last page, as the paginator gives it."""
    from eligibility.review.selectors import worklist_page

    _queued_patients(3, coordinator, physician)
    page = worklist_page(number=asked, per_page=2)
    assert page.number == 2 and len(page.object_list) == 1
    assert page.paginator.count == worklist_count()


def test_a_page_whose_kept_count_is_wrong_is_counted_again_not_an_error(coordinator, physician):
    """Rows past the number the kept counts give (counts gone wrong): the page is counted the usual
    way (the paginator's last page), not an empty-page error."""
    from eligibility.models import WorklistCount
    from eligibility.review.selectors import worklist_page

    _queued_patients(3, coordinator, physician)
    WorklistCount.objects.create(evaluated=0, result=0, stage=0, delta=-2)  # the counts say 1; the rows are 3
    assert worklist_count() == 1
    page = worklist_page(number="2", per_page=1)
    assert page.number == 1 and page.paginator.count == 1 and len(page.object_list) == 1


def test_the_first_worklist_page_of_an_empty_programme_says_none_in_one_statement():
    from eligibility.review.selectors import worklist_page

    with CaptureQueriesContext(connection) as queries:
        page = worklist_page(number=None, per_page=25)
    assert len(queries) == 1 and page.number == 1 and page.paginator.count == 0 and page.object_list == []


def test_the_worklist_reads_only_what_its_rows_show_and_nothing_row_by_row(client, coordinator, physician):
    """The page's query reads no column its rows never show (not a password hash, not the kept sort
    columns), and a row showing more (a closed episode, a stage marked ready) reads nothing more."""
    from eligibility.patients import episodes_services

    _queued_patients(2, coordinator, physician)
    client.force_login(physician)
    url = reverse("worklist")
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    [page_query] = [query["sql"] for query in queries if '"eligibility_patient"."study_id"' in query["sql"]
                    and '"eligibility_assessment"."stage"' in query["sql"]]
    assert '"password"' not in page_query and '"list_flag"' not in page_query and '"checklist"' not in page_query
    before = len(queries)

    closed = PatientFactory(by=coordinator, study_id="SPEED-CLOSED")
    episodes_services.episode_close(assessment=Assessment.objects.get(patient=closed), reason="stopped",
                                    note="Moved abroad", by=coordinator)
    page = client.get(url).content.decode()
    assert "SPEED-CLOSED" in page and "closed (" in page and "Ready for review: marked by" in page
    assert _queries(client, url) == before


def test_a_worklist_row_says_what_the_models_say(coordinator):
    """The rows are plain objects: the names and labels they give are the models' own."""
    from django.contrib.auth.models import User

    from eligibility.common.people import display_name
    from eligibility.review.selectors import WorklistEpisode, WorklistUser

    for first, last in (("Casey", "Jones"), ("", ""), ("Casey", ""), ("", "Jones")):
        user = User(username="cj", first_name=first, last_name=last)
        assert display_name(WorklistUser("cj", first, last)) == display_name(user)
    for reason in (*Assessment.CloseReason.values, ""):
        for kind in Assessment.Kind.values:
            episode = Assessment(close_reason=reason, kind=kind)
            row = WorklistEpisode(close_reason=reason, kind=kind)
            assert row.get_close_reason_display() == episode.get_close_reason_display()
            assert row.get_kind_display() == episode.get_kind_display()


def _alive(*types: type) -> int:
    return sum(1 for obj in gc.get_objects() if type(obj) in types)


@pytest.mark.parametrize("role", ["physician", "coordinator"])
def test_a_worklist_page_frees_its_context_with_its_response(client, coordinator, physician, role):
    # Not left in a reference cycle for the garbage collector (a Jinja2 template asked of the Django
    # engine first kept the page's context in a traceback's frames; a macro module imported with the
    # page's context held it in its closures): freed when the response is, as any object with no
    # cycle. The page of rows (a Paginator's Page, one a request) and the template's context tell.
    _queued_patients(3, coordinator, physician)
    client.force_login(physician if role == "physician" else coordinator)
    url = reverse("worklist")
    client.get(url)  # the per-process caches made
    gc.collect()
    gc.disable()
    try:
        response = client.get(url)
        assert response.status_code == 200
        assert _alive(Page) == 1
        # The test client's own additions (``response.json``, a partial of the response: a cycle; the
        # context it keeps for tests) let go, as a server's response has none of them.
        response.__dict__.clear()
        del response
        assert _alive(Page, jinja2.runtime.Context) == 0
    finally:
        gc.enable()


def _queue_count(client, url: str, study_id: str) -> str:
    row = _queue_section(client.get(url)).split(f">{study_id}</a>", 1)[1].split("</tr>", 1)[0]
    return re.search(r'data-label="Items needing a decision">(\d+)<', row).group(1)


def test_the_queue_rows_written_once_show_every_change_at_once(client, coordinator, physician):
    # A queue row is made and written once per database row (shared by the requests that read it);
    # a change to what it shows is another row, written again on the next page.
    _queued_patients(2, coordinator, physician)
    client.force_login(physician)
    url = reverse("worklist")
    first = queue_page(size=50)
    assert [row.pk for row in queue_page(size=50)] == [row.pk for row in first]
    assert all(a is b for a, b in zip(queue_page(size=50), first, strict=True))  # made once
    assert _queue_count(client, url, "SPEED-000") == "2"
    evaluation = Assessment.objects.get(patient__study_id="SPEED-000").current_evaluation
    review.disposition_record(evaluation=evaluation, code="hbv", kind="acknowledged", by=physician)
    assert _queue_count(client, url, "SPEED-000") == "1"
    assert _queue_count(client, url, "SPEED-001") == "1"  # unchanged
    with override_script_prefix("/programme/"):  # written again for another prefix
        assert 'href="/programme/patients/' in _queue_section(client.get(url))
    assert 'href="/patients/' in _queue_section(client.get(url))
