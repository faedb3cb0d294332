"""Physicians record dispositions and sign off; everyone who reads checklists reads them too."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = ["view_disposition", "view_signoff"]
ROLES = {
    "Coordinator": READ,
    "Physician": READ + ["add_disposition", "change_disposition", "add_signoff"],
    "Administrator": READ,
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
    dependencies = [("eligibility", "0005_review_signoff"), ("eligibility", "0004_roles")]

    operations = [migrations.RunPython(grant, revoke)]
