"""The mlflow-auth Python package (python/mlflow_auth) against a running server.

``mlflow.server.get_app_client("mlflow-auth", ...)`` must return its AuthClient, which
adds ``list_users`` and ``list_resource_permissions`` and brings the classic
per-resource permission methods back to MLflow clients that dropped them (3.13+).
These tests run with every MLflow version of the suite; the classic round trips
therefore go through MLflow's own methods on <= 3.12 and through the package's on 3.13+.

Needs ``pip install ./python`` into the interpreter. Without it the module is skipped,
unless ``CI`` is set: then it fails.
"""

import math
import os
from urllib.parse import quote

import pytest

if not os.environ.get("MLFLOW_AUTH_TEST_URL"):
    pytest.skip(
        "MLFLOW_AUTH_TEST_URL is not set: these tests need a running mlflow-auth server",
        allow_module_level=True,
    )

try:
    import mlflow_auth.client
except ImportError as e:
    NOT_INSTALLED = f"the mlflow-auth package is not installed (pip install ./python): {e}"
else:
    NOT_INSTALLED = None
if NOT_INSTALLED and os.environ.get("CI"):
    pytest.fail(NOT_INSTALLED, pytrace=False)
if NOT_INSTALLED:
    pytest.skip(NOT_INSTALLED, allow_module_level=True)

import mlflow.server
from mlflow.exceptions import MlflowException, RestException
from mlflow.server.auth import entities
from mlflow.server.auth.client import AuthServiceClient

from conftest import unique, unique_experiment_id

AuthClient = mlflow_auth.client.AuthClient

CLASSIC_METHODS = [
    f"{verb}_{kind}_permission"
    for kind in ("experiment", "registered_model", "scorer")
    for verb in ("create", "get", "update", "delete")
]


def expect_error(error_code, fn, *args, **kwargs):
    """Call fn and assert the client raises RestException with error_code."""
    with pytest.raises(MlflowException) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, RestException), f"not a JSON error: {info.value!r}"
    assert info.value.error_code == error_code, f"{info.value.error_code}: {info.value}"


@pytest.fixture
def pkg_client(server_url):
    """A fresh AuthClient per test, so tests may change its page_size."""
    return mlflow.server.get_app_client("mlflow-auth", tracking_uri=server_url)


@pytest.fixture
def requests_made(pkg_client, monkeypatch):
    """The (endpoint, method, kwargs) of every request pkg_client sends."""
    calls = []
    real = pkg_client._request

    def spy(endpoint, method, **kwargs):
        calls.append((endpoint, method, {k: dict(v) for k, v in kwargs.items()}))
        return real(endpoint, method, **kwargs)

    monkeypatch.setattr(pkg_client, "_request", spy)
    return calls


# ---------------------------------------------------------------------------
# The entry point and the method set
# ---------------------------------------------------------------------------


def test_get_app_client_returns_the_package_client(pkg_client, server_url):
    assert type(pkg_client) is AuthClient
    assert isinstance(pkg_client, AuthServiceClient)
    assert pkg_client.tracking_uri == server_url


@pytest.mark.parametrize("name", CLASSIC_METHODS)
def test_classic_method_is_mlflows_own_where_mlflow_has_it(name):
    ours = getattr(AuthClient, name)
    if hasattr(AuthServiceClient, name):
        assert ours is getattr(AuthServiceClient, name)
    else:
        assert ours.__module__ == "mlflow_auth.client"


# ---------------------------------------------------------------------------
# list_users
# ---------------------------------------------------------------------------


