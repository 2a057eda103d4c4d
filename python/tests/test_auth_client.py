"""MLflow's real AuthServiceClient against a running mlflow-auth server.

Each test asserts what a user of ``mlflow.server.get_app_client("basic-auth", ...)``
sees: the entities the client returns, or the exception it raises and its
``error_code``. The server answers every error with MLflow's JSON error body, so the
client raises ``RestException`` (a subclass of ``MlflowException``) carrying the
server's ``error_code``.

Tests of the classic per-resource permission methods (MLflow <= 3.12) and of the
unified 3.13+ permission methods are skipped when the installed client lacks them.
See conftest.py for the environment the suite needs.
"""

import os
from urllib.parse import quote

import pytest

if not os.environ.get("MLFLOW_AUTH_TEST_URL"):
    pytest.skip(
        "MLFLOW_AUTH_TEST_URL is not set: these tests need a running mlflow-auth server "
        "(the Go compatibility test starts one and sets it)",
        allow_module_level=True,
    )

import mlflow
from mlflow.exceptions import MlflowException, RestException
from mlflow.server.auth.client import AuthServiceClient

from conftest import PASSWORD, unique, unique_experiment_id

MLFLOW_VERSION = mlflow.__version__

HAS_CLASSIC = hasattr(AuthServiceClient, "create_experiment_permission")
HAS_SCORER = hasattr(AuthServiceClient, "create_scorer_permission")
HAS_UNIFIED = hasattr(AuthServiceClient, "grant_user_permission")

classic = pytest.mark.skipif(
    not HAS_CLASSIC,
    reason=f"mlflow {MLFLOW_VERSION} client has no classic per-resource permission methods (removed in 3.13)",
)
classic_scorer = pytest.mark.skipif(
    not HAS_SCORER, reason=f"mlflow {MLFLOW_VERSION} client has no scorer permission methods"
)
unified = pytest.mark.skipif(
    not HAS_UNIFIED,
    reason=f"mlflow {MLFLOW_VERSION} client has no grant/revoke/get_user_permission (added in 3.13)",
)


def expect_error(error_code, fn, *args, **kwargs):
    """Call fn and assert the client raises RestException with error_code; returns it."""
    with pytest.raises(MlflowException) as info:
        fn(*args, **kwargs)
    exc = info.value
    assert isinstance(exc, RestException), (
        f"expected a JSON error body (RestException), got {type(exc).__name__}: {exc}"
    )
    assert exc.error_code == error_code, f"{exc.error_code} != {error_code}: {exc}"
    return exc


# ---------------------------------------------------------------------------
# Users (every client version)
# ---------------------------------------------------------------------------


def test_create_user_returns_user(client):
    username = unique("create")
    try:
        user = client.create_user(username, PASSWORD)
        assert isinstance(user.id, int)
        assert user.id > 0
        assert user.username == username
        assert user.is_admin is False
        assert user.password_hash == "REDACTED"
        if HAS_CLASSIC:
            assert user.experiment_permissions == []
            assert user.registered_model_permissions == []
        if HAS_SCORER:
            assert user.scorer_permissions == []
    finally:
        client.delete_user(username)


def test_created_user_can_authenticate(client, login, make_user):
    username, password, created = make_user()
    login(username, password)
    user = client.get_user(username)
    assert user.id == created.id
    assert user.username == username
    assert user.is_admin is False


def test_get_user_as_admin(client, make_user):
    username, _, created = make_user()
    user = client.get_user(username)
    assert (user.id, user.username, user.is_admin) == (created.id, username, False)


def test_get_other_user_as_non_admin_is_denied(client, login, make_user):
    alice, alice_password, _ = make_user("alice")
    bob, _, _ = make_user("bob")
    login(alice, alice_password)
    expect_error("PERMISSION_DENIED", client.get_user, bob)


def test_get_unknown_user(client):
    exc = expect_error("RESOURCE_DOES_NOT_EXIST", client.get_user, unique("ghost"))
    assert "not found" in exc.message


def test_duplicate_create_user(client, make_user):
    username, _, _ = make_user()
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_user, username, PASSWORD)


