"""The permissions of a signed-in user and the names of their groups (their roles), in one query.

Every page asks both: the views check permissions, the menu shows the roles and the pages they open.
Django's ``ModelBackend`` reads them in three queries a request (the user's own permissions, their
groups' permissions, the groups); this backend reads the three sets in one, on the first permission
check or role read of the request, and keeps them on the user object for that request only, as
``ModelBackend`` keeps its own (a change of role takes effect on the user's next request).
Superusers, inactive and anonymous users are ``ModelBackend``'s.

The signed-in user of a request (``get_user``, from the session) is read with them, in the same
statement: the three sets as a JSON array, a subquery of the user's row. Every page but ``/hello/``
asks a permission (its view's, the menu's), so a page runs one statement less (a round trip and its
execution on each side: 0.3-0.5 ms of every page on PostgreSQL).
"""

from __future__ import annotations

import json
from functools import cache

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL

_GROUPS_ATTRIBUTE = "_group_names_cache"


@cache
def _sql(user: str = "%s") -> str:
    """The user's permissions ('p', app label, codename) and groups ('g', name, ''); ``user``: the
    user's key, a placeholder (bound three times) or the column of an outer query."""
    permission, content_type, group = Permission._meta.db_table, ContentType._meta.db_table, Group._meta.db_table
    own = User.user_permissions.through._meta.db_table
    member = User.groups.through._meta.db_table
    granted = Group.permissions.through._meta.db_table
    # Names from the models' meta; the user's key bound as a parameter or an outer query's column.
    return (f"SELECT 'p' AS kind, ct.app_label AS a, p.codename AS b FROM {permission} p "  # noqa: S608
            f"INNER JOIN {content_type} ct ON ct.id = p.content_type_id "
            f"WHERE p.id IN (SELECT permission_id FROM {own} WHERE user_id = {user} "
            f"UNION SELECT gp.permission_id FROM {granted} gp INNER JOIN {member} ug ON ug.group_id = gp.group_id "
            f"WHERE ug.user_id = {user}) "
            f"UNION ALL SELECT 'g', g.name, '' FROM {group} g INNER JOIN {member} ug ON ug.group_id = g.id "
            f"WHERE ug.user_id = {user}")


@cache
def _roles_column(vendor: str) -> str:
    """:func:`_sql` of the outer query's user as one JSON array (text) of its rows' triples."""
    inner = _sql(f'"{User._meta.db_table}"."{User._meta.pk.column}"')
    if vendor == "postgresql":
        return f"(SELECT COALESCE(json_agg(json_build_array(r.kind, r.a, r.b)), '[]')::text FROM ({inner}) r)"  # noqa: S608
    return f"(SELECT json_group_array(json_array(r.kind, r.a, r.b)) FROM ({inner}) r)"  # noqa: S608 (names)


def _load(user) -> None:
    # Every page but the sign-in ones asks it: run as a statement PostgreSQL prepares (planned once a
    # connection, not on every request: 0.6 ms of its 0.8, EXPLAIN ANALYZE) with the hot pages' own.
    from eligibility.common.compiled import fetch

    _keep(user, fetch(_sql(), [user.pk] * 3))


def _keep(user, found) -> None:
    user._perm_cache = {f"{app_label}.{codename}" for kind, app_label, codename in found if kind == "p"}
    setattr(user, _GROUPS_ATTRIBUTE, tuple(sorted(name for kind, name, _ in found if kind == "g")))


def _user_with_roles(pk: int) -> QuerySet:
    roles = _roles_column(connections[User._default_manager.db].vendor)  # names from the models' meta, no value
    return User._default_manager.filter(pk=pk).annotate(
        roles_found=RawSQL(roles, (), output_field=TextField()))  # noqa: S611


class RoleBackend(ModelBackend):
    """``ModelBackend`` with the user's permissions and groups read in one query, with the signed-in
    user of a request (see the module)."""

    def get_user(self, user_id):
        from eligibility.common.compiled import first_for

        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        if type(pk) is not int or not -(2**63) <= pk < 2**63:
            return None  # no such user (None, or beyond the column's 64 bits), as ModelBackend answers
        user = first_for("signed-in user with roles", _user_with_roles, pk, using=User._default_manager.db)
        if user is None or not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:  # a superuser's permissions are every permission (ModelBackend's)
            _keep(user, json.loads(user.roles_found))
        del user.roles_found
        return user

    def get_all_permissions(self, user_obj, obj=None):
        if (not user_obj.is_active or user_obj.is_anonymous or obj is not None or user_obj.is_superuser
                or hasattr(user_obj, "_perm_cache")):
            return super().get_all_permissions(user_obj, obj)
        _load(user_obj)
        return user_obj._perm_cache


def group_names(user) -> tuple[str, ...]:
    """The names of ``user``'s groups, sorted (none for an anonymous user): read with their
    permissions (:class:`RoleBackend`) once a request."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ()
    if not hasattr(user, _GROUPS_ATTRIBUTE):
        if user.is_active and not user.is_superuser and not hasattr(user, "_perm_cache"):
            _load(user)
        else:
            setattr(user, _GROUPS_ATTRIBUTE, tuple(sorted(user.groups.values_list("name", flat=True))))
    return getattr(user, _GROUPS_ATTRIBUTE)
