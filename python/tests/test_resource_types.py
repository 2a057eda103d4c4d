"""Every resource type MLflow's server knows, through role permissions and a
user's own grants, side by side with MLflow's basic-auth server: the same calls
succeed, and the refused ones get the same error code and message.

The types come from MLflow's own table (permissions.TYPE), plus an unknown one.
3.18's ``skill`` is mlflow-auth's and not 3.17.2's; the Go tests cover it, and
it is taken out of the list of valid types in mlflow-auth's message.
"""

import os

import pytest

if not os.environ.get("MLFLOW_AUTH_TEST_URL"):
    pytest.skip("MLFLOW_AUTH_TEST_URL is not set", allow_module_level=True)

from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient

from conftest import PASSWORD, unique, mlflow_since

if not hasattr(AuthServiceClient, "add_role_permission"):
    pytest.skip("this client has no role methods (added in 3.13)", allow_module_level=True)

from mlflow.server.auth import permissions



def outcome(call, *args, username=None):
    try:
        call(*args)
    except MlflowException as e:
        if e.error_code == "PERMISSION_DENIED":
            return e.error_code  # MLflow's 403 is a text body, which its client words its own way
        message = e.message.replace("'skill', ", "")
        return e.error_code, message.replace(username, "<user>") if username else message
    return "ok"


def scenario(client, monkeypatch, admin):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", admin[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", admin[1])
    username = unique("typed")
    client.create_user(username, PASSWORD)
    role = client.create_role("default", unique("typed"))
    out = []
    for typ in sorted(permissions.TYPE) + ["notebook"]:
        out.append((typ, "role *", outcome(client.add_role_permission, role.id, typ, "*", "MANAGE")))
        out.append((typ, "role id", outcome(client.add_role_permission, role.id, typ, "5", "MANAGE")))
        out.append((typ, "grant *", outcome(client.grant_user_permission, username, typ, "*", "READ")))
        if typ != "scorer":  # a scorer id is "<experiment>/<name>": mlflow-auth checks it, MLflow stores any
            out.append((typ, "grant id", outcome(client.grant_user_permission, username, typ, "5", "READ")))
            # Revoke checks the type only: an id a `*`-only type never stores is not found.
            out.append((typ, "revoke id", outcome(client.revoke_user_permission, username, typ, "5", username=username)))
            out.append((typ, "revoke id again", outcome(client.revoke_user_permission, username, typ, "5", username=username)))
        if typ in ("run", "mcp_server_version", "notebook"):  # `*`-only types, and an unknown one
            out.append((typ, "get id", outcome(client.get_user_permission, username, typ, "5", username=username)))
            out.append((typ, "get *", outcome(client.get_user_permission, username, typ, "*", username=username)))
    # A non-admin's revoke of an id meets MLflow's MANAGE check first.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    for typ in ("run", "experiment"):
        out.append((typ, "non-admin revoke id", outcome(client.revoke_user_permission, username, typ, "5", username=username)))
    return out


def test_resource_types_side_by_side(client, admin_credentials, mlflow_server, monkeypatch):
    mlflow_since("3.17", "the resource-type table these types come from")
    url, mlflow_admin = mlflow_server
    ours = scenario(client, monkeypatch, admin_credentials)
    theirs = scenario(AuthServiceClient(url), monkeypatch, mlflow_admin)
    differences = [(o, t) for o, t in zip(ours, theirs) if o != t]
    assert not differences, "\n".join(f"ours:   {o}\nMLflow: {t}" for o, t in differences)
