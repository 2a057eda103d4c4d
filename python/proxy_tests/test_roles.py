"""Access through roles at the front door: MLflow 3.17.2's roles API (called over
HTTP, so every client version runs it) gives and takes access as MLflow decides."""

from proxytest import allowed_if, denied, unique


def make_role(admin, permissions, *holders):
    """A role with permissions [(resource_type, pattern, level)], held by holders."""
    role = admin.api("POST", "/api/3.0/mlflow/roles/create",
                     json={"name": unique("role"), "workspace": "default"})["role"]
    for typ, pattern, level in permissions:
        admin.api("POST", "/api/3.0/mlflow/roles/permissions/add", json={
            "role_id": role["id"], "resource_type": typ, "resource_pattern": str(pattern), "permission": level})
    for user in holders:
        admin.api("POST", "/api/3.0/mlflow/roles/assign", json={"username": user.username, "role_id": role["id"]})
    return role


def test_a_role_alone_lets_a_user_read_an_experiment(admin, owner, other, default_permission):
    exp = owner.client.create_experiment(unique("through-role"))
    run_id = owner.client.create_run(exp).info.run_id
    owner.client.log_metric(run_id, "m", 1.0)
    readable = default_permission == "READ"
    allowed_if(readable, other.client.get_experiment, exp)
    assert other.username not in owner.who_has_access("experiment", exp)

    role = make_role(admin, [("experiment", exp, "READ")], other)
    assert other.client.get_experiment(exp).experiment_id == exp
    assert [r.info.run_id for r in other.client.search_runs([exp])] == [run_id]
    assert other.client.get_metric_history(run_id, "m")[0].value == 1.0
    denied(other.client.log_metric, run_id, "by-other", 2.0)
    # Still no direct grant: the access is the role's, and "who has access" says so.
    assert other.username not in owner.who_has_access("experiment", exp)
    assert [(r["username"], r["permission"], r["role"]) for r in owner.access_rows("experiment", exp)
            if r["role"]] == [(other.username, "READ", role["name"])]


def test_a_deny_blocks_what_a_wildcard_role_opens(admin, owner, other, upstream):
    prefix = unique("deny")
    blocked = owner.client.create_experiment(prefix + "-blocked")
    opened = owner.client.create_experiment(prefix + "-opened")
    blocked_run = owner.client.create_run(blocked).info.run_id
    make_role(admin, [("experiment", "*", "EDIT"), ("experiment", blocked, "DENY")], other)

    assert other.client.get_experiment(opened).experiment_id == opened
    other.client.set_experiment_tag(opened, "by", "other")  # EDIT through "*"
    denied(other.client.get_experiment, blocked)
    assert list(other.client.search_runs([blocked])) == []  # searches leave it out
    denied(other.client.log_metric, blocked_run, "m", 1.0)
    assert upstream.get_metric_history(blocked_run, "m") == []
    seen = [e.experiment_id for e in other.client.search_experiments(filter_string=f"name LIKE '{prefix}%'")]
    assert seen == [opened]

    # A DENY beats even the owner's own MANAGE once the owner holds it too.
    make_role(admin, [("experiment", blocked, "DENY")], owner)
    denied(owner.client.get_experiment, blocked)
    assert owner.client.get_experiment(opened).experiment_id == opened
