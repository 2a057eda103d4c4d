"""MLflow 3.12.0's workspace permission methods of AuthServiceClient.

``test_workspace_permissions`` runs the four calls against mlflow-auth and checks
what they return and raise; ``test_workspace_permissions_side_by_side`` runs the
same steps against MLflow 3.12.0's own basic-auth server started with
``--enable-workspaces`` (when the Go test started one:
MLFLOW_AUTH_TEST_MLFLOW_URL, see conftest.py) and compares every outcome. Clients
without the methods (3.13+ replaced them with roles) skip the module.
"""

import os

import pytest

if not os.environ.get("MLFLOW_AUTH_TEST_URL"):
    pytest.skip("MLFLOW_AUTH_TEST_URL is not set", allow_module_level=True)

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient

from conftest import PASSWORD, unique

if not hasattr(AuthServiceClient, "list_workspace_permissions"):
    pytest.skip(
        f"mlflow {mlflow.__version__} client has no workspace permission methods (3.10-3.12)",
        allow_module_level=True,
    )



def run(client, monkeypatch, admin, workspaces):
    """The scenario: (step, outcome) pairs, outcomes as comparable data with the
    servers' own user ids replaced by the user's part in it."""
    users = {}
    out = []

    def login(username, password):
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    def plain(value):
        if isinstance(value, list):
            return [plain(v) for v in value]
        if value is None:
            return None
        d = value.to_json()
        d["user_id"] = users.get(d["user_id"], "unknown")
        return d

    def step(name, method, *args):
        try:
            out.append((name, ("ok", plain(getattr(client, method)(*args)))))
        except MlflowException as e:
            out.append((name, ("error", e.error_code)))

    login(*admin)
    manager, member = unique("ws-manager"), unique("ws-member")
    for name, label in ((manager, "manager"), (member, "member")):
        users[client.create_user(name, PASSWORD).id] = label
    ws_a, ws_b = workspaces

    step("list an empty workspace", "list_workspace_permissions", ws_a)
    step("set READ", "set_workspace_permission", ws_a, manager, "READ")
    step("raise to MANAGE", "set_workspace_permission", ws_a, manager, "MANAGE")
    step("set an unknown level", "set_workspace_permission", ws_a, member, "OWNER")
    step("set for a missing user", "set_workspace_permission", ws_a, unique("nobody"), "USE")
    step("list", "list_workspace_permissions", ws_a)
    step("list a user's", "list_user_workspace_permissions", manager)

    login(manager, PASSWORD)
    step("manager sets a member", "set_workspace_permission", ws_a, member, "USE")
    step("manager lists", "list_workspace_permissions", ws_a)
    step("manager lists another workspace", "list_workspace_permissions", ws_b)
    step("manager sets in another workspace", "set_workspace_permission", ws_b, member, "USE")
    step("manager lists a user's", "list_user_workspace_permissions", member)
    step("manager deletes the member", "delete_workspace_permission", ws_a, member)

    login(member, PASSWORD)
    step("member lists", "list_workspace_permissions", ws_a)
    step("member sets", "set_workspace_permission", ws_a, member, "MANAGE")

    login(*admin)
    step("delete again", "delete_workspace_permission", ws_a, member)
    step("delete the manager", "delete_workspace_permission", ws_a, manager)
    step("list after", "list_workspace_permissions", ws_a)
    return out


def test_workspace_permissions(client, admin_credentials, monkeypatch):
    got = dict(run(client, monkeypatch, admin_credentials, (unique("team-a"), unique("team-b"))))

    def ok(name):
        kind, value = got[name]
        assert kind == "ok", f"{name}: {value}"
        return value

    assert ok("list an empty workspace") == []
    assert ok("set READ")["permission"] == "READ" and ok("set READ")["can_use"] is False
    manager = ok("raise to MANAGE")
    assert manager["permission"] == "MANAGE" and manager["can_use"] is True
    assert got["set an unknown level"] == ("error", "INVALID_PARAMETER_VALUE")
    assert got["set for a missing user"] == ("error", "RESOURCE_DOES_NOT_EXIST")
    assert ok("list") == [manager]
    assert ok("list a user's") == [manager]
    assert ok("manager sets a member")["permission"] == "USE"
    assert len(ok("manager lists")) == 2
    for name in ("manager lists another workspace", "manager sets in another workspace",
                 "manager lists a user's", "member lists", "member sets"):
        assert got[name] == ("error", "PERMISSION_DENIED"), name
    assert ok("manager deletes the member") is None
    assert got["delete again"] == ("error", "RESOURCE_DOES_NOT_EXIST")
    assert ok("list after") == []



def test_workspace_permissions_side_by_side(client, admin_credentials, mlflow_server, monkeypatch):
    """Every step gives the same outcome on MLflow 3.12.0 (workspaces enabled) and
    on mlflow-auth. MLflow's workspaces are created first: its set call requires
    one that exists, and mlflow-auth keeps no list of workspaces."""
    import mlflow.server
    from mlflow.tracking import MlflowClient

    url, admin = mlflow_server
    workspaces = (unique("team-a"), unique("team-b"))
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", admin[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", admin[1])
    for ws in workspaces:
        MlflowClient(tracking_uri=url).create_workspace(ws)
    theirs = run(mlflow.server.get_app_client("basic-auth", tracking_uri=url), monkeypatch, admin, workspaces)
    ours = run(client, monkeypatch, admin_credentials, workspaces)
    assert [s for s, _ in ours] == [s for s, _ in theirs]
    diffs = [(s, o, t) for (s, o), (_, t) in zip(ours, theirs) if o != t]
    assert not diffs, "\n".join(f"{s}: mlflow-auth {o}, MLflow {t}" for s, o, t in diffs)
