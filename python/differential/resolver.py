"""The resolver, side by side with MLflow's own.

Each case is a user's direct grants, roles (their permissions: patterns "*" or
one id, DENY included), admin flag and the server's default permission, and a
resource. MLflow's answer comes from its own code: its SqlAlchemyStore on a
temporary SQLite database and ``_resolve_user_permission_for_resource``, the
resolver its runtime checks and ``get_user_permission`` share. mlflow-auth's
answer comes from ``Check`` on a running server, set up through MLflow's own
``AuthServiceClient``. Any difference fails.

Run by TestMLflowResolver (cmd/mlflow-auth) with an MLflow 3.17+ interpreter:
MLFLOW_AUTH_TEST_SERVERS is "DEFAULT=URL ..." (one server per default
permission); MLFLOW_AUTH_TEST_ADMIN_USERNAME/PASSWORD name their admin;
MLFLOW_AUTH_TEST_CASES is the JSON file of cases.
"""

import json
import os
import sys
import tempfile

import requests

PASSWORD = "correct-horse-battery"

# The cases, shared with TestMLflowResolver: MLFLOW_AUTH_TEST_CASES names the
# JSON file. A scenario's direct grants are [type, id, level]; its roles are
# lists of [type, pattern, level].
with open(os.environ["MLFLOW_AUTH_TEST_CASES"]) as f:
    CASES = json.load(f)
SCENARIOS = [(s["direct"], s["roles"], s["admin"]) for s in CASES["scenarios"]]
RESOURCES = [tuple(r) for r in CASES["resources"]]

def mlflow_answers(default):
    """MLflow 3.17.2's effective permission for every scenario and resource."""
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # never used: workspaces are off
    d = tempfile.mkdtemp()
    os.environ["MLFLOW_TRACKING_URI"] = "file://" + d + "/mlruns"
    import mlflow.server.auth as auth
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore, SqlRolePermission

    store = SqlAlchemyStore()
    store.init_db("sqlite:///" + d + "/auth.db")
    auth.store = store
    auth.auth_config = auth.auth_config._replace(default_permission=default)
    answers = {}
    for i, (direct, roles, admin) in enumerate(SCENARIOS):
        user = store.create_user(f"u{i}", PASSWORD, admin)
        for typ, rid, level in direct:
            if level == "NO_PERMISSIONS":
                # MLflow 3.17 refuses to write it but still reads one (its resolver
                # exempts it from the default's floor): the row a classic grant is.
                with store.ManagedSessionMaker(read_only=False) as s:
                    role = store._get_or_create_synthetic_user_role(s, user.id, "default")
                    s.add(SqlRolePermission(role_id=role.id, resource_type=typ, resource_pattern=rid, permission=level))
            elif typ == "experiment":
                store.create_experiment_permission(rid, user.username, level)
            else:
                store.create_registered_model_permission(rid, user.username, level)
        for j, perms in enumerate(roles):
            role = store.create_role(f"s{i}r{j}", "default")
            for typ, pattern, level in perms:
                store.add_role_permission(role.id, typ, pattern, level)
            store.assign_role_to_user(user.id, role.id)
        for typ, rid in RESOURCES:
            # Admins bypass every check in MLflow's before_request.
            p = "MANAGE" if admin else auth._resolve_user_permission_for_resource(user.username, typ, rid).name
            answers[(i, typ, rid)] = p
    return answers


def ours(url, admin):
    """mlflow-auth's answers, the users and roles written through MLflow's own client."""
    from mlflow.server.auth.client import AuthServiceClient

    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = admin
    client = AuthServiceClient(url)
    answers = {}
    for i, (direct, roles, is_admin) in enumerate(SCENARIOS):
        name = f"u{i}"
        client.create_user(name, PASSWORD)
        if is_admin:
            client.update_user_admin(name, True)
        for typ, rid, level in direct:
            # The classic calls: 3.17's client has none, and its grant_user_permission
            # takes no NO_PERMISSIONS.
            path, key = ("experiments", "experiment_id") if typ == "experiment" else ("registered-models", "name")
            r = requests.post(f"{url}/api/2.0/mlflow/{path}/permissions/create", auth=admin, timeout=30,
                              json={key: rid, "username": name, "permission": level})
            r.raise_for_status()
        for j, perms in enumerate(roles):
            role = client.create_role("default", f"s{i}r{j}")
            for typ, pattern, level in perms:
                client.add_role_permission(role.id, typ, pattern, level)
            client.assign_role(name, role.id)
        for typ, rid in RESOURCES:
            r = requests.get(url + "/api/3.0/mlflow/permissions/check", auth=admin, timeout=30,
                             params={"username": name, "capability": "read", "resource_type": typ, "resource_id": rid})
            r.raise_for_status()
            answers[(i, typ, rid)] = r.json()["permission"]
    return answers


def main():
    admin = (os.environ["MLFLOW_AUTH_TEST_ADMIN_USERNAME"], os.environ["MLFLOW_AUTH_TEST_ADMIN_PASSWORD"])
    servers = dict(s.split("=", 1) for s in os.environ["MLFLOW_AUTH_TEST_SERVERS"].split())
    cases, diffs = 0, []
    for default, url in servers.items():
        theirs, mine = mlflow_answers(default), ours(url, admin)
        for key, want in theirs.items():
            cases += 1
            if mine[key] != want:
                i, typ, rid = key
                diffs.append(f"default {default}, {SCENARIOS[i]}, {typ} {rid}: MLflow {want}, mlflow-auth {mine[key]}")
    print(f"{cases} cases, {len(diffs)} differences")
    for d in diffs:
        print(d)
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