def test_create_user_with_short_password(client):
    username = unique("short")
    expect_error("INVALID_PARAMETER_VALUE", client.create_user, username, "elevenchars")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_user, username)


def test_create_user_with_twelve_character_password(client, login):
    username = unique("twelve")
    try:
        client.create_user(username, "twelve-chars")
        login(username, "twelve-chars")
        assert client.get_user(username).username == username
    finally:
        login.admin()
        client.delete_user(username)


def test_non_admin_cannot_create_user(client, login, make_user):
    username, password, _ = make_user()
    login(username, password)
    newcomer = unique("newcomer")
    expect_error("PERMISSION_DENIED", client.create_user, newcomer, PASSWORD)
    login.admin()
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_user, newcomer)


def test_wrong_admin_password_is_unauthenticated(client, login, admin_credentials):
    username, _ = admin_credentials
    login(username, "not-the-admin-password")
    exc = expect_error("UNAUTHENTICATED", client.get_user, username)
    assert "not authenticated" in exc.message


def test_unknown_user_is_unauthenticated(client, login):
    login(unique("nobody"), PASSWORD)
    expect_error("UNAUTHENTICATED", client.create_user, unique("x"), PASSWORD)


def test_admin_updates_password(client, login, make_user):
    username, old_password, _ = make_user()
    new_password = "a-brand-new-password"
    assert client.update_user_password(username, new_password) is None

    login(username, new_password)
    assert client.get_user(username).username == username

    login(username, old_password)
    expect_error("UNAUTHENTICATED", client.get_user, username)


def test_update_password_of_unknown_user(client):
    expect_error(
        "RESOURCE_DOES_NOT_EXIST", client.update_user_password, unique("ghost"), "long-enough-password"
    )


def test_update_password_too_short(client, login, make_user):
    username, password, _ = make_user()
    expect_error("INVALID_PARAMETER_VALUE", client.update_user_password, username, "short")
    login(username, password)  # unchanged
    assert client.get_user(username).username == username


def test_user_cannot_update_other_users_password(client, login, make_user):
    alice, alice_password, _ = make_user("alice")
    bob, bob_password, _ = make_user("bob")
    login(alice, alice_password)
    expect_error("PERMISSION_DENIED", client.update_user_password, bob, "hijacked-password")
    login(bob, bob_password)
    assert client.get_user(bob).username == bob


@pytest.mark.skipif(HAS_UNIFIED, reason="3.13+ clients send current_password; see the unified tests")
def test_user_cannot_update_own_password_without_current_password(client, login, make_user):
    # As MLflow 3.17.2 asks: MLflow <= 3.12 clients cannot send current_password,
    # so they cannot change their own password (an admin still can).
    username, old_password, _ = make_user()
    login(username, old_password)
    expect_error("INVALID_PARAMETER_VALUE", client.update_user_password, username, "my-own-new-password")
    assert client.get_user(username).username == username


def test_update_user_admin(client, login, make_user):
    username, password, _ = make_user()

    assert client.update_user_admin(username, True) is None
    assert client.get_user(username).is_admin is True
    login(username, password)
    other = unique("made-by-new-admin")
    assert client.create_user(other, PASSWORD).username == other  # acts as an admin now
    client.delete_user(other)

    login.admin()
    client.update_user_admin(username, False)
    assert client.get_user(username).is_admin is False
    login(username, password)
    expect_error("PERMISSION_DENIED", client.create_user, unique("denied"), PASSWORD)


def test_update_admin_of_unknown_user(client):
    expect_error("RESOURCE_DOES_NOT_EXIST", client.update_user_admin, unique("ghost"), True)


def test_non_admin_cannot_promote_self(client, login, make_user):
    username, password, _ = make_user()
    login(username, password)
    expect_error("PERMISSION_DENIED", client.update_user_admin, username, True)
    assert client.get_user(username).is_admin is False


def test_delete_user(client, login):
    username = unique("doomed")
    client.create_user(username, PASSWORD)
    assert client.delete_user(username) is None
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_user, username)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_user, username)
    login(username, PASSWORD)
    expect_error("UNAUTHENTICATED", client.get_user, username)


