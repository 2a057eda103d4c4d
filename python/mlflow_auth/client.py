"""AuthClient: MLflow's ``AuthServiceClient`` plus what the mlflow-auth server adds.

``mlflow.server.get_app_client("mlflow-auth", tracking_uri=...)`` returns an
``AuthClient`` (entry point group ``mlflow.app.client``). It keeps every method of
the installed MLflow's client and adds:

* ``list_users()``: every user, following the server's pages;
* ``list_resource_permissions()``: who has a grant on one resource;
* ``create_token()``, ``list_tokens()``, ``rotate_token()``, ``revoke_token()``:
  access tokens, for ``MLFLOW_TRACKING_TOKEN``;
* the classic per-resource permission methods (experiment, registered model,
  scorer) wherever the installed MLflow lacks them: MLflow 3.13+ removed them and
  MLflow before 3.7 had no scorer ones. Where MLflow has them, its own are used.

Requests go through MLflow's own ``AuthServiceClient._request``, so credentials
(``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``, ...), retries and
errors (``RestException`` with the server's ``error_code``) are MLflow's.
"""

from __future__ import annotations

from mlflow.server.auth import entities
from mlflow.server.auth.client import AuthServiceClient
from mlflow.server.auth.entities import ExperimentPermission, RegisteredModelPermission, User

LIST_USERS = "/api/2.0/mlflow/users/list"
LIST_RESOURCE_PERMISSIONS = "/api/3.0/mlflow/permissions/list"
EXPERIMENT_PERMISSIONS = "/api/2.0/mlflow/experiments/permissions/"
REGISTERED_MODEL_PERMISSIONS = "/api/2.0/mlflow/registered-models/permissions/"
SCORER_PERMISSIONS = "/api/3.0/mlflow/scorers/permissions/"
TOKENS = "/api/2.0/mlflow/users/tokens/"

ScorerPermission = getattr(entities, "ScorerPermission", None)
if ScorerPermission is None:  # MLflow < 3.7

    class ScorerPermission:
        """Stand-in for MLflow's ScorerPermission entity (added in MLflow 3.7)."""

        def __init__(self, experiment_id, scorer_name, user_id, permission):
            self.experiment_id = experiment_id
            self.scorer_name = scorer_name
            self.user_id = user_id
            self.permission = permission

        def to_json(self):
            return dict(vars(self))

        @classmethod
        def from_json(cls, dictionary):
            return cls(
                dictionary["experiment_id"],
                dictionary["scorer_name"],
                dictionary["user_id"],
                dictionary["permission"],
            )


class _ClassicPermissionMethods:
    """The per-resource permission calls of MLflow <= 3.12's client, for the MLflow
    versions whose client lacks some of them. AuthClient lists this class after
    AuthServiceClient, so a method MLflow defines itself always wins.
    GET requests carry their parameters in the query, the others in a JSON body."""

    def create_experiment_permission(self, experiment_id: str, username: str, permission: str):
        body = {"experiment_id": experiment_id, "username": username, "permission": permission}
        resp = self._request(EXPERIMENT_PERMISSIONS + "create", "POST", json=body)
        return ExperimentPermission.from_json(resp["experiment_permission"])

    def get_experiment_permission(self, experiment_id: str, username: str):
        query = {"experiment_id": experiment_id, "username": username}
        resp = self._request(EXPERIMENT_PERMISSIONS + "get", "GET", params=query)
        return ExperimentPermission.from_json(resp["experiment_permission"])

    def update_experiment_permission(self, experiment_id: str, username: str, permission: str):
        body = {"experiment_id": experiment_id, "username": username, "permission": permission}
        self._request(EXPERIMENT_PERMISSIONS + "update", "PATCH", json=body)

    def delete_experiment_permission(self, experiment_id: str, username: str):
        body = {"experiment_id": experiment_id, "username": username}
        self._request(EXPERIMENT_PERMISSIONS + "delete", "DELETE", json=body)

    def create_registered_model_permission(self, name: str, username: str, permission: str):
        body = {"name": name, "username": username, "permission": permission}
        resp = self._request(REGISTERED_MODEL_PERMISSIONS + "create", "POST", json=body)
        return RegisteredModelPermission.from_json(resp["registered_model_permission"])

    def get_registered_model_permission(self, name: str, username: str):
        query = {"name": name, "username": username}
        resp = self._request(REGISTERED_MODEL_PERMISSIONS + "get", "GET", params=query)
        return RegisteredModelPermission.from_json(resp["registered_model_permission"])

    def update_registered_model_permission(self, name: str, username: str, permission: str):
        body = {"name": name, "username": username, "permission": permission}
        self._request(REGISTERED_MODEL_PERMISSIONS + "update", "PATCH", json=body)

    def delete_registered_model_permission(self, name: str, username: str):
        body = {"name": name, "username": username}
        self._request(REGISTERED_MODEL_PERMISSIONS + "delete", "DELETE", json=body)

    def create_scorer_permission(
        self, experiment_id: str, scorer_name: str, username: str, permission: str
    ):
        body = _scorer(experiment_id, scorer_name, username, permission=permission)
        resp = self._request(SCORER_PERMISSIONS + "create", "POST", json=body)
        return ScorerPermission.from_json(resp["scorer_permission"])

    def get_scorer_permission(self, experiment_id: str, scorer_name: str, username: str):
        query = _scorer(experiment_id, scorer_name, username)
        resp = self._request(SCORER_PERMISSIONS + "get", "GET", params=query)
        return ScorerPermission.from_json(resp["scorer_permission"])

    def update_scorer_permission(
        self, experiment_id: str, scorer_name: str, username: str, permission: str
    ):
        body = _scorer(experiment_id, scorer_name, username, permission=permission)
        self._request(SCORER_PERMISSIONS + "update", "PATCH", json=body)

    def delete_scorer_permission(self, experiment_id: str, scorer_name: str, username: str):
        body = _scorer(experiment_id, scorer_name, username)
        self._request(SCORER_PERMISSIONS + "delete", "DELETE", json=body)


