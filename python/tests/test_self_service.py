"""Changing passwords, side by side with MLflow 3.17.2's own basic-auth server.

The same requests, in the same order, get the same status and error JSON from
both: your own password changes only with ``current_password`` (admins' too),
which must match and differ from the new one; an admin resets another user's
password without it.
"""


import requests

from conftest import PASSWORD, unique, mlflow_since

UPDATE = "/api/2.0/mlflow/users/update-password"


def scenario(url, admin):
    """Outcomes, as (step, status, body), of password changes on one server."""
    def call(step, auth, body, method="PATCH", path=UPDATE):
        r = requests.request(method, url + path, auth=auth, json=body, timeout=30)
        try:
            answer = r.json()
        except ValueError:  # MLflow answers 401 in plain text
            answer = {}
        out.append((step, r.status_code, answer))

    out = []
    user = unique("pw")
    call("create", admin, {"username": user, "password": PASSWORD}, "POST", "/api/2.0/mlflow/users/create")
    out[-1] = out[-1][:2] + ({},)  # ids differ
    me = (user, PASSWORD)
    call("own, without current", me, {"username": user, "password": "a-new-password-1"})
    call("own, empty current", me, {"username": user, "password": "a-new-password-1", "current_password": ""})
    call("own, wrong current", me, {"username": user, "password": "a-new-password-1", "current_password": "not-it-at-all"})
    call("own, the same again", me, {"username": user, "password": PASSWORD, "current_password": PASSWORD})
    call("own, rightly", me, {"username": user, "password": "a-new-password-1", "current_password": PASSWORD})
    me = (user, "a-new-password-1")
    call("the old one is gone", (user, PASSWORD), {"username": user, "password": "a-new-password-2", "current_password": PASSWORD})
    call("another's", me, {"username": admin[0], "password": "a-new-password-2"})
    call("admin's own, without current", admin, {"username": admin[0], "password": "a-new-password-2"})
    call("admin resets the user's", admin, {"username": user, "password": "set-by-the-admin", "current_password": "ignored"})
    call("the user after the reset", (user, "set-by-the-admin"),
         {"username": user, "password": "a-new-password-3", "current_password": "set-by-the-admin"})
    return out


def shape(outcomes):
    """Status and error code of each step (MLflow answers 401 and 403 in plain text)."""
    return [(step, status, None if status in (401, 403) else body.get("error_code")) for step, status, body in outcomes]



def test_password_changes_side_by_side(server_url, admin_credentials, mlflow_server):
    mlflow_since("3.17", "the current_password rule")
    ours = scenario(server_url, admin_credentials)
    theirs = scenario(*mlflow_server)
    assert shape(ours) == shape(theirs)
    # The 400s are MLflow's own words.
    for (step, status, body), (_, _, want) in zip(ours, theirs):
        if status == 400:
            assert body == {k: want[k] for k in ("error_code", "message")}, step
