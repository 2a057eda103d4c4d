"""Who gets through the proxy at all: authentication, the open paths, admins, and
routes that are not in the validator table (refused to everyone but admins)."""

import requests

from proxytest import PASSWORD, TIMEOUT, error_of, unique


def test_unauthenticated_requests_get_401_with_a_basic_challenge(proxy_url, owner):
    for method, path in [
        ("GET", "/api/2.0/mlflow/experiments/search?max_results=1"),
        ("POST", "/api/2.0/mlflow/experiments/create"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts?path=0"),
        ("GET", "/ajax-api/2.0/mlflow/runs/get?run_id=x"),
        ("GET", "/api/2.0/mlflow/webhooks"),  # not in the table: still 401 first
        ("POST", "/graphql"),
    ]:
        for auth in [None, (owner.username, PASSWORD + "-wrong"), (unique("nobody"), PASSWORD)]:
            res = requests.request(method, proxy_url + path, auth=auth, json={}, timeout=TIMEOUT)
            assert res.status_code == 401, (method, path, auth, res.status_code, res.text)
            assert res.headers.get("WWW-Authenticate") == 'Basic realm="mlflow"', res.headers
            assert error_of(res) == "UNAUTHENTICATED", res.text


def test_a_bearer_that_is_no_token_is_not_a_login(proxy_url):
    res = requests.get(proxy_url + "/api/2.0/mlflow/experiments/search",
                       headers={"Authorization": "Bearer some-token"}, timeout=TIMEOUT)
    assert res.status_code == 401, res.text


def test_health_is_open(proxy_url):
    res = requests.get(proxy_url + "/health", timeout=TIMEOUT)
    assert res.status_code == 200
    assert res.text == "OK"


def test_the_mlflow_client_without_credentials_is_refused(monkeypatch, proxy_url):
    import mlflow
    from mlflow.exceptions import MlflowException

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    client = mlflow.MlflowClient(tracking_uri=proxy_url)
    try:
        client.search_experiments()
    except MlflowException as e:
        assert e.get_http_status_code() == 401 or "401" in str(e), str(e)
    else:
        raise AssertionError("search_experiments without credentials was allowed")


def test_routes_outside_the_table_are_for_admins_only(admin, owner):
    for method, path, kwargs in [
        ("GET", "/api/2.0/mlflow/webhooks", {}),
        ("GET", "/api/2.0/mlflow/gateway/secrets/list", {}),
        ("GET", "/api/3.0/mlflow/no-such-endpoint", {}),
    ]:
        res = owner.http(method, path, **kwargs)
        assert res.status_code == 403, (method, path, res.status_code, res.text)
        assert error_of(res) == "PERMISSION_DENIED", res.text

        res = admin.http(method, path, **kwargs)
        # The admin is forwarded: MLflow answers, whatever it says (404 for a route it lacks).
        assert res.status_code != 403, (method, path, res.status_code, res.text)
        if "no-such" not in path and "gateway" not in path:
            assert res.status_code == 200, (method, path, res.status_code, res.text)


def test_admin_can_do_everything_to_an_owners_experiment(admin, owner, upstream, tmp_path):
    exp = owner.client.create_experiment(unique("owned"))
    run = owner.client.create_run(exp)
    run_id = run.info.run_id

    assert admin.client.get_experiment(exp).experiment_id == exp
    admin.client.log_metric(run_id, "by-admin", 1.0)
    admin.client.set_tag(run_id, "admin", "was-here")
    admin.client.log_text(run_id, "admin text", "admin.txt")
    assert [f.path for f in admin.client.list_artifacts(run_id)] == ["admin.txt"]
    assert admin.client.search_runs([exp])[0].info.run_id == run_id
    assert admin.client.get_metric_history(run_id, "by-admin")[0].value == 1.0
    admin.client.rename_experiment(exp, unique("renamed-by-admin"))
    res = admin.create_experiment_permission(exp, owner.username, "READ")
    assert res.status_code == 400 and error_of(res) == "RESOURCE_ALREADY_EXISTS", res.text
    admin.client.delete_run(run_id)
    admin.client.delete_experiment(exp)

    assert upstream.get_run(run_id).data.tags["admin"] == "was-here"
    assert upstream.get_run(run_id).info.lifecycle_stage == "deleted"
    assert upstream.get_experiment(exp).lifecycle_stage == "deleted"


def test_ui_entry_points_and_server_info_are_open_to_users(owner):
    assert owner.http("GET", "/api/3.0/mlflow/server-info").status_code == 200
    assert owner.http("GET", "/version").status_code == 200
    assert owner.http("GET", "/ajax-api/3.0/mlflow/ui-telemetry").status_code == 200
    assert owner.http("POST", "/ajax-api/3.0/mlflow/ui-telemetry", json={"records": []}).status_code == 200
    res = owner.http("GET", "/ajax-api/2.0/mlflow/gateway-proxy", params={"gateway_path": "api/2.0/endpoints/"})
    assert res.status_code == 200 and res.json() == {"endpoints": []}, res.text
    # The UI's assistant is not: its agent reads past every grant.
    assert owner.http("GET", "/ajax-api/3.0/mlflow/assistant/config").status_code == 403
