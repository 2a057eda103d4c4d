"""Logged models (MLflow 3) through the proxy: they take their experiment's
permission. The owner may do everything; another user reads them only when the
default permission is READ and never changes them."""

import mlflow
import pytest
import requests

from proxytest import TIMEOUT, allowed_if, denied, error_of, unique

if not hasattr(mlflow.MlflowClient, "create_logged_model"):
    pytest.skip(f"mlflow {mlflow.__version__} has no logged models", allow_module_level=True)


@pytest.fixture
def logged(owner, tmp_path):
    """An experiment of the owner's with a logged model that has a tag, a param and
    an artifact. Returns (experiment_id, model_id)."""
    exp = owner.client.create_experiment(unique("logged"))
    m = owner.client.create_logged_model(exp, name=unique("agent"), tags={"team": "owners"},
                                         params={"temperature": "0.1"})
    local = tmp_path / "prompt.txt"
    local.write_text("be nice")
    owner.client.log_model_artifact(m.model_id, str(local))
    return exp, m.model_id


def test_the_owner_does_everything(owner, upstream, logged):
    exp, model_id = logged
    c = owner.client
    m = c.get_logged_model(model_id)
    assert m.experiment_id == exp and m.tags["team"] == "owners" and m.params == {"temperature": "0.1"}
    c.set_logged_model_tags(model_id, {"stage": "dev"})
    c.log_model_params(model_id, {"top_p": "0.9"})
    assert [f.path for f in c.list_logged_model_artifacts(model_id)] == ["prompt.txt"]
    c.finalize_logged_model(model_id, "READY")
    assert [x.model_id for x in c.search_logged_models([exp])] == [model_id]
    c.delete_logged_model_tag(model_id, "team")

    up = upstream.get_logged_model(model_id)
    assert up.tags.get("stage") == "dev" and "team" not in up.tags
    assert up.params == {"temperature": "0.1", "top_p": "0.9"}
    assert str(up.status).endswith("READY")

    c.delete_logged_model(model_id)
    assert [x.model_id for x in upstream.search_logged_models([exp])] == []


def test_another_user(other, owner, upstream, upstream_url, logged, default_permission, tmp_path):
    exp, model_id = logged
    readable = default_permission == "READ"
    c = other.client

    m = allowed_if(readable, c.get_logged_model, model_id)
    assert m is None or m.experiment_id == exp
    files = allowed_if(readable, c.list_logged_model_artifacts, model_id)
    assert files is None or [f.path for f in files] == ["prompt.txt"]
    res = other.http("GET", f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
                     params={"artifact_file_path": "prompt.txt"})
    assert res.status_code == (200 if readable else 403), res.text
    if readable:
        assert res.content == b"be nice"
    # A search leaves out what the user may not read, as MLflow does, instead of failing.
    assert [x.model_id for x in c.search_logged_models([exp])] == ([model_id] if readable else [])

    local = tmp_path / "x.txt"
    local.write_text("intruder")
    denied(c.create_logged_model, exp, name=unique("intruder"))
    denied(c.set_logged_model_tags, model_id, {"team": "others"})
    denied(c.log_model_params, model_id, {"evil": "1"})
    denied(c.finalize_logged_model, model_id, "FAILED")
    denied(c.delete_logged_model_tag, model_id, "team")
    denied(c.delete_logged_model, model_id)
    denied(c.log_model_artifact, model_id, str(local))

    up = upstream.get_logged_model(model_id)
    assert up.tags.get("team") == "owners" and up.params == {"temperature": "0.1"}
    assert not str(up.status).endswith(("READY", "FAILED"))
    assert [x.model_id for x in upstream.search_logged_models([exp])] == [model_id]
    # (The client lists a logged model's artifacts at the global tracking URI, the proxy.)
    res = requests.get(f"{upstream_url}/api/2.0/mlflow-artifacts/artifacts",
                       params={"path": f"{exp}/models/{model_id}/artifacts"}, timeout=TIMEOUT)
    assert [f["path"] for f in res.json()["files"]] == ["prompt.txt"], res.text


def test_own_and_readable_models_are_searched_together(owner, other, default_permission):
    readable = default_permission == "READ"
    owner_exp = owner.client.create_experiment(unique("lm-owner"))
    owner_model = owner.client.create_logged_model(owner_exp).model_id
    other_exp = other.client.create_experiment(unique("lm-other"))
    other_model = other.client.create_logged_model(other_exp).model_id

    assert [m.model_id for m in other.client.search_logged_models([other_exp])] == [other_model]
    got = other.client.search_logged_models([owner_exp, other_exp])
    assert sorted(m.model_id for m in got) == sorted([other_model] + ([owner_model] if readable else []))
    # Paged by ones.
    models, token = [], None
    while True:
        page = other.client.search_logged_models([owner_exp, other_exp], max_results=1, page_token=token)
        assert len(page) <= 1
        models += [m.model_id for m in page]
        token = page.token
        if not token:
            break
    assert sorted(models) == sorted([other_model] + ([owner_model] if readable else []))


def test_a_version_source_names_what_mlflow_reads(owner, other, upstream):
    """MLflow reads models:/<id>?x=/1 as the logged model <id> (a URI's query is not
    its path), so the proxy checks that logged model, not a registered model of the
    name "<id>?x=", which the default READ would let through past an explicit
    NO_PERMISSIONS on the logged model's experiment."""
    exp = owner.client.create_experiment(unique("lm-closed"))
    model_id = owner.client.create_logged_model(exp).model_id
    res = owner.create_experiment_permission(exp, other.username, "NO_PERMISSIONS")
    assert res.status_code == 200, res.text
    own = unique("own-model")
    other.client.create_registered_model(own)
    res = other.http("POST", "/api/2.0/mlflow/model-versions/create",
                     json={"name": own, "source": f"models:/{model_id}?x=/1"})
    assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", res.text
    assert list(upstream.search_model_versions(f"name = '{own}'")) == []