def test_non_admin_cannot_delete_user(client, login, make_user):
    alice, alice_password, _ = make_user("alice")
    bob, _, _ = make_user("bob")
    login(alice, alice_password)
    expect_error("PERMISSION_DENIED", client.delete_user, bob)
    login.admin()
    assert client.get_user(bob).username == bob


def test_admin_cannot_delete_self(client, login, make_user):
    # A second admin, so that the bootstrap admin is never at risk.
    username, password, _ = make_user("admin2")
    client.update_user_admin(username, True)
    login(username, password)
    expect_error("BAD_REQUEST", client.delete_user, username)
    assert client.get_user(username).is_admin is True


def test_delete_user_with_grants(client, make_user):
    # MLflow <= 3.12 answers 400 here (NOT NULL constraint on the grant rows);
    # mlflow-auth deletes the user together with their grants.
    username, _, _ = make_user()
    if HAS_CLASSIC:
        client.create_experiment_permission(unique_experiment_id(), username, "EDIT")
        client.create_registered_model_permission(unique("model"), username, "READ")
    elif HAS_UNIFIED:
        client.grant_user_permission(username, "experiment", unique_experiment_id(), "EDIT")
        client.grant_user_permission(username, "registered_model", unique("model"), "READ")
    client.delete_user(username)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_user, username)


# ---------------------------------------------------------------------------
# Classic per-resource permission API (clients <= 3.12)
# ---------------------------------------------------------------------------


@classic
def test_experiment_permission_lifecycle(client, make_user):
    username, _, user = make_user()
    exp = unique_experiment_id()

    ep = client.create_experiment_permission(exp, username, "READ")
    assert (ep.experiment_id, ep.user_id, ep.permission) == (exp, user.id, "READ")

    ep = client.get_experiment_permission(exp, username)
    assert (ep.experiment_id, ep.user_id, ep.permission) == (exp, user.id, "READ")

    assert client.update_experiment_permission(exp, username, "EDIT") is None
    assert client.get_experiment_permission(exp, username).permission == "EDIT"

    grants = client.get_user(username).experiment_permissions
    assert [(p.experiment_id, p.user_id, p.permission) for p in grants] == [(exp, user.id, "EDIT")]

    assert client.delete_experiment_permission(exp, username) is None
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_experiment_permission, exp, username)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.update_experiment_permission, exp, username, "READ")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_experiment_permission, exp, username)
    assert client.get_user(username).experiment_permissions == []


@classic
@pytest.mark.parametrize("level", ["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"])
def test_experiment_permission_levels(client, make_user, level):
    username, _, _ = make_user()
    exp = unique_experiment_id()
    assert client.create_experiment_permission(exp, username, level).permission == level
    assert client.get_experiment_permission(exp, username).permission == level


@classic
@pytest.mark.parametrize("bad", ["WRITE", "read", ""])
def test_experiment_permission_invalid_level(client, make_user, bad):
    username, _, _ = make_user()
    exp = unique_experiment_id()
    expect_error("INVALID_PARAMETER_VALUE", client.create_experiment_permission, exp, username, bad)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_experiment_permission, exp, username)

    client.create_experiment_permission(exp, username, "READ")
    expect_error("INVALID_PARAMETER_VALUE", client.update_experiment_permission, exp, username, bad)
    assert client.get_experiment_permission(exp, username).permission == "READ"


@classic
def test_experiment_permission_duplicate(client, make_user):
    username, _, _ = make_user()
    exp = unique_experiment_id()
    client.create_experiment_permission(exp, username, "READ")
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_experiment_permission, exp, username, "EDIT")
    assert client.get_experiment_permission(exp, username).permission == "READ"


@classic
def test_experiment_permission_with_integer_id(client, make_user):
    # The client sends experiment_id as given; an int names the same experiment as its string.
    username, _, user = make_user()
    exp = int(unique_experiment_id())
    ep = client.create_experiment_permission(exp, username, "EDIT")
    assert (str(ep.experiment_id), ep.user_id, ep.permission) == (str(exp), user.id, "EDIT")
    assert client.get_experiment_permission(str(exp), username).permission == "EDIT"
    expect_error("RESOURCE_ALREADY_EXISTS", client.create_experiment_permission, str(exp), username, "READ")


