"""Treatment episodes, step 4: who may start and close an episode (coordinators and physicians), and
a ready mark's end when its episode is closed."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

ROLES = {
    "Coordinator": ["manage_episode"],
    "Physician": ["manage_episode"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("eligibility")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        # filter, not get: a database flushed by a test (no roles yet) migrates through this too.
        for group in Group.objects.filter(name=role):
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label="eligibility", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="eligibility", codename__in=codenames))


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0026_episodes_ids"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="assessment",
            options={"ordering": ["-updated_at"],
                     "permissions": [("manage_episode", "Can start and close treatment episodes")]},
        ),
        migrations.AlterField(
            model_name="readymark",
            name="clearance",
            field=models.CharField(blank=True, choices=[("signed", "Signed by a physician"),
                                                        ("withdrawn", "Withdrawn by the coordinator"),
                                                        ("stage_changed", "The stage moved on"),
                                                        ("episode_closed", "The episode was closed")],
                                   max_length=16),
        ),
        migrations.RunPython(grant, revoke),
    ]
