"""Administrators see the sign-in locks and lift them: django-axes' own permissions on its
access-attempt records (viewing them; deleting them is lifting the lock)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_accessattempt", "delete_accessattempt"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs them now.
    app_config = apps.get_app_config("axes")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="Administrator").permissions.add(
        *Permission.objects.filter(content_type__app_label="axes", codename__in=CODENAMES))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="Administrator").permissions.remove(
        *Permission.objects.filter(content_type__app_label="axes", codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_administrator_permissions"),
        ("eligibility", "0004_roles"),
        ("axes", "0010_accessattemptexpiration"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
