"""MLflow 3.13+'s role methods of AuthServiceClient against a running mlflow-auth.

``test_roles`` calls every role method of the client and checks the objects it
returns and the errors it raises. ``test_roles_side_by_side`` runs the same
calls, in the same order, against MLflow's own basic-auth server too (when the
Go test started one: MLFLOW_AUTH_TEST_MLFLOW_URL) and compares every outcome.

Roles do not take part in permission decisions yet, so no call here checks that
a role grants access. The 3.12 client has no role methods: the module is skipped.
"""

import os

import pytest

if not os.environ.get("MLFLOW_AUTH_TEST_URL"):
    pytest.skip("MLFLOW_AUTH_TEST_URL is not set", allow_module_level=True)

import mlflow
from packaging.version import Version
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient
from mlflow.server.auth.entities import Role, RolePermission, UserRoleAssignment

from conftest import PASSWORD, unique

if not hasattr(AuthServiceClient, "create_role"):
    pytest.skip(
        f"mlflow {mlflow.__version__} client has no role methods (added in 3.13)",
        allow_module_level=True,
    )


# Steps where MLflow 3.12's preview of roles answers otherwise than 3.13-3.17.2,
# whose roles mlflow-auth serves to every client: 3.12 takes a role named like a
# user's own (__user_<id>__), a NO_PERMISSIONS role permission and EDIT on the
# workspace, refuses DENY, and says a second workspace permission exists where
# 3.13+ refuses READ on a workspace. Side by side with MLflow 3.12 these steps
# must differ; every other step must not.
PREVIEW_DIFFERENCES = {
    "create a reserved name", "add a DENY on one id", "add NO_PERMISSIONS",
    "add workspace READ", "update workspace to EDIT",
}

# Every role method of the 3.17.2 client; the scenario must call each.
ROLE_METHODS = {
    "create_role", "get_role", "list_roles", "update_role", "delete_role",
    "add_role_permission", "remove_role_permission", "list_role_permissions",
    "update_role_permission", "assign_role", "unassign_role", "list_user_roles",
    "list_role_users", "list_all_roles",
}


class Labels:
    """Names for the ids one server hands out, so that two servers' answers compare."""

    def __init__(self):
        self.names = {}

    def name(self, kind, value, label):
        self.names[(kind, value)] = label

    def of(self, kind, value):
        return self.names.get((kind, value), f"unknown-{kind}")


def normalize(value, labels):
    """A returned entity as comparable data: ids replaced by their labels."""
    if isinstance(value, list):
        return [normalize(v, labels) for v in value]
    if isinstance(value, Role):
        return {
            "id": labels.of("role", value.id),
            "name": value.name,
            "workspace": value.workspace,
            "description": value.description,
            "permissions": normalize(value.permissions, labels),
        }
    if isinstance(value, RolePermission):
        return {
            "id": labels.of("perm", value.id),
            "role_id": labels.of("role", value.role_id),
            "resource_type": value.resource_type,
            "resource_pattern": value.resource_pattern,
            "permission": value.permission,
        }
    if isinstance(value, UserRoleAssignment):
        return {
            "id": labels.of("assignment", value.id),
            "user_id": labels.of("user", value.user_id),
            "role_id": labels.of("role", value.role_id),
        }
    return value


class Recorder:
    """Calls client methods as some user and records each outcome: the normalized
    value returned, or the error code raised."""

    def __init__(self, client, monkeypatch, labels):
        self.client, self.monkeypatch, self.labels = client, monkeypatch, labels
        self.outcomes, self.called = [], set()

    def login(self, username, password):
        self.monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        self.monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    def call(self, step, method, *args, **kwargs):
        self.called.add(method)
        try:
            value = getattr(self.client, method)(*args, **kwargs)
        except MlflowException as e:
            self.outcomes.append((step, "error", e.error_code))
            return e
        self.outcomes.append((step, "ok", value))
        return value

    def normalized(self, known_roles):
        """Outcomes with ids labelled; role lists keep only this run's roles, in id
        order, since the server may hold others (and MLflow does not sort)."""
        out = []
        for step, kind, value in self.outcomes:
            if kind == "ok" and isinstance(value, list) and value and isinstance(value[0], Role):
                value = sorted((r for r in value if r.id in known_roles), key=lambda r: r.id)
            out.append((step, kind, normalize(value, self.labels) if kind == "ok" else value))
        return out


