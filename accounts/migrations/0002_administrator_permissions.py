"""Administrators manage users and export the audit trail (the permissions every view checks)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["manage_users", "export_audit"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs them now.
    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Administrator")
    group.permissions.add(*Permission.objects.filter(content_type__app_label="accounts", codename__in=CODENAMES))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Administrator"):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="accounts",
                                                            codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("eligibility", "0004_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
