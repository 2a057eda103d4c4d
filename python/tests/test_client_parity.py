"""Every public method of the installed MLflow's AuthServiceClient, side by side.

One scenario calls each method of the client (47 in MLflow 3.12.0, 22 in 3.17.2)
as an admin and as plain users, in the same order, against MLflow's own basic-auth
server (MLFLOW_AUTH_TEST_MLFLOW_URL, started by the Go test from the same
virtualenv) and against mlflow-auth, and compares every outcome: the returned
object, with ids and generated names replaced by what they name, or the error
code raised. The role methods are test_roles.py's scenario, called from here.
"""

import os

import pytest

if not os.environ.get("MLFLOW_AUTH_TEST_URL"):
    pytest.skip("MLFLOW_AUTH_TEST_URL is not set", allow_module_level=True)

from mlflow.server.auth.client import AuthServiceClient
from mlflow.server.auth.entities import Role, RolePermission, UserRoleAssignment

from conftest import PASSWORD, unique, unique_experiment_id
from test_roles import Labels, Recorder, differing, normalize, strip_names, user_maker
from test_roles import scenario as role_scenario

PUBLIC_METHODS = {
    name for name in vars(AuthServiceClient) if not name.startswith("_") and callable(getattr(AuthServiceClient, name))
}


def has(method):
    return method in PUBLIC_METHODS


def crud(rec, kind, create, get, update, delete, resource, username):
    """The four classic calls on one resource, with the errors around them."""
    rec.call(f"{kind}: create", create, *resource, username, "READ")
    rec.call(f"{kind}: create again", create, *resource, username, "EDIT")
    rec.call(f"{kind}: create an unknown level", create, *resource, unique("bob"), "OWN")
    rec.call(f"{kind}: get", get, *resource, username)
    rec.call(f"{kind}: update", update, *resource, username, "MANAGE")
    rec.call(f"{kind}: get after update", get, *resource, username)
    rec.call(f"{kind}: update an unknown level", update, *resource, username, "OWN")
    rec.call(f"{kind}: delete", delete, *resource, username)
    rec.call(f"{kind}: get after delete", get, *resource, username)
    rec.call(f"{kind}: delete again", delete, *resource, username)


def scenario(rec, admin, make_user):
    """Calls every public method; returns the roles the role scenario made."""
    labels = rec.labels
    alice, alice_pw, alice_user = make_user("alice")
    bob, bob_pw, bob_user = make_user("bob")
    labels.name("user", alice_user.id, "alice")
    labels.name("user", bob_user.id, "bob")
    labels.name("username", alice, "alice")
    labels.name("username", bob, "bob")
    rec.login(*admin)

    rec.call("users: create a taken name", "create_user", alice, PASSWORD)
    rec.call("users: get", "get_user", alice)
    rec.call("users: get a missing user", "get_user", unique("ghost"))
    rec.call("users: change a password", "update_user_password", alice, PASSWORD + "-2")
    rec.call("users: change a missing user's password", "update_user_password", unique("ghost"), PASSWORD)
    rec.call("users: make an admin", "update_user_admin", bob, True)
    rec.call("users: get the admin", "get_user", bob)
    rec.call("users: unmake an admin", "update_user_admin", bob, False)
    rec.login(alice, PASSWORD + "-2")
    rec.call("alice: get herself", "get_user", alice)
    rec.call("alice: get bob", "get_user", bob)
    rec.call("alice: make herself an admin", "update_user_admin", alice, True)
    rec.login(*admin)

    experiment = unique_experiment_id()
    labels.name("experiment", experiment, "experiment")
    model = unique("model")
    labels.name("model", model, "model")
    if has("create_experiment_permission"):
        crud(rec, "experiment", "create_experiment_permission", "get_experiment_permission",
             "update_experiment_permission", "delete_experiment_permission", (experiment,), alice)
        crud(rec, "registered model", "create_registered_model_permission", "get_registered_model_permission",
             "update_registered_model_permission", "delete_registered_model_permission", (model,), alice)
    if has("create_scorer_permission"):
        crud(rec, "scorer", "create_scorer_permission", "get_scorer_permission",
             "update_scorer_permission", "delete_scorer_permission", (experiment, "quality"), alice)
    for kind in ("secret", "endpoint", "model_definition"):
        if has(f"create_gateway_{kind}_permission"):
            crud(rec, f"gateway {kind}", f"create_gateway_{kind}_permission", f"get_gateway_{kind}_permission",
                 f"update_gateway_{kind}_permission", f"delete_gateway_{kind}_permission", (f"{kind}-1",), alice)
    if has("set_workspace_permission"):
        rec.call("workspace: set", "set_workspace_permission", "default", alice, "READ")
        rec.call("workspace: set again", "set_workspace_permission", "default", alice, "EDIT")
        rec.call("workspace: list", "list_workspace_permissions", "default")
        rec.call("workspace: the user's", "list_user_workspace_permissions", alice)
        rec.call("workspace: delete", "delete_workspace_permission", "default", alice)
        rec.call("workspace: delete again", "delete_workspace_permission", "default", alice)
    if has("grant_user_permission"):
        rec.call("unified: grant", "grant_user_permission", alice, "experiment", experiment, "READ")
        rec.call("unified: grant again", "grant_user_permission", alice, "experiment", experiment, "EDIT")
        rec.call("unified: grant an unknown type", "grant_user_permission", alice, "notebook", "1", "READ")
        rec.call("unified: grant an unknown level", "grant_user_permission", alice, "experiment", experiment, "OWN")
        rec.call("unified: grant a model", "grant_user_permission", alice, "registered_model", model, "MANAGE")
        rec.call("unified: get", "get_user_permission", alice, "experiment", experiment)
        rec.call("unified: get a model", "get_user_permission", alice, "registered_model", model)
        rec.call("unified: get without a grant", "get_user_permission", bob, "experiment", experiment)
        rec.login(alice, PASSWORD + "-2")
        rec.call("alice: get her grant", "get_user_permission", alice, "experiment", experiment)
        rec.call("alice: get bob's", "get_user_permission", bob, "experiment", experiment)
        rec.call("alice: grant bob on her model", "grant_user_permission", bob, "registered_model", model, "READ")
        rec.call("alice: grant bob elsewhere", "grant_user_permission", bob, "experiment", experiment, "READ")
        rec.login(*admin)
        rec.call("unified: revoke", "revoke_user_permission", alice, "experiment", experiment)
        rec.call("unified: revoke again", "revoke_user_permission", alice, "experiment", experiment)
        rec.call("unified: get after revoke", "get_user_permission", alice, "experiment", experiment)
        rec.call("users: get with grants", "get_user", alice)

    called, rec.called = rec.called, set()  # the role scenario checks that it called every role method
    roles = role_scenario(rec, admin, make_user)
    rec.called |= called
    rec.call("users: delete", "delete_user", bob)
    rec.call("users: delete again", "delete_user", bob)
    rec.call("users: delete alice", "delete_user", alice)
    assert rec.called == PUBLIC_METHODS, f"not called: {sorted(PUBLIC_METHODS - rec.called)}"
    return roles


