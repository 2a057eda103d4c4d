"""A user's direct grants and roles as MLflow 3.17.2's web UI reads them.

MLflow keeps direct grants as the permissions of a hidden role ``__user_<id>__``;
its UI reads them from ``users/roles/list``, ``users/current/permissions`` and
``users/list``. ``test_user_roles_side_by_side`` makes the same grants and roles on
MLflow's own basic-auth server and on mlflow-auth and compares the raw JSON of
those three calls, ids replaced by what they name.
"""

import re

import requests

from conftest import PASSWORD, unique, unique_experiment_id, mlflow_since

SYNTHETIC = re.compile(r"^__user_(\d+)__$")


class Server:
    def __init__(self, url, admin):
        self.url, self.admin = url, admin

    def call(self, method, path, auth=None, **kwargs):
        r = requests.request(method, self.url + path, auth=auth or self.admin, timeout=30, **kwargs)
        return r.status_code, r.json()


def setup(server):
    """A user with one direct grant and one role, a user with the role only, and
    a user with nothing. The role names one experiment of its own, so that other
    tests on the same server do not see it."""
    names = {}
    for who in ("direct", "role-only", "nobody"):
        name = unique(who)
        status, body = server.call("POST", "/api/2.0/mlflow/users/create", json={"username": name, "password": PASSWORD})
        assert status == 200, body
        names[who] = (name, body["user"]["id"])
    model, experiment = unique("model"), unique_experiment_id()
    status, body = server.call("POST", "/api/3.0/mlflow/users/permissions/grant", json={
        "username": names["direct"][0], "resource_type": "registered_model",
        "resource_id": model, "permission": "EDIT"})
    assert status == 200, body
    status, body = server.call("POST", "/api/3.0/mlflow/roles/create", json={"workspace": "default", "name": unique("team")})
    assert status == 200, body
    role_id = body["role"]["id"]
    status, body = server.call("POST", "/api/3.0/mlflow/roles/permissions/add", json={
        "role_id": role_id, "resource_type": "experiment", "resource_pattern": experiment, "permission": "READ"})
    assert status == 200, body
    for who in ("direct", "role-only"):
        status, body = server.call("POST", "/api/3.0/mlflow/roles/assign", json={"username": names[who][0], "role_id": role_id})
        assert status == 200, body
    return names, model, experiment


def normalized(value, names, model, experiment):
    """JSON with ids replaced by what they name: a user by who it is, a role by
    its name (a synthetic role by whose it is), unique names by their prefix;
    role permission ids are dropped."""
    users = {uid: who for who, (_, uid) in names.items()}
    usernames = {name: who for who, (name, _) in names.items()}

    def role_label(name):
        m = SYNTHETIC.match(name)
        return f"__user_<{users.get(int(m.group(1)), 'someone')}>__" if m else name.split("-")[0]

    roles = {}

    def learn(v):
        if isinstance(v, list):
            for x in v:
                learn(x)
        elif isinstance(v, dict):
            if "permissions" in v and "name" in v:
                roles[v["id"]] = role_label(v["name"])
            if "role_name" in v:
                roles[v["role_id"]] = role_label(v["role_name"])
            for x in v.values():
                learn(x)

    def relabel(v, key=None):
        if isinstance(v, list):
            return [relabel(x, key) for x in v]
        if isinstance(v, dict):
            if key == "permissions" and "id" in v:
                v = {**v, "id": "perm"}
            if "username" in v:
                v = {**v, "id": users.get(v["id"], "someone")}
            return {k: relabel(x, k) for k, x in v.items()}
        if key == "id":
            return roles.get(v, v)
        if key == "role_id":
            return roles.get(v, v)
        if key in ("name", "role_name"):
            return role_label(v)
        if key == "username":
            return usernames.get(v, "someone")
        if key == "resource_pattern":
            return {model: "the-model", experiment: "the-experiment"}.get(v, v)
        return v

    learn(value)
    return relabel(value)


def views(server, names, model, experiment):
    """What the UI reads, as each user and as the admin."""
    out = {}
    for who, (name, _) in names.items():
        auth = (name, PASSWORD)
        for as_who, a in (("self", auth), ("admin", None)):
            out[(who, as_who, "users/roles/list")] = server.call(
                "GET", "/api/3.0/mlflow/users/roles/list", auth=a, params={"username": name})
            out[(who, as_who, "ajax users/roles/list")] = server.call(
                "GET", "/ajax-api/3.0/mlflow/users/roles/list", auth=a, params={"username": name})
            out[(who, as_who, "users/permissions/list")] = server.call(
                "GET", "/api/3.0/mlflow/users/permissions/list", auth=a, params={"username": name})
        out[(who, "self", "users/current/permissions")] = server.call(
            "GET", "/api/3.0/mlflow/users/current/permissions", auth=auth)
    status, body = server.call("GET", "/api/2.0/mlflow/users/list")
    ours = {n for n, _ in names.values()}
    listed = [{k: u[k] for k in ("id", "username", "is_admin", "roles")} for u in body.get("users", []) if u["username"] in ours]
    out[("all", "admin", "users/list")] = (status, sorted(listed, key=lambda u: u["id"]))
    return {k: (s, normalized(b, names, model, experiment)) for k, (s, b) in out.items()}


def test_direct_grant_is_the_synthetic_role(server_url, admin_credentials):
    server = Server(server_url, admin_credentials)
    got = views(server, *setup(server))
    status, body = got[("direct", "self", "users/roles/list")]
    assert status == 200
    assert body["roles"] == [
        {"id": "__user_<direct>__", "name": "__user_<direct>__", "workspace": "default", "description": None,
         "permissions": [{"id": "perm", "role_id": "__user_<direct>__", "resource_type": "registered_model",
                          "resource_pattern": "the-model", "permission": "EDIT"}]},
        {"id": "team", "name": "team", "workspace": "default", "description": None,
         "permissions": [{"id": "perm", "role_id": "team", "resource_type": "experiment",
                          "resource_pattern": "the-experiment", "permission": "READ"}]},
    ]
    assert got[("direct", "self", "users/current/permissions")] == (200, {"is_admin": False, "permissions": [
        {"role_id": "__user_<direct>__", "role_name": "__user_<direct>__", "workspace": "default",
         "resource_type": "registered_model", "resource_pattern": "the-model", "permission": "EDIT"},
        {"role_id": "team", "role_name": "team", "workspace": "default",
         "resource_type": "experiment", "resource_pattern": "the-experiment", "permission": "READ"},
    ]})
    assert [r["name"] for r in got[("nobody", "self", "users/roles/list")][1]["roles"]] == []



def test_user_roles_side_by_side(server_url, admin_credentials, mlflow_server):
    mlflow_since("3.13", "the synthetic __user_<id>__ role")
    ours, theirs = Server(server_url, admin_credentials), Server(*mlflow_server)
    got = views(ours, *setup(ours))
    want = views(theirs, *setup(theirs))
    assert got.keys() == want.keys()
    differences = [(k, got[k], want[k]) for k in got if got[k] != want[k]]
    assert not differences, "\n".join(f"{k}\nours:   {g}\nMLflow: {w}" for k, g, w in differences)