def ident(value):
    """The id of a returned entity; -1 when the server answered an error (where
    MLflow's generations differ, the scenario goes on and the comparison tells)."""
    return getattr(value, "id", -1)


def scenario(rec, admin, make_user):
    """Every role method, as an admin and as users with and without a role.
    Returns the roles created, by label."""
    labels = rec.labels
    holder, holder_pw, holder_user = make_user("holder")
    outsider, outsider_pw, _ = make_user("outsider")
    labels.name("user", holder_user.id, "holder")
    rec.login(*admin)

    name, other_name = unique("readers"), unique("writers")
    role = rec.call("create", "create_role", "default", name, "reads everything")
    labels.name("role", ident(role), "role")
    other = rec.call("create without a description", "create_role", "default", other_name)
    labels.name("role", ident(other), "other")
    missing = max(ident(role), ident(other)) + 100000
    rec.call("create a taken name", "create_role", "default", name)
    rec.call("create an empty name", "create_role", "default", "   ")
    rec.call("create a reserved name", "create_role", "default", "__user_5__")
    rec.call("get", "get_role", ident(role))
    rec.call("get a missing role", "get_role", missing)

    renamed = name + "-renamed"
    rec.call("rename", "update_role", ident(role), name=renamed)
    rec.call("describe", "update_role", ident(role), description="reads all")
    rec.call("rename onto a taken name", "update_role", ident(role), name=other_name)
    rec.call("update nothing", "update_role", ident(role))
    rec.call("update a missing role", "update_role", missing, description="x")

    wild = rec.call("add a wildcard", "add_role_permission", ident(role), "experiment", "*", "READ")
    labels.name("perm", ident(wild), "wild")
    # Where MLflow 3.12's preview of roles and 3.13+ disagree (PREVIEW_DIFFERENCES),
    # on a role of its own, so that what the lists below show does not hang on it.
    probe = rec.call("create a probe", "create_role", "default", unique("probe"))
    deny = rec.call("add a DENY on one id", "add_role_permission", ident(probe), "registered_model", "model-a", "DENY")
    labels.name("perm", ident(deny), "deny")
    rec.call("add NO_PERMISSIONS", "add_role_permission", ident(probe), "experiment", "1", "NO_PERMISSIONS")
    member = rec.call("add workspace USE", "add_role_permission", ident(role), "workspace", "*", "USE")
    labels.name("perm", ident(member), "member")
    rec.call("add a taken pattern", "add_role_permission", ident(role), "experiment", "*", "EDIT")
    rec.call("add an unknown level", "add_role_permission", ident(role), "experiment", "1", "OWN")
    rec.call("add an unknown type", "add_role_permission", ident(role), "notebook", "*", "READ")
    rec.call("add an id on a wildcard-only type", "add_role_permission", ident(role), "run", "abc", "READ")
    rec.call("add workspace READ", "add_role_permission", ident(role), "workspace", "*", "READ")
    rec.call("add to a missing role", "add_role_permission", missing, "experiment", "*", "READ")
    rec.call("update a permission", "update_role_permission", ident(wild), "EDIT")
    rec.call("update workspace to EDIT", "update_role_permission", ident(member), "EDIT")
    rec.call("update a missing permission", "update_role_permission", missing, "EDIT")
    rec.call("remove a permission", "remove_role_permission", ident(member))
    rec.call("remove it again", "remove_role_permission", ident(member))
    rec.call("list permissions", "list_role_permissions", ident(role))
    rec.call("list permissions of a missing role", "list_role_permissions", missing)

    assignment = rec.call("assign", "assign_role", holder, ident(role))
    labels.name("assignment", ident(assignment), "assignment")
    rec.call("assign again", "assign_role", holder, ident(role))
    rec.call("assign to a missing user", "assign_role", unique("nobody"), ident(role))
    rec.call("assign a missing role", "assign_role", holder, missing)
    rec.call("the holder's roles", "list_user_roles", holder)
    rec.call("the roles of a missing user", "list_user_roles", unique("nobody"))
    rec.call("the role's users", "list_role_users", ident(role))
    rec.call("the users of a missing role", "list_role_users", missing)
    rec.call("list default", "list_roles", "default")
    rec.call("list all", "list_all_roles")

    rec.login(holder, holder_pw)
    rec.call("holder: own roles", "list_user_roles", holder)
    rec.call("holder: get a role of her workspace", "get_role", ident(other))
    rec.call("holder: its permissions", "list_role_permissions", ident(role))
    rec.call("holder: list default", "list_roles", "default")
    rec.call("holder: list all", "list_all_roles")
    rec.call("holder: get a missing role", "get_role", missing)
    rec.call("holder: create", "create_role", "default", unique("mine"))
    rec.call("holder: add a permission", "add_role_permission", ident(role), "experiment", "7", "MANAGE")
    rec.call("holder: assign", "assign_role", outsider, ident(role))
    rec.call("holder: the role's users", "list_role_users", ident(role))

    rec.login(outsider, outsider_pw)
    rec.call("outsider: the holder's roles", "list_user_roles", holder)
    rec.call("outsider: own roles", "list_user_roles", outsider)
    rec.call("outsider: get", "get_role", ident(role))
    rec.call("outsider: list default", "list_roles", "default")

    rec.login(*admin)
    rec.call("unassign", "unassign_role", holder, ident(role))
    rec.call("unassign again", "unassign_role", holder, ident(role))
    rec.call("delete", "delete_role", ident(role))
    rec.call("get after delete", "get_role", ident(role))
    rec.call("delete again", "delete_role", ident(role))
    rec.call("delete the other", "delete_role", ident(other))
    rec.call("delete the probe", "delete_role", ident(probe))
    assert rec.called == ROLE_METHODS, f"not called: {ROLE_METHODS - rec.called}"
    return {ident(role), ident(other)}


