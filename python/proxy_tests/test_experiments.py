"""Experiments, runs and their artifacts through the proxy with MlflowClient.

The owner (creator) of an experiment may do everything with it. Another user
without a grant reads it only when the proxy's default permission is READ, and never
writes to it; every refused write is checked on the upstream server to have changed
nothing. A grant (READ, then EDIT) changes what the other user may do.
"""

import os
import time

import pytest
from mlflow.entities import Metric, Param, RunTag

from proxytest import allowed_if, denied, error_of, unique


def _metric(key, value):
    return Metric(key, value, int(time.time() * 1000), 0)


@pytest.fixture
def owned(owner, tmp_path):
    """An experiment of the owner's with one run holding a param, a metric, a tag,
    a text artifact and a file artifact in a directory."""
    name = unique("exp")
    exp = owner.client.create_experiment(name)
    run_id = owner.client.create_run(exp).info.run_id
    owner.client.log_param(run_id, "alpha", "0.5")
    owner.client.log_metric(run_id, "loss", 1.5)
    owner.client.set_tag(run_id, "team", "owners")
    owner.client.log_text(run_id, "hello", "notes/hello.txt")
    local = tmp_path / "model.bin"
    local.write_bytes(b"\x00weights\xff")
    owner.client.log_artifact(run_id, str(local), artifact_path="model")

    class Owned:
        pass

    o = Owned()
    o.name, o.exp, o.run_id = name, exp, run_id
    return o


def test_the_creator_manages_the_experiment(owner, admin, owned):
    assert admin.who_has_access("experiment", owned.exp) == {owner.username: "MANAGE"}
    assert owner.who_has_access("experiment", owned.exp) == {owner.username: "MANAGE"}
    perms = owner.api("GET", "/api/3.0/mlflow/users/current/permissions")["permissions"]
    assert any(p["resource_type"] == "experiment" and p["resource_pattern"] == owned.exp
               and p["permission"] == "MANAGE" for p in perms), perms


def test_the_owner_does_everything(owner, upstream, owned, tmp_path):
    c, exp, run_id = owner.client, owned.exp, owned.run_id

    assert c.get_experiment(exp).name == owned.name
    assert c.get_experiment_by_name(owned.name).experiment_id == exp
    run = c.get_run(run_id)
    assert run.data.params == {"alpha": "0.5"}
    assert run.data.metrics == {"loss": 1.5}
    assert run.data.tags["team"] == "owners"

    c.log_batch(run_id, metrics=[_metric("acc", 0.9), _metric("acc", 0.95)],
                params=[Param("beta", "2")], tags=[RunTag("stage", "batch")])
    c.log_metric(run_id, "loss", 1.0, step=1)
    assert [m.value for m in c.get_metric_history(run_id, "loss")] == [1.5, 1.0]
    assert sorted(m.value for m in c.get_metric_history(run_id, "acc")) == [0.9, 0.95]

    assert sorted(f.path for f in c.list_artifacts(run_id)) == ["model", "notes"]
    assert [f.path for f in c.list_artifacts(run_id, "notes")] == ["notes/hello.txt"]
    dst = tmp_path / "download"
    dst.mkdir()
    got = c.download_artifacts(run_id, "", str(dst))
    assert open(os.path.join(got, "notes", "hello.txt")).read() == "hello"
    assert open(os.path.join(got, "model", "model.bin"), "rb").read() == b"\x00weights\xff"

    c.set_experiment_tag(exp, "purpose", "testing")
    c.update_run(run_id, status="FINISHED", name="renamed-run")
    c.delete_tag(run_id, "team")
    second = c.create_run(exp).info.run_id
    c.delete_run(second)
    assert upstream.get_run(second).info.lifecycle_stage == "deleted"
    c.restore_run(second)
    assert upstream.get_run(second).info.lifecycle_stage == "active"
    assert {r.info.run_id for r in c.search_runs([exp])} == {run_id, second}

    new_name = unique("renamed")
    c.rename_experiment(exp, new_name)
    c.delete_experiment(exp)
    assert upstream.get_experiment(exp).lifecycle_stage == "deleted"
    c.restore_experiment(exp)

    up = upstream.get_run(run_id)
    assert up.info.status == "FINISHED" and up.info.run_name == "renamed-run"
    assert up.data.params == {"alpha": "0.5", "beta": "2"}
    assert up.data.metrics == {"loss": 1.0, "acc": 0.95}
    assert "team" not in up.data.tags and up.data.tags["stage"] == "batch"
    e = upstream.get_experiment(exp)
    assert e.name == new_name and e.lifecycle_stage == "active" and e.tags["purpose"] == "testing"


