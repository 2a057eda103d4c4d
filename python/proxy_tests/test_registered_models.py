"""Registered models and their versions through the proxy.

The creator of a model manages it; its grants follow a rename and are gone after a
delete (checked with mlflow-auth's who-has-access listing); another user without a
grant reads it only when the default permission is READ, and never changes it.
"""

import pytest

from proxytest import allowed_if, denied, error_of, unique

# get_latest_versions (stages) is deprecated, but its route is still MLflow's and the proxy's.
pytestmark = pytest.mark.filterwarnings("ignore:.*get_latest_versions.*:FutureWarning")


@pytest.fixture
def model(owner):
    """A registered model of the owner's with one version made from a run's artifact.
    Returns (name, version, run_id)."""
    exp = owner.client.create_experiment(unique("model-exp"))
    run = owner.client.create_run(exp)
    owner.client.log_text(run.info.run_id, "weights", "model/weights.txt")
    name = unique("model")
    owner.client.create_registered_model(name, description="the owner's")
    mv = owner.client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)
    return name, mv.version, run.info.run_id


def test_the_owner_manages_a_model_through_rename_and_delete(owner, other, admin, upstream, model):
    name, version, run_id = model
    c = owner.client
    assert owner.who_has_access("registered_model", name) == {owner.username: "MANAGE"}

    c.set_registered_model_tag(name, "team", "owners")
    c.set_model_version_tag(name, version, "validated", "yes")
    c.set_registered_model_alias(name, "champion", version)
    assert c.get_model_version_by_alias(name, "champion").version == version
    c.update_registered_model(name, description="updated")
    c.update_model_version(name, version, description="first")
    assert c.get_registered_model(name).description == "updated"
    assert c.get_model_version(name, version).run_id == run_id
    assert c.get_model_version_download_uri(name, version).endswith("/model")
    assert [v.version for v in c.get_latest_versions(name)] == [version]
    c.delete_model_version_tag(name, version, "validated")
    c.delete_registered_model_tag(name, "team")

    # A grant given before the rename follows the model.
    res = owner.grant("registered_model", name, other.username, "READ")
    assert res.status_code == 200, res.text
    new_name = unique("renamed-model")
    c.rename_registered_model(name, new_name)
    assert owner.who_has_access("registered_model", new_name) == {
        owner.username: "MANAGE", other.username: "READ"}
    assert admin.who_has_access("registered_model", name) == {}
    assert other.client.get_registered_model(new_name).description == "updated"
    denied(other.client.update_registered_model, new_name, description="not mine")
    c.update_registered_model(new_name, description="still mine")
    assert c.get_model_version_by_alias(new_name, "champion").version == version

    c.delete_registered_model_alias(new_name, "champion")
    c.delete_model_version(new_name, version)
    c.delete_registered_model(new_name)
    assert admin.who_has_access("registered_model", new_name) == {}
    assert [m.name for m in upstream.search_registered_models(f"name = '{new_name}'")] == []


def test_another_user_without_a_grant(other, owner, upstream, model, default_permission):
    name, version, run_id = model
    readable = default_permission == "READ"
    c = other.client

    m = allowed_if(readable, c.get_registered_model, name)
    assert m is None or m.description == "the owner's"
    mv = allowed_if(readable, c.get_model_version, name, version)
    assert mv is None or mv.run_id == run_id
    allowed_if(readable, c.get_latest_versions, name)
    allowed_if(readable, c.get_model_version_download_uri, name, version)

    owner.client.set_registered_model_alias(name, "champion", version)
    owner.client.set_registered_model_tag(name, "team", "owners")
    denied(c.update_registered_model, name, description="hijacked")
    denied(c.rename_registered_model, name, unique("stolen"))
    denied(c.set_registered_model_tag, name, "team", "others")
    denied(c.delete_registered_model_tag, name, "team")
    denied(c.set_registered_model_alias, name, "champion", version)
    denied(c.delete_registered_model_alias, name, "champion")
    denied(c.create_model_version, name, f"runs:/{run_id}/model", run_id)
    denied(c.update_model_version, name, version, description="hijacked")
    denied(c.set_model_version_tag, name, version, "k", "v")
    denied(c.delete_model_version, name, version)
    denied(c.delete_registered_model, name)
    res = other.grant("registered_model", name, other.username, "MANAGE")
    assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", res.text

    up = upstream.get_registered_model(name)
    assert up.description == "the owner's" and up.tags == {"team": "owners"}
    assert up.aliases == {"champion": version}
    assert [v.version for v in upstream.search_model_versions(f"name = '{name}'")] == [version]
    assert owner.who_has_access("registered_model", name) == {owner.username: "MANAGE"}


def test_edit_lets_another_user_update_but_not_delete(owner, other, upstream, model):
    name, version, _ = model
    res = owner.http("POST", "/api/2.0/mlflow/registered-models/permissions/create",
                     json={"name": name, "username": other.username, "permission": "EDIT"})
    assert res.status_code == 200, res.text
    other.client.update_registered_model(name, description="edited")
    other.client.set_registered_model_tag(name, "editor", other.username)
    other.client.set_registered_model_alias(name, "edited", version)
    denied(other.client.delete_registered_model_alias, name, "edited")
    denied(other.client.delete_model_version, name, version)
    denied(other.client.delete_registered_model, name)
    up = upstream.get_registered_model(name)
    assert up.description == "edited" and up.aliases == {"edited": version}


def test_a_deleted_models_grants_do_not_pass_to_a_new_model_of_that_name(owner, other, admin, make_user, model):
    name, _, _ = model
    reader = make_user("reader")
    res = owner.grant("registered_model", name, reader.username, "READ")
    assert res.status_code == 200, res.text
    owner.client.delete_registered_model(name)
    assert admin.who_has_access("registered_model", name) == {}

    other.client.create_registered_model(name)
    assert other.who_has_access("registered_model", name) == {other.username: "MANAGE"}
    denied(owner.client.delete_registered_model, name)


def test_a_new_version_cannot_copy_what_its_creator_may_not_read(other, upstream, model, default_permission):
    """A version's files are served to whoever may read its model
    (/model-versions/get-artifact), so making one from another user's run, logged
    model or registered model needs READ on that source."""
    name, version, run_id = model
    source_run = upstream.get_run(run_id)
    own_model = unique("own-model")
    other.client.create_registered_model(own_model)
    own_run = other.client.create_run(other.client.create_experiment(unique("own-exp"))).info.run_id
    artifacts = f"{source_run.info.artifact_uri}/model"
    attempts = [
        {"source": artifacts, "run_id": run_id},
        {"source": artifacts, "run_id": own_run},  # MLflow < 3.13 accepts this pair
        {"source": artifacts},
        {"source": f"runs:/{run_id}/model", "run_id": own_run},
        {"source": f"models:/{name}/{version}"},
        {"source": f"models:/{name}/latest", "runId": own_run},
    ]
    for body in attempts:
        res = other.http("POST", "/api/2.0/mlflow/model-versions/create", json={"name": own_model, **body})
        if default_permission == "NO_PERMISSIONS":
            assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", (body, res.text)
        elif body == attempts[0]:
            assert res.status_code == 200, res.text  # READ on the run: the same files anyway
    if default_permission == "NO_PERMISSIONS":
        assert list(upstream.search_model_versions(f"name = '{own_model}'")) == []
        res = other.http("GET", "/model-versions/get-artifact",
                         params={"name": own_model, "version": "1", "path": "weights.txt"})
        assert res.status_code != 200 and b"weights" not in res.content, res.text