def user_maker(client, rec, admin):
    def make(prefix):
        username = unique(prefix)
        rec.login(*admin)
        user = client.create_user(username, PASSWORD)
        return username, PASSWORD, user

    return make


def outcomes_by_step(rec):
    return {step: (kind, value) for step, kind, value in rec.outcomes}


def test_roles(client, admin_credentials, monkeypatch):
    rec = Recorder(client, monkeypatch, Labels())
    scenario(rec, admin_credentials, user_maker(client, rec, admin_credentials))
    got = outcomes_by_step(rec)

    def ok(step):
        kind, value = got[step]
        assert kind == "ok", f"{step}: {value}"
        return value

    def error(step, code):
        assert got[step] == ("error", code), f"{step}: {got[step]}"

    role = ok("create")
    assert isinstance(role, Role) and isinstance(role.id, int)
    assert (role.name, role.workspace, role.description, role.permissions) == (
        role.name, "default", "reads everything", [])
    assert ok("create without a description").description is None
    error("create a taken name", "RESOURCE_ALREADY_EXISTS")
    error("create an empty name", "INVALID_PARAMETER_VALUE")
    error("create a reserved name", "INVALID_PARAMETER_VALUE")
    assert ok("get").to_json() == role.to_json()
    error("get a missing role", "RESOURCE_DOES_NOT_EXIST")

    assert ok("rename").name == role.name + "-renamed"
    described = ok("describe")
    assert (described.name, described.description) == (role.name + "-renamed", "reads all")
    error("rename onto a taken name", "RESOURCE_ALREADY_EXISTS")
    error("update nothing", "INVALID_PARAMETER_VALUE")
    error("update a missing role", "RESOURCE_DOES_NOT_EXIST")

    wild, deny = ok("add a wildcard"), ok("add a DENY on one id")
    assert isinstance(wild, RolePermission) and isinstance(wild.id, int)
    assert (wild.role_id, wild.resource_type, wild.resource_pattern, wild.permission) == (
        role.id, "experiment", "*", "READ")
    assert (deny.resource_type, deny.resource_pattern, deny.permission) == (
        "registered_model", "model-a", "DENY")
    assert ok("add workspace USE").permission == "USE"
    error("add a taken pattern", "RESOURCE_ALREADY_EXISTS")
    for step in ("add an unknown level", "add NO_PERMISSIONS", "add an unknown type",
                 "add an id on a wildcard-only type", "add workspace READ"):
        error(step, "INVALID_PARAMETER_VALUE")
    error("add to a missing role", "RESOURCE_DOES_NOT_EXIST")
    updated = ok("update a permission")
    assert (updated.id, updated.permission, updated.resource_pattern) == (wild.id, "EDIT", "*")
    error("update workspace to EDIT", "INVALID_PARAMETER_VALUE")
    error("update a missing permission", "RESOURCE_DOES_NOT_EXIST")
    assert ok("remove a permission") is None
    error("remove it again", "RESOURCE_DOES_NOT_EXIST")
    assert [p.to_json() for p in ok("list permissions")] == [updated.to_json()]
    error("list permissions of a missing role", "RESOURCE_DOES_NOT_EXIST")

    assignment = ok("assign")
    assert isinstance(assignment, UserRoleAssignment) and isinstance(assignment.id, int)
    assert assignment.role_id == role.id
    error("assign again", "RESOURCE_ALREADY_EXISTS")
    error("assign to a missing user", "RESOURCE_DOES_NOT_EXIST")
    error("assign a missing role", "RESOURCE_DOES_NOT_EXIST")
    [held] = ok("the holder's roles")
    assert (held.id, held.name, held.description) == (role.id, role.name + "-renamed", "reads all")
    assert [p.to_json() for p in held.permissions] == [updated.to_json()]
    error("the roles of a missing user", "RESOURCE_DOES_NOT_EXIST")
    assert [a.to_json() for a in ok("the role's users")] == [assignment.to_json()]
    error("the users of a missing role", "RESOURCE_DOES_NOT_EXIST")
    other = ok("create without a description")
    assert {role.id, other.id} <= {r.id for r in ok("list default")}
    assert {role.id, other.id} <= {r.id for r in ok("list all")}

    assert [r.id for r in ok("holder: own roles")] == [role.id]
    assert ok("holder: get a role of her workspace").id == other.id
    assert len(ok("holder: its permissions")) == 1
    assert {role.id, other.id} <= {r.id for r in ok("holder: list default")}
    for step in ("holder: list all", "holder: get a missing role", "holder: create",
                 "holder: add a permission", "holder: assign", "holder: the role's users",
                 "outsider: the holder's roles", "outsider: get", "outsider: list default"):
        error(step, "PERMISSION_DENIED")
    assert ok("outsider: own roles") == []

    assert ok("unassign") is None
    error("unassign again", "RESOURCE_DOES_NOT_EXIST")
    assert ok("delete") is None
    error("get after delete", "RESOURCE_DOES_NOT_EXIST")
    error("delete again", "RESOURCE_DOES_NOT_EXIST")



