"""Workspaces through the front door, against MLflow started with --enable-workspaces.

Two workspaces that do not see each other: each user creates an experiment in
their own workspace (X-MLFLOW-WORKSPACE), becomes its owner there, and neither
reads, finds or changes the other's, whichever workspace they name. Run only by
TestMLflowWorkspacesProxy (MLFLOW_AUTH_TEST_WORKSPACES=1), whose MLflow has
workspaces and whose default permission is NO_PERMISSIONS.
"""

import os

import pytest
import requests

from proxytest import TIMEOUT, unique

pytestmark = pytest.mark.skipif(
    os.environ.get("MLFLOW_AUTH_TEST_WORKSPACES") != "1",
    reason="needs an upstream MLflow with --enable-workspaces (TestMLflowWorkspacesProxy)",
)


def in_ws(user, ws, method, path, **kwargs):
    headers = {"X-MLFLOW-WORKSPACE": ws} if ws else {}
    return user.http(method, path, headers=headers, **kwargs)


def create_experiment(user, ws):
    r = in_ws(user, ws, "POST", "/api/2.0/mlflow/experiments/create", json={"name": unique("ws-exp")})
    assert r.status_code == 200, r.text
    return r.json()["experiment_id"]


def search(user, ws):
    r = in_ws(user, ws, "POST", "/api/2.0/mlflow/experiments/search", json={"max_results": 1000})
    assert r.status_code == 200, r.text
    return {e["experiment_id"] for e in r.json().get("experiments", [])}


def test_two_workspaces_do_not_see_each_other(upstream_url, owner, other):
    team_a, team_b = unique("team-a"), unique("team-b")
    for ws in (team_a, team_b):
        r = requests.post(upstream_url + "/api/3.0/mlflow/workspaces", json={"name": ws}, timeout=TIMEOUT)
        assert r.status_code in (200, 201), r.text
    a = create_experiment(owner, team_a)
    b = create_experiment(other, team_b)

    get = "/api/2.0/mlflow/experiments/get"
    assert in_ws(owner, team_a, "GET", get, params={"experiment_id": a}).status_code == 200
    assert in_ws(other, team_b, "GET", get, params={"experiment_id": b}).status_code == 200
    for user, exp in ((owner, b), (other, a)):
        for ws in (team_a, team_b, None):
            r = in_ws(user, ws, "GET", get, params={"experiment_id": exp})
            assert r.status_code in (403, 404), (user.username, ws, r.status_code, r.text)
    # The owner's grant is in its workspace: naming no workspace (default) it is not there.
    r = in_ws(owner, None, "GET", get, params={"experiment_id": a})
    assert r.status_code in (403, 404), r.text

    assert a in search(owner, team_a) and b not in search(owner, team_a)
    assert b not in search(owner, team_b) and a not in search(owner, team_b)
    assert b in search(other, team_b) and a not in search(other, team_b)

    # A write into the other's workspace is refused and changes nothing.
    r = in_ws(owner, team_b, "POST", "/api/2.0/mlflow/experiments/update",
              json={"experiment_id": b, "new_name": unique("taken")})
    assert r.status_code == 403, r.text
    r = requests.get(upstream_url + get, params={"experiment_id": b},
                     headers={"X-MLFLOW-WORKSPACE": team_b}, timeout=TIMEOUT)
    assert r.status_code == 200 and not r.json()["experiment"]["name"].startswith("taken"), r.text


def role(admin, ws, holder, resource_type, level):
    """A role of workspace ws holding (resource_type, *, level), assigned to holder."""
    r = admin.api("POST", "/api/3.0/mlflow/roles/create", json={"workspace": ws, "name": unique("role")})
    role_id = r["role"]["id"]
    admin.api("POST", "/api/3.0/mlflow/roles/permissions/add", json={
        "role_id": role_id, "resource_type": resource_type, "resource_pattern": "*", "permission": level})
    admin.api("POST", "/api/3.0/mlflow/roles/assign", json={"role_id": role_id, "username": holder.username})


def test_grants_and_roles_count_in_their_workspace(upstream_url, admin, owner, other):
    """The creator's grant is written in the experiment's workspace; a role of
    "default" opens nothing of team-a, a role of team-a opens team-a's."""
    team_a = unique("team-a")
    r = requests.post(upstream_url + "/api/3.0/mlflow/workspaces", json={"name": team_a}, timeout=TIMEOUT)
    assert r.status_code in (200, 201), r.text
    a = create_experiment(owner, team_a)
    grant = {"experiment_id": a, "username": owner.username}
    r = in_ws(admin, team_a, "GET", "/api/2.0/mlflow/experiments/permissions/get", params=grant)
    assert r.status_code == 200 and r.json()["experiment_permission"]["permission"] == "MANAGE", r.text
    r = in_ws(admin, None, "GET", "/api/2.0/mlflow/experiments/permissions/get", params=grant)
    assert r.status_code == 404, r.text

    get = "/api/2.0/mlflow/experiments/get"
    role(admin, "default", other, "experiment", "READ")
    r = in_ws(other, team_a, "GET", get, params={"experiment_id": a})
    assert r.status_code == 403, r.text
    assert a not in search(other, team_a)
    role(admin, team_a, other, "experiment", "READ")
    r = in_ws(other, team_a, "GET", get, params={"experiment_id": a})
    assert r.status_code == 200, r.text
    assert a in search(other, team_a)


def test_bad_workspace_name(owner):
    r = in_ws(owner, "Team_A", "POST", "/api/2.0/mlflow/experiments/search", json={})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