def _scorer(experiment_id, scorer_name, username, **more):
    """The fields that name one user's grant on one scorer, plus ``more``."""
    return dict(experiment_id=experiment_id, scorer_name=scorer_name, username=username, **more)


class AuthClient(AuthServiceClient, _ClassicPermissionMethods):
    """Client of an mlflow-auth server. See the module docstring."""

    #: max_results of each page request (the server accepts 1 to 1000).
    page_size = 1000

    def list_users(self, *, to_json: bool = False):
        """Every user, as :py:class:`mlflow.server.auth.entities.User` objects, or as
        the server's JSON dicts with ``to_json=True``. Admins see everyone; others
        themselves and, when they hold a role or a grant, the admins and the users who
        do (without their grants or roles)."""
        users = list(self._pages(LIST_USERS, "users"))
        return users if to_json else [User.from_json(u) for u in users]

    def list_resource_permissions(self, resource_type: str, resource_id: str) -> list[dict]:
        """Who has access to one resource, by a direct grant or through a role:
        dicts with ``user_id``, ``username``, ``permission`` and ``role`` and
        ``role_id`` (``""`` and ``0`` for a direct grant), in user id order. ``resource_type`` is
        ``experiment``, ``registered_model``, ``scorer`` (``resource_id`` is then
        ``<experiment_id>/<scorer name>``, the name URL-quoted as by
        ``urllib.parse.quote(name, safe="")``), ...; needs MANAGE on the resource."""
        return list(
            self._pages(
                LIST_RESOURCE_PERMISSIONS,
                "permissions",
                resource_type=resource_type,
                resource_id=resource_id,
            )
        )

    def create_token(self, username: str, name: str, *, expires_in_days: int = 0, ceiling: str = "") -> dict:
        """A new access token of ``username`` (yourself, or anyone as an admin):
        ``{"token_info": {...}, "token": "mla_..."}``, the only time the token is
        shown. ``expires_in_days`` 0 is the server's maximum; ``ceiling="READ"``
        caps it at READ."""
        body = dict(username=username, name=name, expires_in_days=expires_in_days, ceiling=ceiling)
        return self._request(TOKENS + "create", "POST", json=body)

    def list_tokens(self, username: str) -> list[dict]:
        """A user's tokens (``token_info`` dicts), without their secrets."""
        return self._request(TOKENS + "list", "GET", params={"username": username}).get("tokens", [])

    def rotate_token(self, username: str, name: str, *, expires_in_days: int = 0) -> dict:
        """A new secret for a token, shown this once; the old one stops working."""
        body = dict(username=username, name=name, expires_in_days=expires_in_days)
        return self._request(TOKENS + "rotate", "POST", json=body)

    def revoke_token(self, username: str, name: str) -> None:
        """Deletes a token; it stops working at once."""
        self._request(TOKENS + "revoke", "POST", json={"username": username, "name": name})

    def _pages(self, endpoint, key, **params):
        """Yield the items under ``key`` of every page of a GET list endpoint."""
        params["max_results"] = self.page_size
        while True:
            resp = self._request(endpoint, "GET", params=params)
            yield from resp.get(key, [])
            params["page_token"] = resp.get("next_page_token")
            if not params["page_token"]:
                return