def test_roles_side_by_side(client, admin_credentials, mlflow_server, monkeypatch):
    """The same calls in the same order give the same outcomes from MLflow and from
    mlflow-auth: the same returned objects (ids compared by what they name) or the
    same error codes."""
    url, mlflow_admin = mlflow_server
    theirs_client = AuthServiceClient(url)
    ours = Recorder(client, monkeypatch, Labels())
    ours_roles = scenario(ours, admin_credentials, user_maker(client, ours, admin_credentials))
    theirs = Recorder(theirs_client, monkeypatch, Labels())
    theirs_roles = scenario(theirs, mlflow_admin, user_maker(theirs_client, theirs, mlflow_admin))
    got, want = ours.normalized(ours_roles), theirs.normalized(theirs_roles)
    # Role names are unique per run; compare them by shape.
    for outcomes in (got, want):
        for i, (step, kind, value) in enumerate(outcomes):
            outcomes[i] = (step, kind, strip_names(value))
    assert len(got) == len(want)
    differences = differing(got, want)
    assert not differences, "\n".join(f"ours:   {g}\nMLflow: {w}" for g, w in differences)


def differing(got, want):
    """The (ours, MLflow's) outcome pairs that differ. Side by side with MLflow
    3.12 the PREVIEW_DIFFERENCES steps must differ, and are left out."""
    differences = [(g, w) for g, w in zip(got, want) if g != w]
    if Version(mlflow.__version__) < Version("3.13") and any(step in PREVIEW_DIFFERENCES for step, _, _ in got):
        agreeing = {step for step, _, _ in got} & PREVIEW_DIFFERENCES - {g[0] for g, _ in differences}
        assert not agreeing, f"MLflow {mlflow.__version__} now agrees on {agreeing}: update PREVIEW_DIFFERENCES"
        differences = [(g, w) for g, w in differences if g[0] not in PREVIEW_DIFFERENCES]
    return differences


def strip_names(value):
    """Role names carry a random suffix (conftest.unique); keep the rest."""
    if isinstance(value, list):
        return [strip_names(v) for v in value]
    if isinstance(value, dict) and "name" in value and "workspace" in value:
        prefix, _, rest = value["name"].partition("-")
        return {**value, "name": prefix + ("-renamed" if rest.endswith("-renamed") else "")}
    return value
