"""Python client for the mlflow-auth server: ``mlflow.server.get_app_client("mlflow-auth", ...)``."""

from mlflow_auth.client import AuthClient

__all__ = ["AuthClient"]