@classic
def test_experiment_permission_for_unknown_user(client):
    ghost = unique("ghost")
    exp = unique_experiment_id()
    expect_error("RESOURCE_DOES_NOT_EXIST", client.create_experiment_permission, exp, ghost, "READ")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_experiment_permission, exp, ghost)


@classic
def test_registered_model_permission_lifecycle(client, make_user):
    username, _, user = make_user()
    name = unique("model")

    rmp = client.create_registered_model_permission(name, username, "READ")
    assert (rmp.name, rmp.user_id, rmp.permission, rmp.workspace) == (name, user.id, "READ", "default")

    rmp = client.get_registered_model_permission(name, username)
    assert (rmp.name, rmp.user_id, rmp.permission, rmp.workspace) == (name, user.id, "READ", "default")

    assert client.update_registered_model_permission(name, username, "MANAGE") is None
    assert client.get_registered_model_permission(name, username).permission == "MANAGE"

    grants = client.get_user(username).registered_model_permissions
    assert [(p.name, p.user_id, p.permission, p.workspace) for p in grants] == [
        (name, user.id, "MANAGE", "default")
    ]

    assert client.delete_registered_model_permission(name, username) is None
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_registered_model_permission, name, username)
    expect_error(
        "RESOURCE_DOES_NOT_EXIST", client.update_registered_model_permission, name, username, "READ"
    )
    expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_registered_model_permission, name, username)
    assert client.get_user(username).registered_model_permissions == []


@classic
def test_registered_model_permission_errors(client, make_user):
    username, _, _ = make_user()
    name = unique("model")
    expect_error(
        "INVALID_PARAMETER_VALUE", client.create_registered_model_permission, name, username, "OWNER"
    )
    client.create_registered_model_permission(name, username, "EDIT")
    expect_error(
        "RESOURCE_ALREADY_EXISTS", client.create_registered_model_permission, name, username, "READ"
    )
    expect_error(
        "INVALID_PARAMETER_VALUE", client.update_registered_model_permission, name, username, "OWNER"
    )
    assert client.get_registered_model_permission(name, username).permission == "EDIT"
    expect_error(
        "RESOURCE_DOES_NOT_EXIST",
        client.create_registered_model_permission,
        name,
        unique("ghost"),
        "READ",
    )


@classic
def test_user_lists_grants_of_every_kind(client, make_user):
    username, _, user = make_user()
    exp_a, exp_b = unique_experiment_id(), unique_experiment_id()
    model = unique("model")
    client.create_experiment_permission(exp_a, username, "READ")
    client.create_experiment_permission(exp_b, username, "MANAGE")
    client.create_registered_model_permission(model, username, "EDIT")

    got = client.get_user(username)
    assert sorted((p.experiment_id, p.user_id, p.permission) for p in got.experiment_permissions) == sorted(
        [(exp_a, user.id, "READ"), (exp_b, user.id, "MANAGE")]
    )
    assert [(p.name, p.permission) for p in got.registered_model_permissions] == [(model, "EDIT")]


@classic
def test_manage_holder_can_grant_on_experiment(client, login, make_user):
    owner, owner_password, _ = make_user("owner")
    reader, reader_password, reader_user = make_user("reader")
    third, _, _ = make_user("third")
    exp = unique_experiment_id()
    client.create_experiment_permission(exp, owner, "MANAGE")

    login(owner, owner_password)
    ep = client.create_experiment_permission(exp, reader, "READ")
    assert (ep.experiment_id, ep.user_id, ep.permission) == (exp, reader_user.id, "READ")
    assert client.get_experiment_permission(exp, reader).permission == "READ"
    client.update_experiment_permission(exp, reader, "EDIT")
    client.update_experiment_permission(exp, reader, "READ")

    login(reader, reader_password)
    expect_error("PERMISSION_DENIED", client.create_experiment_permission, exp, third, "READ")
    expect_error("PERMISSION_DENIED", client.get_experiment_permission, exp, reader)
    expect_error("PERMISSION_DENIED", client.update_experiment_permission, exp, reader, "MANAGE")
    expect_error("PERMISSION_DENIED", client.delete_experiment_permission, exp, reader)

    login(owner, owner_password)
    client.delete_experiment_permission(exp, reader)
    login.admin()
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_experiment_permission, exp, reader)


