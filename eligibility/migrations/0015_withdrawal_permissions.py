"""Withdrawing and restoring patients: coordinators withdraw (and correct identifiers, which they
could change already), administrators restore."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Coordinator": ["withdraw_patient"],
    "Administrator": ["restore_patient"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("eligibility")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        Group.objects.get(name=role).permissions.add(
            *Permission.objects.filter(content_type__app_label="eligibility", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        Group.objects.get(name=role).permissions.remove(
            *Permission.objects.filter(content_type__app_label="eligibility", codename__in=codenames))


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0014_integrity_constraints"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="patient",
            options={"ordering": ["study_id"], "permissions": [("withdraw_patient", "Can withdraw a patient"),
                                                               ("restore_patient", "Can restore a withdrawn patient")]},
        ),
        migrations.RunPython(grant, revoke),
    ]
