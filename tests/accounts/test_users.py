"""Administrators manage users in the application: only they can, nobody changes their own role,
one-time passwords are shown once and changed at first sign-in, every change is recorded, two
administrators cannot silently overwrite each other and the last active administrator stays."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, connections, transaction
from django.urls import reverse

from accounts import services
from accounts.models import Account, AuditExport, UserChange
from accounts.selectors import user_roles, user_stamp
from eligibility.models import Patient
from tests.factories import PASSWORD, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def _one_time_password(response) -> str:
    match = re.search(r"<code>([^<]+)</code>", response.content.decode())
    assert match, "no one-time password on the page"
    return match.group(1)


def _state():
    return (sorted(User.objects.values_list("username", "is_active", "password")),
            sorted((user.username, tuple(user_roles(user))) for user in User.objects.all()),
            UserChange.objects.count(), AuditExport.objects.count())


@pytest.mark.parametrize("role", ["Coordinator", "Physician", None])
def test_only_administrators_reach_the_pages_also_by_crafted_posts(client, role, physician):
    client.force_login(UserFactory(role=role))
    stamp = user_stamp(physician)
    before = _state()
    pk = physician.pk
    requests = [
        ("get", reverse("user_list"), {}),
        ("get", reverse("user_create"), {}),
        ("post", reverse("user_create"), {"username": "mallory", "full_name": "Mal Lory", "role": "Administrator"}),
        ("get", reverse("user_detail", args=[pk]), {}),
        ("post", reverse("user_role", args=[pk]), {"role": "Administrator", "stamp": stamp}),
        ("post", reverse("user_deactivate", args=[pk]), {"stamp": stamp}),
        ("post", reverse("user_reactivate", args=[pk]), {"stamp": stamp}),
        ("post", reverse("user_password_reset", args=[pk]), {"stamp": stamp}),
        ("get", reverse("audit_export"), {}),
        ("post", reverse("audit_export"), {"date_from": "2026-01-01", "date_to": "2026-12-31", "format": "csv"}),
    ]
    for method, url, data in requests:
        assert getattr(client, method)(url, data).status_code == 403, (method, url)
    assert _state() == before


def test_anonymous_is_sent_to_sign_in(client, physician):
    response = client.get(reverse("user_detail", args=[physician.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_navigation_links_for_administrators_only(client, administrator, coordinator):
    client.force_login(administrator)
    page = client.get(reverse("worklist")).content.decode()
    assert f'href="{reverse("user_list")}"' in page and f'href="{reverse("audit_export")}"' in page
    client.force_login(coordinator)
    page = client.get(reverse("worklist")).content.decode()
    assert f'href="{reverse("user_list")}"' not in page and f'href="{reverse("audit_export")}"' not in page


def test_list_shows_name_user_name_role_status_and_last_sign_in(client, administrator, physician):
    User.objects.filter(pk=physician.pk).update(is_active=False)
    client.force_login(administrator)
    page = client.get(reverse("user_list")).content.decode()
    assert "Robin Lee" in page and "dr.lee" in page and "Physician" in page and "Deactivated" in page
    assert "never" in page  # dr.lee never signed in


def test_added_user_gets_a_one_time_password_shown_once_and_must_change_it(client, administrator, caplog):
    client.force_login(administrator)
    with caplog.at_level(logging.DEBUG):
        response = client.post(reverse("user_create"),
                               {"username": "new.nurse", "full_name": "Noor Nurse", "role": "Coordinator"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    password = _one_time_password(response)
    assert len(password) >= 12
    user = User.objects.get(username="new.nurse")
    assert (user.first_name, user.last_name, user_roles(user), user.is_staff) == ("Noor", "Nurse", ["Coordinator"],
                                                                                  False)
    assert user.check_password(password) and password not in user.password
    assert Account.objects.get(user=user).must_change_password
    change = UserChange.objects.get(user=user)
    assert (change.action, change.by, change.by_name) == ("created", administrator, "Ada Admin (ada)")
    assert change.new_value == "user name new.nurse; name Noor Nurse; role Coordinator"
    assert password not in caplog.text
    # Shown once: no other page has it.
    assert password not in client.get(reverse("user_detail", args=[user.pk])).content.decode()
    assert password not in client.get(reverse("user_list")).content.decode()

    # First sign-in: every page sends to the password change page until it is changed.
    client.logout()
    assert client.login(username="new.nurse", password=password)
    for url in (reverse("worklist"), reverse("patient_create")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("password_change")
    assert client.post(reverse("patient_create"), {"study_id": "X-1", "initials": "XY"})["Location"] == reverse(
        "password_change")
    assert not Patient.objects.exists()
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(reverse("password_change"), {"old_password": password, "new_password1": PASSWORD + "!",
                                                        "new_password2": PASSWORD + "!"})
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    assert not Account.objects.get(user=user).must_change_password
    assert client.get(reverse("worklist")).status_code == 200


def test_add_form_errors_beside_fields_and_nothing_typed_lost(client, administrator, physician):
    client.force_login(administrator)
    response = client.post(reverse("user_create"), {"username": "DR.LEE", "full_name": "Another Lee", "role": ""})
    page = response.content.decode()
    assert response.status_code == 200
    assert "This user name is taken" in page and "This field is required" in page
    assert 'value="DR.LEE"' in page and 'value="Another Lee"' in page
    response = client.post(reverse("user_create"), {"username": "bad name!", "full_name": "X Y", "role": "Physician"})
    assert "Enter a valid username" in response.content.decode()
    assert re.search(r'value="Physician"[^>]*checked', response.content.decode())
    assert User.objects.count() == 2 and not UserChange.objects.exists()


def test_role_change_recorded_and_staff_follows(client, administrator, physician):
    client.force_login(administrator)
    response = client.post(reverse("user_role", args=[physician.pk]),
                           {"role": "Administrator", "stamp": user_stamp(physician)})
    assert response.status_code == 302
    physician.refresh_from_db()
    assert user_roles(physician) == ["Administrator"] and physician.is_staff
    change = UserChange.objects.get(user=physician)
    assert (change.action, change.old_value, change.new_value, change.by) == ("role_changed", "Physician",
                                                                              "Administrator", administrator)
    client.post(reverse("user_role", args=[physician.pk]), {"role": "Coordinator", "stamp": user_stamp(physician)})
    physician.refresh_from_db()
    assert user_roles(physician) == ["Coordinator"] and not physician.is_staff
    assert physician.has_perm("eligibility.add_patient") and not physician.has_perm("accounts.manage_users")


def test_nobody_changes_their_own_role_or_deactivates_themselves_even_by_crafted_post(client, administrator):
    other = UserFactory(role="Administrator")  # so that "last administrator" is not the reason
    client.force_login(administrator)
    page = client.get(reverse("user_detail", args=[administrator.pk])).content.decode()
    assert "This is you" in page and reverse("user_role", args=[administrator.pk]) not in page
    before = _state()
    stamp = user_stamp(administrator)
    response = client.post(reverse("user_role", args=[administrator.pk]), {"role": "Coordinator", "stamp": stamp})
    assert "nobody can change their own role" in response.content.decode()
    response = client.post(reverse("user_deactivate", args=[administrator.pk]), {"stamp": stamp}, follow=True)
    assert "nobody can deactivate themselves" in response.content.decode()
    response = client.post(reverse("user_password_reset", args=[administrator.pk]), {"stamp": stamp}, follow=True)
    assert "change your own password" in response.content.decode()
    assert _state() == before
    with pytest.raises(services.UserChangeRefused):
        services.user_role_change(user=administrator, role="Physician", stamp=None, by=administrator)
    assert user_roles(User.objects.get(pk=other.pk)) == ["Administrator"]


def test_stale_page_is_refused_with_who_and_the_choice_kept(client, administrator, physician):
    other = UserFactory(username="bo", first_name="Bo", last_name="Other", role="Administrator")
    stamp = user_stamp(physician)  # the page as the first administrator opened it
    services.user_role_change(user=physician, role="Coordinator", stamp=stamp, by=other)
    client.force_login(administrator)
    response = client.post(reverse("user_role", args=[physician.pk]), {"role": "Administrator", "stamp": stamp})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Not saved: Bo Other (bo) changed this user (role changed)" in page
    assert re.search(r'value="Administrator"[^>]*checked', page)  # the choice is kept
    assert f'value="{user_stamp(physician)}"' in page  # submitting again applies it deliberately
    assert user_roles(User.objects.get(pk=physician.pk)) == ["Coordinator"]
    for name in ("user_deactivate", "user_password_reset"):
        client.post(reverse(name, args=[physician.pk]), {"stamp": stamp})
    assert User.objects.get(pk=physician.pk).is_active and UserChange.objects.count() == 1
    # A change made outside the application (command line) also makes the page stale.
    current = user_stamp(physician)
    physician.groups.clear()
    response = client.post(reverse("user_deactivate", args=[physician.pk]), {"stamp": current}, follow=True)
    assert "changed elsewhere" in response.content.decode()


def test_deactivated_user_cannot_sign_in_their_session_ends_and_their_records_stay(client, administrator,
                                                                                    coordinator):
    patient = PatientFactory(by=coordinator)
    coordinator_client = client.__class__()
    assert coordinator_client.login(username="casey", password=PASSWORD)
    assert coordinator_client.get(reverse("worklist")).status_code == 200
    client.force_login(administrator)
    client.post(reverse("user_deactivate", args=[coordinator.pk]), {"stamp": user_stamp(coordinator)})
    assert not User.objects.get(pk=coordinator.pk).is_active
    assert coordinator_client.get(reverse("worklist")).status_code == 302  # signed out
    assert not coordinator_client.login(username="casey", password=PASSWORD)
    assert Patient.objects.get(pk=patient.pk).created_by_id == coordinator.pk
    assert User.objects.filter(pk=coordinator.pk).exists()
    coordinator.refresh_from_db()
    client.post(reverse("user_reactivate", args=[coordinator.pk]), {"stamp": user_stamp(coordinator)})
    assert coordinator_client.login(username="casey", password=PASSWORD)
    assert [change.action for change in UserChange.objects.order_by("id")] == ["deactivated", "reactivated"]


def test_password_reset_one_time_password_ends_sessions_and_must_be_changed(client, administrator, physician):
    physician_client = client.__class__()
    assert physician_client.login(username="dr.lee", password=PASSWORD)
    client.force_login(administrator)
    response = client.post(reverse("user_password_reset", args=[physician.pk]), {"stamp": user_stamp(physician)})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    password = _one_time_password(response)
    assert physician_client.get(reverse("worklist")).status_code == 302  # the old session ended
    assert not physician_client.login(username="dr.lee", password=PASSWORD)
    assert physician_client.login(username="dr.lee", password=password)
    assert physician_client.get(reverse("worklist"))["Location"] == reverse("password_change")
    change = UserChange.objects.get(user=physician)
    assert (change.action, change.field, change.new_value) == ("password_reset", "password",
                                                               "one-time password issued")
    assert password not in str(list(UserChange.objects.values()))


def test_setting_a_password_elsewhere_clears_the_flag(physician, administrator):
    services.user_password_reset(user=physician, stamp=None, by=administrator)
    assert Account.objects.get(user=physician).must_change_password
    physician.set_password(PASSWORD)
    physician.save()
    assert not Account.objects.get(user=physician).must_change_password


def test_one_time_passwords_pass_the_validators_and_differ(physician):
    from django.contrib.auth.password_validation import validate_password

    passwords = {services.one_time_password(physician) for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        validate_password(password, physician)


def test_last_active_administrator_is_neither_demoted_nor_deactivated(administrator):
    root = UserFactory(username="root", is_superuser=True)  # an actor outside the Administrator group
    with pytest.raises(services.UserChangeRefused, match="last active administrator"):
        services.user_role_change(user=administrator, role="Physician", stamp=None, by=root)
    with pytest.raises(services.UserChangeRefused, match="last active administrator"):
        services.user_deactivate(user=administrator, stamp=None, by=root)
    administrator.refresh_from_db()
    assert administrator.is_active and user_roles(administrator) == ["Administrator"]
    # With a second active administrator, the first can go; a deactivated one does not count.
    second = UserFactory(role="Administrator", is_active=False)
    with pytest.raises(services.UserChangeRefused, match="last active administrator"):
        services.user_deactivate(user=administrator, stamp=None, by=root)
    services.user_reactivate(user=second, stamp=None, by=root)
    services.user_deactivate(user=administrator, stamp=None, by=root)
    with pytest.raises(services.UserChangeRefused, match="last active administrator"):
        services.user_role_change(user=second, role="Coordinator", stamp=None, by=root)


def test_an_administrator_demoted_meanwhile_can_no_longer_change_users(administrator, physician):
    other = UserFactory(role="Administrator")
    services.user_role_change(user=administrator, role="Coordinator", stamp=None, by=other)
    with pytest.raises(services.UserChangeRefused, match="no longer an active administrator"):
        services.user_role_change(user=physician, role="Administrator", stamp=None,
                                  by=User.objects.get(pk=administrator.pk))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (runs in CI)")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_administrators_removed_at_once_leave_one_active():
    """Two requests each remove a different one of the last two administrators: the second waits
    for the lock, then sees the first's change and is refused."""
    first = UserFactory(role="Administrator")
    second = UserFactory(role="Administrator")
    root = UserFactory(username="root", is_superuser=True)
    outcome = {}

    def deactivate_first():
        try:
            services.user_deactivate(user=first, stamp=None, by=root)
            outcome["result"] = "deactivated"
        except services.UserChangeRefused as refused:
            outcome["result"] = str(refused)
        finally:
            connections.close_all()

    with transaction.atomic():
        Group.objects.select_for_update().get(name="Administrator")  # the other request is mid-change
        thread = threading.Thread(target=deactivate_first)
        thread.start()
        with connection.cursor() as cursor:
            for _ in range(200):  # until the thread waits for the lock (at most 10 s)
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the second change did not wait for the lock")
        services.user_deactivate(user=second, stamp=None, by=root)
    thread.join(timeout=10)
    assert "last active administrator" in outcome["result"]
    assert User.objects.filter(pk=first.pk, is_active=True).exists()
    assert not User.objects.get(pk=second.pk).is_active
