"""Access tokens at the front door, sent as MLflow's own client sends them:
MLFLOW_TRACKING_TOKEN as a Bearer token, or MLFLOW_TRACKING_PASSWORD with the
owner's username."""

import mlflow
import requests

from proxytest import TIMEOUT, denied, unique


def _token(user, name, ceiling=""):
    """A new token of user, made through mlflow-auth's token API."""
    body = user.api("POST", "/api/2.0/mlflow/users/tokens/create",
                    json={"username": user.username, "name": name, "ceiling": ceiling})
    assert body["token"].startswith("mla_"), body
    return body["token"]


def test_the_mlflow_client_logs_a_run_with_MLFLOW_TRACKING_TOKEN(monkeypatch, proxy_url, owner, upstream):
    experiment_id = owner.client.create_experiment(unique("tokens"))
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", _token(owner, "ci"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_metric("loss", 0.5)
    stored = upstream.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.params == {"lr": "0.1"}
    assert stored.data.metrics == {"loss": 0.5}


def test_a_token_as_the_password_of_its_owner(monkeypatch, proxy_url, owner, other, upstream):
    experiment_id = owner.client.create_experiment(unique("tokens"))
    token = _token(owner, "notebook")
    client = mlflow.MlflowClient(tracking_uri=proxy_url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", owner.username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", token)
    run = client.create_run(experiment_id)
    assert upstream.get_run(run.info.run_id).info.experiment_id == experiment_id
    # Another user's name with owner's token is no login.
    res = requests.get(proxy_url + "/api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id},
                       auth=(other.username, token), timeout=TIMEOUT)
    assert res.status_code == 401, res.text


def test_a_read_token_reads_but_does_not_write(monkeypatch, proxy_url, owner, upstream):
    experiment_id = owner.client.create_experiment(unique("tokens"))
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", _token(owner, "reader", ceiling="READ"))
    client = mlflow.MlflowClient(tracking_uri=proxy_url)
    assert client.get_experiment(experiment_id).experiment_id == experiment_id
    denied(client.create_run, experiment_id)
    assert upstream.search_runs([experiment_id]) == []


def test_a_revoked_token_is_refused_at_once(proxy_url, owner):
    token = _token(owner, "short-lived")
    search = proxy_url + "/api/2.0/mlflow/experiments/search"
    bearer = {"Authorization": "Bearer " + token}
    assert requests.get(search, params={"max_results": 1}, headers=bearer, timeout=TIMEOUT).status_code == 200
    owner.api("POST", "/api/2.0/mlflow/users/tokens/revoke", json={"username": owner.username, "name": "short-lived"})
    res = requests.get(search, params={"max_results": 1}, headers=bearer, timeout=TIMEOUT)
    assert res.status_code == 401, res.text


def test_a_service_account_reads_with_its_token_what_it_is_granted(monkeypatch, proxy_url, admin, owner, upstream):
    experiment_id = owner.client.create_experiment(unique("service-account"))
    name = unique("ci-bot")
    made = admin.api("POST", "/api/2.0/mlflow/service-accounts/create", json={"username": name})
    assert made["user"]["is_service_account"] is True, made
    token = admin.api("POST", "/api/2.0/mlflow/users/tokens/create",
                      json={"username": name, "name": "deploy"})["token"]
    assert owner.create_experiment_permission(experiment_id, name, "READ").status_code == 200
    # No password signs it in, whatever is sent.
    res = requests.get(proxy_url + "/api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id},
                       auth=(name, "any-password-123"), timeout=TIMEOUT)
    assert res.status_code == 401, res.text
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    client = mlflow.MlflowClient(tracking_uri=proxy_url)
    assert client.get_experiment(experiment_id).experiment_id == experiment_id
    denied(client.create_run, experiment_id)
    assert upstream.search_runs([experiment_id]) == []
