"""The everyday flow of MLflow's fluent API through the proxy: log a pyfunc model in
a run, register it, and load it back by its models:/ URI, as the owner and as another
user. A registered model's files live in its experiment's artifacts, so another user
needs READ on both the model and the experiment to load it."""

import mlflow
import pytest

from proxytest import denied, unique


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: list[list[int]], params=None) -> list[int]:
        return [2 * row[0] for row in model_input]


def _login(monkeypatch, user):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user.username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", user.password)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_log_register_and_load_a_model(monkeypatch, owner, other, default_permission):
    exp = owner.client.create_experiment(unique("flow"))
    name = unique("flow-model")

    _login(monkeypatch, owner)
    with mlflow.start_run(experiment_id=exp):
        info = mlflow.pyfunc.log_model(name="model", python_model=Doubler(), registered_model_name=name)
    assert owner.who_has_access("registered_model", name) == {owner.username: "MANAGE"}
    assert mlflow.pyfunc.load_model(f"models:/{name}/1").predict([[1], [2]]) == [2, 4]

    _login(monkeypatch, other)
    for uri in (f"models:/{name}/1", info.model_uri):
        if default_permission == "READ":
            assert mlflow.pyfunc.load_model(uri).predict([[3]]) == [6]
        else:
            denied(mlflow.pyfunc.load_model, uri)
    if default_permission == "READ":
        return

    # READ on the model alone shows the version, but its files are the experiment's.
    assert owner.grant("registered_model", name, other.username, "READ").status_code == 200
    assert other.client.get_model_version(name, "1").version == "1"
    denied(mlflow.pyfunc.load_model, f"models:/{name}/1")
    assert owner.grant("experiment", exp, other.username, "READ").status_code == 200
    assert mlflow.pyfunc.load_model(f"models:/{name}/1").predict([[5]]) == [10]
    denied(mlflow.register_model, info.model_uri, name)