def test_list_users_follows_every_page(pkg_client, requests_made, make_user, admin_credentials):
    created = [make_user("listed") for _ in range(5)]
    everyone = pkg_client.list_users()
    assert len(requests_made) == 1  # one page of up to 1000

    # At least three pages, the last one short unless the count divides evenly.
    pkg_client.page_size = max(1, len(everyone) // 3)
    requests_made.clear()
    paged = pkg_client.list_users()

    assert len(requests_made) == math.ceil(len(everyone) / pkg_client.page_size) >= 3
    first, *rest = [call[2]["params"] for call in requests_made]
    assert "page_token" not in first
    assert all(p["max_results"] == pkg_client.page_size and p["page_token"] for p in rest)

    assert [u.id for u in paged] == [u.id for u in everyone]
    ids = [u.id for u in paged]
    assert ids == sorted(set(ids))
    assert all(isinstance(u, entities.User) for u in paged)
    by_name = {u.username: u for u in paged}
    for username, _, user in created:
        assert (by_name[username].id, by_name[username].is_admin) == (user.id, False)
    assert by_name[admin_credentials[0]].is_admin is True


def test_list_users_to_json(pkg_client, make_user):
    username, _, user = make_user()
    exp = unique_experiment_id()
    pkg_client.create_experiment_permission(exp, username, "EDIT")

    users = pkg_client.list_users(to_json=True)
    assert all(isinstance(u, dict) for u in users)
    [mine] = [u for u in users if u["username"] == username]
    assert mine == {
        "id": user.id,
        "username": username,
        "is_admin": False,
        "experiment_permissions": [{"experiment_id": exp, "user_id": user.id, "permission": "EDIT"}],
        "registered_model_permissions": [],
        "scorer_permissions": [],
        # The direct grant, as MLflow 3.17.2 shows it: the synthetic role __user_<id>__.
        "roles": [{
            "id": -user.id, "name": f"__user_{user.id}__", "workspace": "default", "description": None,
            "permissions": [{"id": -1, "role_id": -user.id, "resource_type": "experiment",
                             "resource_pattern": exp, "permission": "EDIT"}],
        }],
    }
    assert [u["id"] for u in users] == [u.id for u in pkg_client.list_users()]


def test_list_users_to_json_is_keyword_only(pkg_client):
    with pytest.raises(TypeError):
        pkg_client.list_users(True)


def test_list_users_as_a_non_member(pkg_client, login, make_user):
    # Without a role or a grant a user belongs to no workspace and sees only themself.
    username, password, _ = make_user()
    login(username, password)
    assert [u.username for u in pkg_client.list_users()] == [username]


# ---------------------------------------------------------------------------
# Classic per-resource permission methods, on every MLflow version
# ---------------------------------------------------------------------------


def test_experiment_permission_round_trip(pkg_client, make_user):
    username, _, user = make_user()
    exp = unique_experiment_id()

    ep = pkg_client.create_experiment_permission(exp, username, "READ")
    assert isinstance(ep, entities.ExperimentPermission)
    assert (ep.experiment_id, ep.user_id, ep.permission) == (exp, user.id, "READ")
    expect_error("RESOURCE_ALREADY_EXISTS", pkg_client.create_experiment_permission, exp, username, "EDIT")

    assert pkg_client.update_experiment_permission(exp, username, "MANAGE") is None
    ep = pkg_client.get_experiment_permission(exp, username)
    assert (ep.experiment_id, ep.user_id, ep.permission) == (exp, user.id, "MANAGE")
    expect_error("INVALID_PARAMETER_VALUE", pkg_client.update_experiment_permission, exp, username, "BOSS")

    assert pkg_client.delete_experiment_permission(exp, username) is None
    expect_error("RESOURCE_DOES_NOT_EXIST", pkg_client.get_experiment_permission, exp, username)
    expect_error("RESOURCE_DOES_NOT_EXIST", pkg_client.delete_experiment_permission, exp, username)
    expect_error("RESOURCE_DOES_NOT_EXIST", pkg_client.create_experiment_permission, exp, unique("ghost"), "READ")


def test_registered_model_permission_round_trip(pkg_client, make_user):
    username, _, user = make_user()
    name = unique("model")

    rmp = pkg_client.create_registered_model_permission(name, username, "EDIT")
    assert isinstance(rmp, entities.RegisteredModelPermission)
    assert (rmp.name, rmp.user_id, rmp.permission) == (name, user.id, "EDIT")
    expect_error("RESOURCE_ALREADY_EXISTS", pkg_client.create_registered_model_permission, name, username, "READ")

    assert pkg_client.update_registered_model_permission(name, username, "READ") is None
    rmp = pkg_client.get_registered_model_permission(name, username)
    assert (rmp.name, rmp.user_id, rmp.permission) == (name, user.id, "READ")

    assert pkg_client.delete_registered_model_permission(name, username) is None
    expect_error("RESOURCE_DOES_NOT_EXIST", pkg_client.get_registered_model_permission, name, username)
    expect_error("INVALID_PARAMETER_VALUE", pkg_client.create_registered_model_permission, name, username, "read")


def test_scorer_permission_round_trip(pkg_client, make_user):
    username, _, user = make_user()
    exp = unique_experiment_id()
    scorer = unique("dir/scorer name")  # a slash and a space survive the round trip

    sp = pkg_client.create_scorer_permission(exp, scorer, username, "READ")
    assert isinstance(sp, mlflow_auth.client.ScorerPermission)
    assert (sp.experiment_id, sp.scorer_name, sp.user_id, sp.permission) == (exp, scorer, user.id, "READ")
    expect_error("RESOURCE_ALREADY_EXISTS", pkg_client.create_scorer_permission, exp, scorer, username, "READ")

    assert pkg_client.update_scorer_permission(exp, scorer, username, "MANAGE") is None
    sp = pkg_client.get_scorer_permission(exp, scorer, username)
    assert (sp.experiment_id, sp.scorer_name, sp.user_id, sp.permission) == (exp, scorer, user.id, "MANAGE")
    # A scorer grant is not a grant on its experiment.
    expect_error("RESOURCE_DOES_NOT_EXIST", pkg_client.get_experiment_permission, exp, username)

    assert pkg_client.delete_scorer_permission(exp, scorer, username) is None
    expect_error("RESOURCE_DOES_NOT_EXIST", pkg_client.get_scorer_permission, exp, scorer, username)


def test_manage_holder_uses_classic_methods(pkg_client, login, make_user):
    owner, owner_password, _ = make_user("owner")
    reader, reader_password, reader_user = make_user("reader")
    exp = unique_experiment_id()
    pkg_client.create_experiment_permission(exp, owner, "MANAGE")

    login(owner, owner_password)
    assert pkg_client.create_experiment_permission(exp, reader, "READ").user_id == reader_user.id

    assert pkg_client.get_experiment_permission(exp, reader).permission == "READ"

    login(reader, reader_password)  # as in MLflow, even reading a grant needs MANAGE
    expect_error("PERMISSION_DENIED", pkg_client.get_experiment_permission, exp, reader)
    expect_error("PERMISSION_DENIED", pkg_client.update_experiment_permission, exp, reader, "MANAGE")


@pytest.mark.skipif(
    not hasattr(AuthServiceClient, "get_user_permission"), reason="MLflow client before 3.13"
)
def test_classic_and_unified_calls_share_grants(pkg_client, make_user):
    username, _, _ = make_user()
    exp = unique_experiment_id()
    pkg_client.create_experiment_permission(exp, username, "EDIT")
    assert pkg_client.get_user_permission(username, "experiment", exp).permission == "EDIT"
    pkg_client.revoke_user_permission(username, "experiment", exp)
    expect_error("RESOURCE_DOES_NOT_EXIST", pkg_client.get_experiment_permission, exp, username)


# ---------------------------------------------------------------------------
# list_resource_permissions
# ---------------------------------------------------------------------------


def test_list_resource_permissions(pkg_client, requests_made, make_user):
    exp = unique_experiment_id()
    granted = []
    for level in ("READ", "EDIT", "MANAGE"):
        username, _, user = make_user()
        pkg_client.create_experiment_permission(exp, username, level)
        granted.append({"user_id": user.id, "username": username, "permission": level, "role": "", "role_id": 0,
                        "resource_pattern": exp})
    make_user()  # no grant: not listed
    pkg_client.create_experiment_permission(unique_experiment_id(), granted[0]["username"], "EDIT")

    pkg_client.page_size = 2
    requests_made.clear()
    assert pkg_client.list_resource_permissions("experiment", exp) == granted
    assert len(requests_made) == 2
    assert requests_made[0][2]["params"] == {
        "resource_type": "experiment",
        "resource_id": exp,
        "max_results": 2,
    }


def test_list_resource_permissions_of_other_types(pkg_client, make_user):
    username, _, user = make_user()
    exp = unique_experiment_id()
    model = unique("model")
    scorer = unique("my scorer/100%")
    pkg_client.create_registered_model_permission(model, username, "READ")
    pkg_client.create_scorer_permission(exp, scorer, username, "EDIT")

    row = {"user_id": user.id, "username": username, "role": "", "role_id": 0}  # direct grants: no role
    assert pkg_client.list_resource_permissions("registered_model", model) == [
        {**row, "permission": "READ", "resource_pattern": model}]
    scorer_id = f"{exp}/{quote(scorer, safe='')}"
    assert pkg_client.list_resource_permissions("scorer", scorer_id) == [
        {**row, "permission": "EDIT", "resource_pattern": scorer_id}]
    assert pkg_client.list_resource_permissions("experiment", exp) == []
    expect_error("INVALID_PARAMETER_VALUE", pkg_client.list_resource_permissions, "table", exp)


def test_list_resource_permissions_needs_manage(pkg_client, login, make_user):
    owner, owner_password, owner_user = make_user("owner")
    reader, reader_password, _ = make_user("reader")
    model = unique("model")
    pkg_client.create_registered_model_permission(model, owner, "MANAGE")
    pkg_client.create_registered_model_permission(model, reader, "READ")

    login(owner, owner_password)
    assert [p["username"] for p in pkg_client.list_resource_permissions("registered_model", model)] == [owner, reader]

    login(reader, reader_password)
    expect_error("PERMISSION_DENIED", pkg_client.list_resource_permissions, "registered_model", model)


# ---------------------------------------------------------------------------
# Access tokens
# ---------------------------------------------------------------------------


def test_token_round_trip(pkg_client, login, make_user):
    username, password, _ = make_user()
    login(username, password)
    made = pkg_client.create_token(username, "ci", expires_in_days=3, ceiling="READ")
    token, info = made["token"], made["token_info"]
    assert token.startswith("mla_")
    assert (info["username"], info["name"], info["ceiling"]) == (username, "ci", "READ")
    expect_error("RESOURCE_ALREADY_EXISTS", pkg_client.create_token, username, "ci")
    listed = pkg_client.list_tokens(username)
    assert [t["name"] for t in listed] == ["ci"] and token not in repr(listed)

    rotated = pkg_client.rotate_token(username, "ci")["token"]
    assert rotated != token
    login(username, rotated)  # a token as the Basic password of its owner
    assert pkg_client.get_user(username).username == username
    login(username, password)
    pkg_client.revoke_token(username, "ci")
    assert pkg_client.list_tokens(username) == []
    expect_error("RESOURCE_DOES_NOT_EXIST", pkg_client.revoke_token, username, "ci")