@classic
def test_manage_is_per_resource(client, login, make_user):
    owner, owner_password, _ = make_user("owner")
    other, _, _ = make_user("other")
    mine, theirs = unique_experiment_id(), unique_experiment_id()
    client.create_experiment_permission(mine, owner, "MANAGE")

    login(owner, owner_password)
    expect_error("PERMISSION_DENIED", client.create_experiment_permission, theirs, other, "READ")
    expect_error("PERMISSION_DENIED", client.create_registered_model_permission, mine, other, "READ")


@classic
def test_user_without_grant_cannot_grant(client, login, make_user):
    # No grant means the default permission (READ), which cannot manage.
    stranger, stranger_password, _ = make_user("stranger")
    other, _, _ = make_user("other")
    login(stranger, stranger_password)
    expect_error(
        "PERMISSION_DENIED", client.create_experiment_permission, unique_experiment_id(), other, "READ"
    )
    expect_error(
        "PERMISSION_DENIED", client.create_registered_model_permission, unique("model"), other, "READ"
    )


@classic
def test_manage_holder_can_grant_on_registered_model(client, login, make_user):
    owner, owner_password, _ = make_user("owner")
    reader, reader_password, reader_user = make_user("reader")
    name = unique("model")
    client.create_registered_model_permission(name, owner, "MANAGE")

    login(owner, owner_password)
    rmp = client.create_registered_model_permission(name, reader, "READ")
    assert (rmp.name, rmp.user_id, rmp.permission) == (name, reader_user.id, "READ")

    login(reader, reader_password)
    expect_error("PERMISSION_DENIED", client.create_registered_model_permission, name, owner, "READ")
    expect_error("PERMISSION_DENIED", client.get_registered_model_permission, name, reader)


@classic
def test_user_sees_own_grants(client, login, make_user):
    username, password, user = make_user()
    exp = unique_experiment_id()
    client.create_experiment_permission(exp, username, "EDIT")
    login(username, password)
    got = client.get_user(username)
    assert [(p.experiment_id, p.user_id, p.permission) for p in got.experiment_permissions] == [
        (exp, user.id, "EDIT")
    ]


@classic_scorer
def test_scorer_permission_lifecycle(client, make_user):
    username, _, user = make_user()
    exp = unique_experiment_id()
    scorer = unique("scorer")

    sp = client.create_scorer_permission(exp, scorer, username, "READ")
    assert (sp.experiment_id, sp.scorer_name, sp.user_id, sp.permission) == (exp, scorer, user.id, "READ")

    sp = client.get_scorer_permission(exp, scorer, username)
    assert (sp.experiment_id, sp.scorer_name, sp.user_id, sp.permission) == (exp, scorer, user.id, "READ")

    assert client.update_scorer_permission(exp, scorer, username, "MANAGE") is None
    assert client.get_scorer_permission(exp, scorer, username).permission == "MANAGE"

    got = client.get_user(username)
    assert [(p.experiment_id, p.scorer_name, p.user_id, p.permission) for p in got.scorer_permissions] == [
        (exp, scorer, user.id, "MANAGE")
    ]
    # A scorer grant is not an experiment grant.
    assert got.experiment_permissions == []

    expect_error("RESOURCE_ALREADY_EXISTS", client.create_scorer_permission, exp, scorer, username, "READ")
    expect_error("INVALID_PARAMETER_VALUE", client.update_scorer_permission, exp, scorer, username, "BOSS")

    assert client.delete_scorer_permission(exp, scorer, username) is None
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_scorer_permission, exp, scorer, username)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.delete_scorer_permission, exp, scorer, username)
    assert client.get_user(username).scorer_permissions == []


@classic_scorer
def test_scorer_name_with_slash(client, make_user):
    username, _, _ = make_user()
    exp = unique_experiment_id()
    scorer = unique("dir/scorer name")
    sp = client.create_scorer_permission(exp, scorer, username, "EDIT")
    assert (sp.experiment_id, sp.scorer_name) == (exp, scorer)
    assert client.get_scorer_permission(exp, scorer, username).scorer_name == scorer
    [p] = client.get_user(username).scorer_permissions
    assert (p.experiment_id, p.scorer_name) == (exp, scorer)


