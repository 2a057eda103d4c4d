"""Helpers of the proxy suite, imported by conftest.py and the tests (a module of
its own name: "from conftest import" is ambiguous when pytest collects more than one
test directory).

``User`` is one user of the proxy; ``denied`` and ``allowed_if`` assert the proxy's
answer to a client call; ``unique`` makes names no other test uses.
"""

import contextlib
import uuid

import pytest
import requests

# Long enough for the server's 12-character minimum.
PASSWORD = "correct-horse-battery"

# Bounds every direct HTTP call, so that a hung server fails the test instead of the run.
TIMEOUT = 30


def unique(prefix):
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class _AsUser:
    """An MlflowClient whose every method runs with one user's credentials."""

    def __init__(self, client, username, password):
        self._client, self._username, self._password = client, username, password

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("MLFLOW_TRACKING_USERNAME", self._username)
                mp.setenv("MLFLOW_TRACKING_PASSWORD", self._password)
                return attr(*args, **kwargs)

        return call


class User:
    """A user of the proxy: ``client`` (MlflowClient), ``http`` (requests) and the
    auth API helpers."""

    def __init__(self, proxy_url, username, password):
        import mlflow

        self.url = proxy_url
        self.username = username
        self.password = password
        self.client = _AsUser(mlflow.MlflowClient(tracking_uri=proxy_url, registry_uri=proxy_url),
                              username, password)

    def __repr__(self):
        return f"User({self.username!r})"

    @contextlib.contextmanager
    def fluent(self, experiment_id=None):
        """MLflow's fluent API (mlflow.start_span, mlflow.log_feedback, the scorer and
        dataset functions) as this user, tracing into experiment_id."""
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_USERNAME", self.username)
            mp.setenv("MLFLOW_TRACKING_PASSWORD", self.password)
            if experiment_id is not None:
                mp.setenv("MLFLOW_EXPERIMENT_ID", str(experiment_id))
            yield

    def http(self, method, path, **kwargs):
        """A request to the proxy with this user's Basic credentials."""
        kwargs.setdefault("timeout", TIMEOUT)
        return requests.request(method, self.url + path, auth=(self.username, self.password), **kwargs)

    def api(self, method, path, **kwargs):
        """A call of mlflow-auth's own API that must succeed; returns its JSON."""
        res = self.http(method, path, **kwargs)
        assert res.status_code == 200, f"{method} {path}: {res.status_code} {res.text}"
        return res.json()

    def grant(self, resource_type, resource_id, username, permission):
        """Grants (or changes) a permission with mlflow-auth's unified API; the caller
        needs MANAGE on the resource. Returns the response."""
        return self.http("POST", "/api/3.0/mlflow/users/permissions/grant", json={
            "username": username, "resource_type": resource_type,
            "resource_id": str(resource_id), "permission": permission})

    def create_experiment_permission(self, experiment_id, username, permission):
        """MLflow's classic call (AuthServiceClient.create_experiment_permission)."""
        return self.http("POST", "/api/2.0/mlflow/experiments/permissions/create", json={
            "experiment_id": str(experiment_id), "username": username, "permission": permission})

    def who_has_access(self, resource_type, resource_id):
        """{username: permission} of every direct grant on the resource (needs MANAGE)."""
        return {p["username"]: p["permission"] for p in self.access_rows(resource_type, resource_id) if not p["role"]}

    def access_rows(self, resource_type, resource_id):
        """Every row of "who has access" to the resource: direct grants and roles (needs MANAGE)."""
        body = self.api("GET", "/api/3.0/mlflow/permissions/list",
                        params={"resource_type": resource_type, "resource_id": str(resource_id)})
        return body.get("permissions", [])


def denied(fn, *args, **kwargs):
    """Calls fn and asserts the proxy refused it with 403 PERMISSION_DENIED: a
    RestException from the REST client, or an HTTPError from the artifact client."""
    from mlflow.exceptions import MlflowException, RestException

    try:
        fn(*args, **kwargs)
    except RestException as e:
        assert e.error_code == "PERMISSION_DENIED", f"{e.error_code}: {e}"
        return e
    except MlflowException as e:
        # Some client methods wrap the server's error in their own (set_logged_model_tags).
        cause = e.__cause__ or e.__context__
        while cause is not None and not isinstance(cause, RestException):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise AssertionError(f"expected PERMISSION_DENIED as JSON, got {type(e).__name__}: {e}") from e
        assert cause.error_code == "PERMISSION_DENIED", f"{cause.error_code}: {cause}"
        return cause
    except requests.HTTPError as e:
        assert e.response is not None and e.response.status_code == 403, str(e)
        assert e.response.json()["error_code"] == "PERMISSION_DENIED", e.response.text
        return e
    raise AssertionError(f"{getattr(fn, '__name__', fn)}{args} was allowed")


def allowed_if(readable, fn, *args, **kwargs):
    """Calls fn: it must succeed when readable, else be refused (PERMISSION_DENIED).
    Returns fn's result, or None when refused."""
    if readable:
        return fn(*args, **kwargs)
    denied(fn, *args, **kwargs)
    return None


def error_of(res):
    """The error_code of a requests response with MLflow's error JSON."""
    try:
        return res.json().get("error_code")
    except ValueError:
        return None
