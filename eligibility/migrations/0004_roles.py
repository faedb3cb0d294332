"""The three roles as groups with their permissions (checked on the server by every view).

- Coordinator: records patients and their intake data; reads checklists.
- Physician: reads patients, intake data and checklists (review and sign-off come with their issue).
- Administrator: reads everything and maintains rule sets (thresholds, product catalogue).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = ["view_patient", "view_assessment", "view_evaluation", "view_ruleset", "view_threshold", "view_product"]
ROLES = {
    "Coordinator": READ + ["add_patient", "change_patient", "add_assessment", "change_assessment"],
    "Physician": READ,
    "Administrator": READ + ["add_ruleset", "change_ruleset", "change_threshold", "add_product", "change_product",
                             "delete_product"],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    app_config = apps.get_app_config("eligibility")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(Permission.objects.filter(content_type__app_label="eligibility", codename__in=codenames))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("eligibility", "0003_patients_assessments"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