@classic_scorer
def test_manage_holder_can_grant_on_scorer(client, login, make_user):
    owner, owner_password, _ = make_user("owner")
    reader, reader_password, _ = make_user("reader")
    exp = unique_experiment_id()
    scorer = unique("scorer")
    client.create_scorer_permission(exp, scorer, owner, "MANAGE")

    login(owner, owner_password)
    assert client.create_scorer_permission(exp, scorer, reader, "READ").permission == "READ"

    login(reader, reader_password)
    expect_error("PERMISSION_DENIED", client.update_scorer_permission, exp, scorer, reader, "MANAGE")


HAS_GATEWAY = hasattr(AuthServiceClient, "create_gateway_secret_permission")
classic_gateway = pytest.mark.skipif(
    not HAS_GATEWAY, reason=f"mlflow {MLFLOW_VERSION} client has no gateway permission methods"
)

# (method infix, id attribute of the returned entity), one per gateway resource type.
GATEWAY_KINDS = [
    pytest.param("gateway_secret", "secret_id", id="secret"),
    pytest.param("gateway_endpoint", "endpoint_id", id="endpoint"),
    pytest.param("gateway_model_definition", "model_definition_id", id="model_definition"),
]


@classic_gateway
@pytest.mark.parametrize("kind,id_attr", GATEWAY_KINDS)
def test_gateway_permission_lifecycle(client, make_user, kind, id_attr):
    username, _, user = make_user()
    rid = unique(kind)
    create, get, update, delete = (getattr(client, f"{verb}_{kind}_permission") for verb in ("create", "get", "update", "delete"))
    p = create(rid, username, "READ")
    assert (getattr(p, id_attr), p.user_id, p.permission) == (rid, user.id, "READ")
    assert get(rid, username).permission == "READ"
    assert update(rid, username, "MANAGE") is None
    assert get(rid, username).permission == "MANAGE"
    expect_error("RESOURCE_ALREADY_EXISTS", create, rid, username, "READ")
    expect_error("INVALID_PARAMETER_VALUE", update, rid, username, "BOSS")
    expect_error("RESOURCE_DOES_NOT_EXIST", get, rid, unique("nobody"))
    assert delete(rid, username) is None
    expect_error("RESOURCE_DOES_NOT_EXIST", get, rid, username)
    expect_error("RESOURCE_DOES_NOT_EXIST", delete, rid, username)


@classic_gateway
@pytest.mark.parametrize("kind,id_attr", GATEWAY_KINDS)
def test_manage_holder_can_grant_on_gateway(client, login, make_user, kind, id_attr):
    owner, owner_password, _ = make_user("owner")
    reader, reader_password, _ = make_user("reader")
    rid = unique(kind)
    create = getattr(client, f"create_{kind}_permission")
    create(rid, owner, "MANAGE")

    login(owner, owner_password)
    assert create(rid, reader, "READ").permission == "READ"
    assert getattr(client, f"get_{kind}_permission")(rid, reader).permission == "READ"

    login(reader, reader_password)
    expect_error("PERMISSION_DENIED", getattr(client, f"update_{kind}_permission"), rid, reader, "MANAGE")
    expect_error("PERMISSION_DENIED", create, unique(kind), reader, "READ")


# ---------------------------------------------------------------------------
# Unified permission API (clients >= 3.13)
# ---------------------------------------------------------------------------

RESOURCES = [
    pytest.param("experiment", unique_experiment_id, id="experiment"),
    pytest.param("registered_model", lambda: unique("model"), id="registered_model"),
    pytest.param("scorer", lambda: f"{unique_experiment_id()}/{unique('scorer')}", id="scorer"),
]


@unified
@pytest.mark.parametrize("resource_type,new_id", RESOURCES)
def test_grant_get_revoke(client, make_user, resource_type, new_id):
    username, _, _ = make_user()
    rid = new_id()

    assert client.grant_user_permission(username, resource_type, rid, "EDIT") is None
    result = client.get_user_permission(username, resource_type, rid)
    assert (result.allowed, result.permission) == (True, "EDIT")

    assert client.revoke_user_permission(username, resource_type, rid) is None
    result = client.get_user_permission(username, resource_type, rid)
    assert (result.allowed, result.permission) == (False, "READ")  # back to the default


