"""Fixtures for the proxy suite: MLflow's own tracking client through mlflow-auth.

``mlflow-auth serve --upstream <url>`` is an authorizing reverse proxy in front of a
plain MLflow tracking server (one started without any auth app). This suite drives
``mlflow.MlflowClient(tracking_uri=<proxy>)`` as three users and asserts what each may
do, and checks on the upstream server itself (no credentials needed there) that a
refused write really changed nothing.

Environment (set by the Go test ``TestMLflowTrackingProxy``, which starts both servers):

* ``MLFLOW_AUTH_TEST_URL``: the proxy (mlflow-auth). Without it every test is skipped.
* ``MLFLOW_AUTH_TEST_UPSTREAM_URL``: the MLflow tracking server behind it.
* ``MLFLOW_AUTH_TEST_UPSTREAM_BACKEND_URI``: that server's backend store, for ``mlflow gc``.
* ``MLFLOW_AUTH_TEST_ADMIN_USERNAME`` / ``MLFLOW_AUTH_TEST_ADMIN_PASSWORD``: an admin.
* ``MLFLOW_AUTH_TEST_DEFAULT_PERMISSION``: the proxy's ``--default-permission``,
  ``READ`` or ``NO_PERMISSIONS``; tests assert what a user without a grant sees.

Users: ``admin`` (from the environment), and ``owner`` and ``other``, fresh users with
unique names made by the admin through the auth API for every test. ``owner.client``
is an ``MlflowClient`` whose every call is made with the owner's credentials
(``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``, set with monkeypatch for
the duration of the call); ``with owner.fluent(experiment_id):`` does the same for
MLflow's fluent API (tracing, assessments, scorers, datasets); ``owner.http`` is a
``requests`` call with them, for what the client hides (statuses, headers); all live
in proxytest.py with the assertion helpers. Names of experiments and models are
unique, so tests do not depend on each other or on their order.

Run: ``MLFLOW_AUTH_TEST_URL=... MLFLOW_AUTH_TEST_UPSTREAM_URL=... python -m pytest
python/proxy_tests -q`` (the suite needs ``mlflow``, ``pytest`` and ``requests``).
"""

import os

import pytest

from proxytest import PASSWORD, TIMEOUT, User, unique

URL_ENV = "MLFLOW_AUTH_TEST_URL"
UPSTREAM_ENV = "MLFLOW_AUTH_TEST_UPSTREAM_URL"
UPSTREAM_BACKEND_ENV = "MLFLOW_AUTH_TEST_UPSTREAM_BACKEND_URI"
ADMIN_USERNAME_ENV = "MLFLOW_AUTH_TEST_ADMIN_USERNAME"
ADMIN_PASSWORD_ENV = "MLFLOW_AUTH_TEST_ADMIN_PASSWORD"
DEFAULT_PERMISSION_ENV = "MLFLOW_AUTH_TEST_DEFAULT_PERMISSION"


def pytest_collection_modifyitems(config, items):
    if not os.environ.get(URL_ENV):
        skip = pytest.mark.skip(
            reason=f"{URL_ENV} is not set: these tests need mlflow-auth serve --upstream "
            "in front of an MLflow server (TestMLflowTrackingProxy starts both)"
        )
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def proxy_url():
    return os.environ[URL_ENV].rstrip("/")


@pytest.fixture(scope="session")
def upstream_url():
    url = os.environ.get(UPSTREAM_ENV)
    if not url:
        pytest.fail(f"{URL_ENV} is set but {UPSTREAM_ENV} is not")
    return url.rstrip("/")


@pytest.fixture(scope="session")
def upstream_backend_uri():
    uri = os.environ.get(UPSTREAM_BACKEND_ENV)
    if not uri:
        pytest.fail(f"{URL_ENV} is set but {UPSTREAM_BACKEND_ENV} is not")
    return uri


@pytest.fixture(scope="session")
def default_permission():
    value = os.environ.get(DEFAULT_PERMISSION_ENV)
    if value not in ("READ", "NO_PERMISSIONS"):
        pytest.fail(f"{DEFAULT_PERMISSION_ENV} must be READ or NO_PERMISSIONS, not {value!r}")
    return value


@pytest.fixture(scope="session", autouse=True)
def _client_environment(proxy_url):
    """Fail fast instead of retrying: MLflow's client retries 429/5xx with exponential
    back-off for minutes, which would hide a server error behind a hang. The global
    tracking URI is the proxy too, so that nothing falls back to a local ./mlruns.
    Traces are exported when their span ends, so that a test sees them stored (or
    refused) before it goes on, with the credentials of User.fluent."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mp.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", str(TIMEOUT))
        mp.setenv("MLFLOW_TRACKING_URI", proxy_url)
        mp.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
        for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                     "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID",
                     "MLFLOW_EXPERIMENT_NAME"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def admin(proxy_url):
    username = os.environ.get(ADMIN_USERNAME_ENV)
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if not username or not password:
        pytest.fail(f"{URL_ENV} is set but {ADMIN_USERNAME_ENV} / {ADMIN_PASSWORD_ENV} are not")
    return User(proxy_url, username, password)


@pytest.fixture
def make_user(admin, proxy_url):
    """make_user(prefix) creates a user through the auth API, as the admin."""

    def _make(prefix="user"):
        username = unique(prefix)
        admin.api("POST", "/api/2.0/mlflow/users/create",
                  json={"username": username, "password": PASSWORD})
        return User(proxy_url, username, PASSWORD)

    return _make


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def other(make_user):
    return make_user("other")


@pytest.fixture(scope="session")
def upstream(upstream_url):
    """An MlflowClient straight to the upstream server, which has no auth: the truth."""
    import mlflow

    return mlflow.MlflowClient(tracking_uri=upstream_url, registry_uri=upstream_url)
