"""Helpers of the browser tests (conftest.py has the fixtures)."""

import re

# Upper bounds on waiting for the UI (a cold start of MLflow's UI on a 2-core CI
# machine), never a claim about how fast it is.
EXPECT_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 60_000

# The headless flags that keep Chromium off the network (this machine has none):
# no background requests, updates, sync or QUIC. headless=True adds --headless.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

GRAPHQL_PATH = re.compile(r"^https?://[^/]+/graphql(\?|$)")

# What the proxy refuses to every user but admins, though MLflow's UI asks for it on
# every page: the assistant, whose agent reads past every grant.
ADMIN_ONLY = re.compile(r"^https?://[^/]+/ajax-api/3\.0/mlflow/assistant/")


class Tab:
    """A browser tab of one user (its own context: cookies, storage, credentials),
    with what it has seen of /graphql, and every refusal."""

    def __init__(self, page, who):
        self.page = page
        self.who = who
        self.graphql = []  # (operationName, HTTP status) of every /graphql answer
        self.refusals = []  # "METHOD url status" of every 401 and 403 but ADMIN_ONLY's
        page.on("response", self._on_response)

    def _on_response(self, response):
        if response.status in (401, 403) and not ADMIN_ONLY.match(response.url):
            self.refusals.append(f"{response.request.method} {response.url} {response.status}")
        if GRAPHQL_PATH.match(response.url):
            try:
                op = (response.request.post_data_json or {}).get("operationName")
            except Exception:  # noqa: BLE001 - not JSON: name it by what it is
                op = None
            self.graphql.append((op or "?", response.status))

    def graphql_operations(self):
        return {op for op, _ in self.graphql}