@unified
@pytest.mark.parametrize(
    "level,allowed", [("READ", False), ("USE", True), ("EDIT", True), ("MANAGE", True)]
)
def test_grant_levels(client, make_user, level, allowed):
    username, _, _ = make_user()
    exp = unique_experiment_id()
    client.grant_user_permission(username, "experiment", exp, level)
    result = client.get_user_permission(username, "experiment", exp)
    assert (result.allowed, result.permission) == (allowed, level)


@unified
@pytest.mark.parametrize("resource_type,new_id", RESOURCES)
def test_get_user_permission_without_grant_is_default(client, make_user, resource_type, new_id):
    username, _, _ = make_user()
    result = client.get_user_permission(username, resource_type, new_id())
    assert result.allowed is False
    assert result.permission == "READ"


@unified
def test_get_user_permission_of_admin(client, make_user):
    username, _, _ = make_user()
    client.update_user_admin(username, True)
    result = client.get_user_permission(username, "experiment", unique_experiment_id())
    assert (result.allowed, result.permission) == (True, "MANAGE")


@unified
@pytest.mark.parametrize("resource_type,new_id", RESOURCES)
def test_duplicate_grant(client, make_user, resource_type, new_id):
    username, _, _ = make_user()
    rid = new_id()
    client.grant_user_permission(username, resource_type, rid, "READ")
    expect_error("RESOURCE_ALREADY_EXISTS", client.grant_user_permission, username, resource_type, rid, "MANAGE")
    assert client.get_user_permission(username, resource_type, rid).permission == "READ"


@unified
@pytest.mark.parametrize("resource_type,new_id", RESOURCES)
def test_revoke_missing_grant(client, make_user, resource_type, new_id):
    username, _, _ = make_user()
    expect_error("RESOURCE_DOES_NOT_EXIST", client.revoke_user_permission, username, resource_type, new_id())


@unified
def test_revoke_twice(client, make_user):
    username, _, _ = make_user()
    model = unique("model")
    client.grant_user_permission(username, "registered_model", model, "MANAGE")
    client.revoke_user_permission(username, "registered_model", model)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.revoke_user_permission, username, "registered_model", model)


@unified
@pytest.mark.parametrize("bad", ["WRITE", "read", "NO_PERMISSIONS"])
def test_grant_invalid_level(client, make_user, bad):
    username, _, _ = make_user()
    exp = unique_experiment_id()
    expect_error("INVALID_PARAMETER_VALUE", client.grant_user_permission, username, "experiment", exp, bad)
    expect_error("RESOURCE_DOES_NOT_EXIST", client.revoke_user_permission, username, "experiment", exp)


@unified
def test_grant_invalid_resource_type(client, make_user):
    username, _, _ = make_user()
    expect_error(
        "INVALID_PARAMETER_VALUE", client.grant_user_permission, username, "notebook", "1", "READ"
    )
    expect_error("INVALID_PARAMETER_VALUE", client.get_user_permission, username, "notebook", "1")


@unified
def test_scorer_id_without_slash(client, make_user):
    username, _, _ = make_user()
    expect_error(
        "INVALID_PARAMETER_VALUE", client.grant_user_permission, username, "scorer", "no-slash", "READ"
    )


@unified
def test_scorer_id_with_quoted_name(client, make_user):
    # MLflow's scorer resource id is "<experiment_id>/<url-quoted scorer name>".
    username, _, _ = make_user()
    rid = f"{unique_experiment_id()}/{quote(unique('my scorer/v2'), safe='')}"
    client.grant_user_permission(username, "scorer", rid, "MANAGE")
    result = client.get_user_permission(username, "scorer", rid)
    assert (result.allowed, result.permission) == (True, "MANAGE")
    expect_error("RESOURCE_ALREADY_EXISTS", client.grant_user_permission, username, "scorer", rid, "READ")
    client.revoke_user_permission(username, "scorer", rid)
    assert client.get_user_permission(username, "scorer", rid).permission == "READ"