def test_another_user_reads_per_the_default_permission(other, owned, default_permission, tmp_path):
    readable = default_permission == "READ"
    c, exp, run_id = other.client, owned.exp, owned.run_id

    e = allowed_if(readable, c.get_experiment, exp)
    assert e is None or e.name == owned.name
    e = allowed_if(readable, c.get_experiment_by_name, owned.name)
    assert e is None or e.experiment_id == exp
    run = allowed_if(readable, c.get_run, run_id)
    assert run is None or run.data.metrics == {"loss": 1.5}
    history = allowed_if(readable, c.get_metric_history, run_id, "loss")
    assert history is None or [m.value for m in history] == [1.5]
    files = allowed_if(readable, c.list_artifacts, run_id)
    assert files is None or sorted(f.path for f in files) == ["model", "notes"]
    dst = tmp_path / "download"
    dst.mkdir()
    got = allowed_if(readable, c.download_artifacts, run_id, "notes/hello.txt", str(dst))
    assert got is None or open(got).read() == "hello"

    # The same reads with the REST calls the UI makes.
    for path, params in [
        ("/ajax-api/2.0/mlflow/experiments/get", {"experiment_id": exp}),
        ("/ajax-api/2.0/mlflow/runs/get", {"run_id": run_id}),
        ("/api/2.0/mlflow/artifacts/list", {"run_id": run_id}),
        ("/ajax-api/2.0/mlflow/metrics/get-history-bulk", {"run_id": run_id, "metric_key": "loss"}),
        ("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
         {"run_ids": run_id, "metric_key": "loss"}),
        ("/get-artifact", {"run_uuid": run_id, "path": "notes/hello.txt"}),
        ("/api/2.0/mlflow-artifacts/artifacts", {"path": f"{exp}/{run_id}/artifacts/notes"}),
        (f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/notes/hello.txt", {}),
    ]:
        res = other.http("GET", path, params=params)
        if readable:
            assert res.status_code == 200, (path, res.status_code, res.text)
        else:
            assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", (path, res.text)
    # A presigned download URL reads the artifact too (this upstream has no presigning:
    # MLflow itself answers NOT_IMPLEMENTED when the proxy lets the request through).
    res = other.http("GET", f"/api/2.0/mlflow-artifacts/presigned/{exp}/{run_id}/artifacts/notes/hello.txt")
    assert error_of(res) == ("NOT_IMPLEMENTED" if readable else "PERMISSION_DENIED"), res.text


def test_a_missing_experiment_name_is_not_found(other):
    assert other.client.get_experiment_by_name(unique("no-such-experiment")) is None


def _snapshot(upstream, exp, run_id):
    run = upstream.get_run(run_id)
    e = upstream.get_experiment(exp)
    return {
        "experiment": (e.name, e.lifecycle_stage, dict(e.tags)),
        "run": (run.info.status, run.info.run_name, run.info.lifecycle_stage),
        "data": (run.data.params, run.data.metrics, run.data.tags),
        "runs": sorted(r.info.run_id for r in upstream.search_runs([exp], run_view_type=3)),
        "artifacts": sorted(f.path for f in upstream.list_artifacts(run_id)),
        "notes": sorted(f.path for f in upstream.list_artifacts(run_id, "notes")),
    }


def test_another_user_cannot_write(other, owner, upstream, owned, tmp_path):
    c, exp, run_id = other.client, owned.exp, owned.run_id
    before = _snapshot(upstream, exp, run_id)
    local = tmp_path / "intruder.txt"
    local.write_text("intruder")

    denied(c.create_run, exp)
    denied(c.log_metric, run_id, "loss", 99.0)
    denied(c.log_param, run_id, "gamma", "1")
    denied(c.set_tag, run_id, "team", "others")
    denied(c.delete_tag, run_id, "team")
    denied(c.log_batch, run_id, metrics=[_metric("loss", 98.0)], params=[Param("x", "y")])
    denied(c.update_run, run_id, status="FAILED")
    denied(c.delete_run, run_id)
    denied(c.restore_run, run_id)
    denied(c.log_text, run_id, "overwritten", "notes/hello.txt")
    denied(c.log_artifact, run_id, str(local))
    denied(c.log_artifact, run_id, str(local), artifact_path="notes")
    denied(c.rename_experiment, exp, unique("stolen"))
    denied(c.set_experiment_tag, exp, "purpose", "stolen")
    denied(c.delete_experiment, exp)
    denied(c.restore_experiment, exp)

    # mlflow-artifacts directly: upload, delete; and the permission API.
    res = other.http("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/x.txt", data=b"x")
    assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", res.text
    res = other.http("DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/notes")
    assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", res.text
    res = other.create_experiment_permission(exp, other.username, "MANAGE")
    assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", res.text
    res = other.grant("experiment", exp, other.username, "EDIT")
    assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", res.text

    assert _snapshot(upstream, exp, run_id) == before
    assert owner.who_has_access("experiment", exp) == {owner.username: "MANAGE"}


def test_grants_read_then_edit(owner, other, upstream, owned, tmp_path):
    c, exp, run_id = other.client, owned.exp, owned.run_id

    res = owner.create_experiment_permission(exp, other.username, "READ")
    assert res.status_code == 200, res.text
    assert c.get_experiment(exp).name == owned.name
    assert c.get_run(run_id).data.params == {"alpha": "0.5"}
    assert [m.value for m in c.get_metric_history(run_id, "loss")] == [1.5]
    assert sorted(f.path for f in c.list_artifacts(run_id)) == ["model", "notes"]
    got = c.download_artifacts(run_id, "notes/hello.txt", str(tmp_path))
    assert open(got).read() == "hello"
    denied(c.log_metric, run_id, "loss", 2.0)
    denied(c.create_run, exp)
    denied(c.log_text, run_id, "x", "x.txt")

    res = owner.http("PATCH", "/api/2.0/mlflow/experiments/permissions/update",
                     json={"experiment_id": exp, "username": other.username, "permission": "EDIT"})
    assert res.status_code == 200, res.text
    assert owner.who_has_access("experiment", exp) == {owner.username: "MANAGE", other.username: "EDIT"}
    c.log_metric(run_id, "loss", 2.0, step=1)
    c.set_tag(run_id, "editor", other.username)
    c.log_text(run_id, "from the editor", "editor.txt")
    new_run = c.create_run(exp).info.run_id
    c.log_param(new_run, "by", "editor")
    c.update_run(new_run, status="FINISHED")
    # EDIT is not MANAGE: no deleting, no granting.
    denied(c.delete_run, run_id)
    denied(c.delete_experiment, exp)
    res = other.grant("experiment", exp, other.username, "MANAGE")
    assert res.status_code == 403, res.text

    up = upstream.get_run(run_id)
    assert up.data.metrics["loss"] == 2.0 and up.data.tags["editor"] == other.username
    assert "editor.txt" in [f.path for f in upstream.list_artifacts(run_id)]
    assert upstream.get_run(new_run).data.params == {"by": "editor"}
    assert upstream.get_run(run_id).info.lifecycle_stage == "active"
    assert upstream.get_experiment(exp).lifecycle_stage == "active"


def test_an_explicit_lower_grant_wins_over_the_default(owner, other, owned, tmp_path):
    """NO_PERMISSIONS granted to a user shuts them out even when the default is READ,
    however the request spells the experiment."""
    exp, run_id = owned.exp, owned.run_id
    res = owner.create_experiment_permission(exp, other.username, "NO_PERMISSIONS")
    assert res.status_code == 200, res.text

    denied(other.client.get_experiment, exp)
    denied(other.client.get_run, run_id)
    denied(other.client.list_artifacts, run_id)
    denied(other.client.download_artifacts, run_id, "notes/hello.txt", str(tmp_path))
    artifact = f"{run_id}/artifacts/notes/hello.txt"
    for path in [
        f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{artifact}",
        f"/api/2.0/mlflow-artifacts/artifacts/%25{ord(exp[0]):02X}{exp[1:]}/{artifact}",
        f"/api/2.0/mlflow-artifacts/artifacts/%2525{ord(exp[0]):02X}{exp[1:]}/{artifact}",
        f"/api/2.0/mlflow-artifacts/artifacts/%252E/{exp}/{artifact}",
        f"/api/2.0/mlflow-artifacts/artifacts/%2520{exp}/{artifact}",
    ]:
        res = other.http("GET", path)
        assert res.status_code in (400, 403), (path, res.status_code, res.text)
    for listing in [exp, f"./{exp}", f" {exp}", f"%25{ord(exp[0]):02X}{exp[1:]}", f"{exp}/{run_id}/artifacts"]:
        res = other.http("GET", "/api/2.0/mlflow-artifacts/artifacts", params={"path": listing})
        assert res.status_code in (400, 403), (listing, res.status_code, res.text)
    for spelled in ["0" + exp, "+" + exp, " " + exp]:
        res = other.http("GET", "/api/2.0/mlflow/experiments/get", params={"experiment_id": spelled})
        assert res.status_code in (400, 403), (spelled, res.status_code, res.text)


def test_a_body_cannot_name_one_run_to_the_proxy_and_another_to_mlflow(owner, other, upstream, owned):
    """MLflow reads runId as run_id, ignores the query of a POST, and reads a PATCH or
    DELETE body whatever its Content-Type: the proxy must check the run MLflow acts on."""
    mine = other.client.create_run(other.client.create_experiment(unique("mine"))).info.run_id
    victim = owned.run_id
    before = upstream.get_run(victim).data
    metric = {"key": "hijacked", "value": 1, "timestamp": 1, "step": 0}
    for kwargs in [
        {"json": {"run_uuid": mine, "runId": victim, **metric}},
        {"json": {"run_id": mine, "runId": victim, **metric}},
        {"json": {"run_uuid": victim, **metric}, "params": {"run_id": mine}},
        {"json": {"runUuid": victim, "run_uuid": mine, **metric}},
    ]:
        res = other.http("POST", "/api/2.0/mlflow/runs/log-metric", **kwargs)
        assert res.status_code in (400, 403), (kwargs, res.status_code, res.text)
    assert upstream.get_run(victim).data.metrics == before.metrics

    # A registered model named in the query but another in a text/plain body.
    model = unique("victim-model")
    owner.client.create_registered_model(model)
    own_model = unique("own-model")
    other.client.create_registered_model(own_model)
    res = other.http("PATCH", "/api/2.0/mlflow/registered-models/update", params={"name": own_model},
                     data=f'{{"name": "{model}", "description": "hijacked"}}',
                     headers={"Content-Type": "text/plain"})
    assert res.status_code == 403, res.text
    res = other.http("DELETE", "/api/2.0/mlflow/registered-models/delete", params={"name": own_model},
                     data=f'{{"name": "{model}"}}', headers={"Content-Type": "text/plain"})
    assert res.status_code == 403, res.text
    m = upstream.get_registered_model(model)
    assert m.description in (None, "")
    assert owner.who_has_access("registered_model", model) == {owner.username: "MANAGE"}


def test_a_purged_experiments_grants_do_not_pass_to_the_next_of_its_id(
        owner, other, admin, upstream_url, upstream_backend_uri):
    """MLflow on SQLite gives a new experiment the id of one `mlflow gc` purged; the
    grants on the old one (its creator's, and one given to another user) stay with
    it, and the new experiment's creator is its only grantee."""
    import subprocess
    import sys

    exp = owner.client.create_experiment(unique("purged"))
    assert owner.grant("experiment", exp, other.username, "MANAGE").status_code == 200
    owner.client.delete_experiment(exp)
    gc = subprocess.run(
        [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", upstream_backend_uri,
         "--experiment-ids", exp],
        env={**os.environ, "MLFLOW_TRACKING_URI": upstream_url}, capture_output=True, text=True,
        timeout=120)
    assert gc.returncode == 0, gc.stderr
    new = admin.client.create_experiment(unique("reused"))
    assert new == exp, "MLflow did not reuse the purged experiment's id"
    assert admin.who_has_access("experiment", new) == {admin.username: "MANAGE"}
    denied(owner.client.delete_experiment, new)
    denied(other.client.create_run, new)
    denied(other.client.set_experiment_tag, new, "taken", "yes")


def test_artifacts_outside_experiment_directories_are_for_admins(admin, other):
    """An experiment whose artifact root an admin chose (mlflow-artifacts:/team-x)
    keeps its artifacts under a path that names no experiment: the proxy cannot tell
    whose they are, so only admins reach them, whatever the default permission."""
    root = unique("team-x")
    exp = admin.client.create_experiment(unique("team"), artifact_location=f"mlflow-artifacts:/{root}")
    run_id = admin.client.create_run(exp).info.run_id
    admin.client.log_text(run_id, "team notes", "notes/n.txt")
    path = f"/api/2.0/mlflow-artifacts/artifacts/{root}/{run_id}/artifacts/notes/n.txt"
    res = admin.http("GET", path)
    assert res.status_code == 200 and res.text == "team notes", res.text
    res = admin.create_experiment_permission(exp, other.username, "NO_PERMISSIONS")
    assert res.status_code == 200, res.text
    for p in [path, f"/api/2.0/mlflow-artifacts/artifacts?path={root}/{run_id}/artifacts"]:
        res = other.http("GET", p)
        assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", (p, res.text)


def test_a_grant_on_another_spelling_of_the_id_is_the_grant_on_the_experiment(owner, other, upstream, owned):
    """MLflow reads "01" and "+1" as experiment 1 (3.18 stores grants so): a grant
    written on such a spelling lets the user at the experiment as MLflow names it."""
    c, exp, run_id = other.client, owned.exp, owned.run_id
    denied(c.set_tag, run_id, "by", "other")
    res = owner.create_experiment_permission("0" + exp, other.username, "EDIT")
    assert res.status_code == 200, res.text
    assert res.json()["experiment_permission"]["experiment_id"] == exp
    assert owner.who_has_access("experiment", "+" + exp)[other.username] == "EDIT"
    c.set_tag(run_id, "by", "other")
    assert upstream.get_run(run_id).data.tags["by"] == "other"