def comparable(value, labels):
    """An outcome as data both servers can agree on: entities as their JSON, with
    user ids, usernames and model names replaced by their labels."""
    if isinstance(value, list):
        return [comparable(v, labels) for v in value]
    if isinstance(value, (Role, RolePermission, UserRoleAssignment)):
        return strip_names(normalize(value, labels))
    if hasattr(value, "to_json"):
        return relabel(value.to_json(), labels)
    return value


def relabel(data, labels):
    if isinstance(data, list):
        return [relabel(v, labels) for v in data]
    if not isinstance(data, dict):
        return data
    out = {}
    for key, v in data.items():
        if key in ("id", "user_id") and isinstance(v, int):
            v = labels.of("user", v)
        elif key == "experiment_id" and isinstance(v, str):
            v = labels.names.get(("experiment", v), v)
        elif key in ("username", "name") and isinstance(v, str):
            v = labels.names.get(("username", v)) or labels.names.get(("model", v)) or v
        out[key] = relabel(v, labels)
    return out


def test_every_client_method_side_by_side(client, admin_credentials, mlflow_server, monkeypatch):
    url, mlflow_admin = mlflow_server
    theirs_client = AuthServiceClient(url)
    ours = Recorder(client, monkeypatch, Labels())
    ours_roles = scenario(ours, admin_credentials, user_maker(client, ours, admin_credentials))
    theirs = Recorder(theirs_client, monkeypatch, Labels())
    theirs_roles = scenario(theirs, mlflow_admin, user_maker(theirs_client, theirs, mlflow_admin))

    def outcomes(rec, roles):
        known = {r for r in roles}
        out = []
        for step, kind, value in rec.outcomes:
            if kind == "ok" and isinstance(value, list) and value and isinstance(value[0], Role):
                value = sorted((r for r in value if r.id in known), key=lambda r: r.id)
            out.append((step, kind, comparable(value, rec.labels) if kind == "ok" else value))
        return out

    got, want = outcomes(ours, ours_roles), outcomes(theirs, theirs_roles)
    assert [s for s, _, _ in got] == [s for s, _, _ in want]
    differences = differing(got, want)
    print(f"{len(PUBLIC_METHODS)} methods, {len(got)} calls, {len(differences)} differences")
    assert not differences, "\n".join(f"ours:   {g}\nMLflow: {w}" for g, w in differences)