@unified
def test_grant_to_unknown_user(client):
    ghost = unique("ghost")
    exp = unique_experiment_id()
    expect_error("RESOURCE_DOES_NOT_EXIST", client.grant_user_permission, ghost, "experiment", exp, "READ")
    expect_error("RESOURCE_DOES_NOT_EXIST", client.get_user_permission, ghost, "experiment", exp)


@unified
def test_grants_are_per_resource_and_type(client, make_user):
    username, _, _ = make_user()
    exp = unique_experiment_id()
    client.grant_user_permission(username, "experiment", exp, "MANAGE")
    assert client.get_user_permission(username, "experiment", unique_experiment_id()).permission == "READ"
    # A registered model that happens to be named like the experiment id is another resource.
    assert client.get_user_permission(username, "registered_model", exp).permission == "READ"


@unified
def test_user_reads_own_permission_but_not_others(client, login, make_user):
    alice, alice_password, _ = make_user("alice")
    bob, _, _ = make_user("bob")
    exp = unique_experiment_id()
    client.grant_user_permission(alice, "experiment", exp, "USE")

    login(alice, alice_password)
    result = client.get_user_permission(alice, "experiment", exp)
    assert (result.allowed, result.permission) == (True, "USE")
    expect_error("PERMISSION_DENIED", client.get_user_permission, bob, "experiment", exp)


@unified
@pytest.mark.parametrize("resource_type,new_id", RESOURCES)
def test_manage_holder_can_grant_and_revoke(client, login, make_user, resource_type, new_id):
    owner, owner_password, _ = make_user("owner")
    reader, reader_password, _ = make_user("reader")
    third, _, _ = make_user("third")
    rid = new_id()
    client.grant_user_permission(owner, resource_type, rid, "MANAGE")

    login(owner, owner_password)
    client.grant_user_permission(reader, resource_type, rid, "READ")

    login(reader, reader_password)
    expect_error("PERMISSION_DENIED", client.grant_user_permission, third, resource_type, rid, "READ")
    expect_error("PERMISSION_DENIED", client.revoke_user_permission, reader, resource_type, rid)
    assert client.get_user_permission(reader, resource_type, rid).permission == "READ"

    login(owner, owner_password)
    client.revoke_user_permission(reader, resource_type, rid)
    login.admin()
    expect_error("RESOURCE_DOES_NOT_EXIST", client.revoke_user_permission, reader, resource_type, rid)


@unified
def test_user_without_manage_cannot_grant(client, login, make_user):
    stranger, stranger_password, _ = make_user("stranger")
    other, _, _ = make_user("other")
    mine = unique_experiment_id()
    client.grant_user_permission(stranger, "experiment", mine, "EDIT")  # EDIT cannot manage
    login(stranger, stranger_password)
    expect_error("PERMISSION_DENIED", client.grant_user_permission, other, "experiment", mine, "READ")
    expect_error(
        "PERMISSION_DENIED", client.grant_user_permission, other, "experiment", unique_experiment_id(), "READ"
    )
    expect_error(
        "PERMISSION_DENIED", client.grant_user_permission, stranger, "registered_model", unique("m"), "MANAGE"
    )


@unified
def test_update_own_password_with_current_password(client, login, make_user):
    username, old_password, _ = make_user()
    new_password = "my-own-new-password"
    login(username, old_password)

    expect_error(
        "INVALID_PARAMETER_VALUE",
        client.update_user_password,
        username,
        new_password,
        current_password="not-my-password",
    )
    assert client.get_user(username).username == username  # old password still valid

    assert client.update_user_password(username, new_password, current_password=old_password) is None
    login(username, new_password)
    assert client.get_user(username).username == username
    login(username, old_password)
    expect_error("UNAUTHENTICATED", client.get_user, username)


@unified
def test_admin_updates_other_password_ignoring_current_password(client, login, make_user):
    # current_password only guards a change of one's own password.
    username, _, _ = make_user()
    client.update_user_password(username, "set-by-the-admin", current_password="whatever-it-was")
    login(username, "set-by-the-admin")
    assert client.get_user(username).username == username
