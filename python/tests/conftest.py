"""Fixtures for the MLflow-client compatibility suite.

The suite drives a *running* mlflow-auth server with MLflow's own Python client,
``mlflow.server.auth.client.AuthServiceClient``. Which client API is exercised
depends on the installed ``mlflow``: 3.12 has the classic per-resource permission
methods, 3.13+ has ``grant_user_permission`` / ``revoke_user_permission`` /
``get_user_permission`` instead; tests for the missing API are skipped.

Environment (set by the Go test that starts the server):

* ``MLFLOW_AUTH_TEST_URL``: base URL of the server, e.g. ``http://127.0.0.1:18080``.
  Without it every test is skipped.
* ``MLFLOW_AUTH_TEST_ADMIN_USERNAME`` / ``MLFLOW_AUTH_TEST_ADMIN_PASSWORD``: an admin.
* ``MLFLOW_AUTH_TEST_MLFLOW_URL`` and ``MLFLOW_AUTH_TEST_MLFLOW_ADMIN_USERNAME`` /
  ``..._PASSWORD``: MLflow's own basic-auth server of the same version (3.12 with
  ``--enable-workspaces``) and its admin, for the side-by-side tests (``mlflow_server``);
  without them those tests are skipped.

The client reads its credentials from ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD`` on every request, so tests switch identities with
``monkeypatch`` (see the ``login`` fixture). Every test creates its own users with
unique names, so tests do not depend on each other or on their order.

Requirements: ``pip install -r python/tests/requirements.txt`` into a virtualenv
that has ``mlflow`` (``mlflow.server.auth`` needs Flask-WTF, i.e. ``mlflow[auth]``).
Run: ``MLFLOW_AUTH_TEST_URL=... python -m pytest python/tests -q``.
"""

import os
import uuid

import pytest

URL_ENV = "MLFLOW_AUTH_TEST_URL"
MLFLOW_URL_ENV = "MLFLOW_AUTH_TEST_MLFLOW_URL"
MLFLOW_ADMIN_ENV = ("MLFLOW_AUTH_TEST_MLFLOW_ADMIN_USERNAME", "MLFLOW_AUTH_TEST_MLFLOW_ADMIN_PASSWORD")
ADMIN_USERNAME_ENV = "MLFLOW_AUTH_TEST_ADMIN_USERNAME"
ADMIN_PASSWORD_ENV = "MLFLOW_AUTH_TEST_ADMIN_PASSWORD"

# Long enough for the server's 12-character minimum.
PASSWORD = "correct-horse-battery"


def unique(prefix):
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unique_experiment_id():
    """A numeric experiment id, like MLflow's, that no other test uses."""
    return str(uuid.uuid4().int % 10**15)


@pytest.fixture(scope="session")
def server_url():
    url = os.environ.get(URL_ENV)
    if not url:
        pytest.skip(f"{URL_ENV} is not set: start mlflow-auth and point {URL_ENV} at it")
    return url.rstrip("/")


@pytest.fixture(scope="session")
def admin_credentials(server_url):
    username = os.environ.get(ADMIN_USERNAME_ENV)
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if not username or not password:
        pytest.fail(f"{URL_ENV} is set but {ADMIN_USERNAME_ENV} / {ADMIN_PASSWORD_ENV} are not")
    return username, password


@pytest.fixture(scope="session", autouse=True)
def _client_environment():
    """Fail fast instead of retrying: MLflow's client retries 429/5xx with exponential
    back-off for minutes, which would hide a server error behind a hang."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mp.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        mp.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        mp.delenv("MLFLOW_TRACKING_INSECURE_TLS", raising=False)
        yield


@pytest.fixture(scope="session")
def client(server_url):
    """MLflow's AuthServiceClient, obtained the documented way."""
    import mlflow.server
    from mlflow.server.auth.client import AuthServiceClient

    c = mlflow.server.get_app_client("basic-auth", tracking_uri=server_url)
    assert isinstance(c, AuthServiceClient)
    return c


@pytest.fixture(autouse=True)
def login(monkeypatch, admin_credentials):
    """login(username, password) makes the client authenticate as that user;
    login.admin() switches back to the admin. Every test starts logged in as the admin."""

    def _login(username, password):
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    _login.admin = lambda: _login(*admin_credentials)
    _login.admin()
    return _login


@pytest.fixture
def make_user(client, admin_credentials, monkeypatch):
    """make_user(prefix="user", password=PASSWORD) creates a user as the admin, whoever
    the client is logged in as, and returns (username, password, User).

    Users are not deleted afterwards: names are unique, the database is fresh for each
    run, and every request costs the server a password hash, so cleanup would only
    slow the suite down (deletion has its own tests)."""

    def _make(prefix="user", password=PASSWORD):
        username = unique(prefix)
        with monkeypatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_USERNAME", admin_credentials[0])
            mp.setenv("MLFLOW_TRACKING_PASSWORD", admin_credentials[1])
            user = client.create_user(username, password)
        return username, password, user

    return _make


@pytest.fixture(scope="session")
def mlflow_server():
    """MLflow's own basic-auth server to compare with: (base URL, (admin, password))."""
    url = os.environ.get(MLFLOW_URL_ENV)
    if not url:
        pytest.skip(f"{MLFLOW_URL_ENV} is not set: no MLflow basic-auth server to compare with")
    return url.rstrip("/"), (os.environ[MLFLOW_ADMIN_ENV[0]], os.environ[MLFLOW_ADMIN_ENV[1]])


def mlflow_since(version, what):
    """Skips a side-by-side test when the installed MLflow (and so the server it
    compares with) is older than version, whose behaviour the test compares."""
    import mlflow
    from packaging.version import Version

    if Version(mlflow.__version__) < Version(version):
        pytest.skip(f"MLflow {mlflow.__version__}'s server predates {what} (MLflow {version})")
