"""Fixtures for the browser tests: MLflow's web UI through mlflow-auth, in headless Chromium.

``mlflow-auth serve --upstream <url>`` stands in front of a plain MLflow tracking
server; a browser user answers its Basic-auth prompt and then uses MLflow's UI as
usual. These tests drive Debian's Chromium with Playwright, as each user in turn, and
assert what that user sees.

Environment (set by the Go test ``TestMLflowUI``, which starts both servers and seeds
the data through the proxy's REST API):

* ``MLFLOW_AUTH_UI_TEST_URL``: the proxy. Without it every test is skipped.
* ``MLFLOW_AUTH_UI_TEST_DATA``: JSON with the seeded data and the users' credentials:
  ``owner`` / ``other`` (``{"username", "password"}``), ``experiment_id``,
  ``experiment_name``, ``run_id``, ``run_name``, ``param`` / ``metric``
  (``{"key", "value"}``; the metric's value as the UI prints it), ``artifact``
  (``{"path", "content"}``), ``other_experiment_name`` (the experiment ``other``
  made), ``model_name`` (the owner's registered model, version 1 from the run),
  ``reader`` (a user whose one grant is a direct READ on that model) and ``admin``.
  The server runs with ``--default-permission NO_PERMISSIONS``: ``other`` has no
  grant on the owner's experiment or model.
* ``MLFLOW_AUTH_UI_TEST_CHROMIUM``: the browser, default ``/usr/bin/chromium``.
* ``MLFLOW_AUTH_UI_TEST_SCREENSHOTS``: where a failed test leaves a screenshot of
  each of its pages (default: the working directory).

Playwright's own browser download (``playwright install``) is never used: the browser
is launched from its path. ``launch()`` gives it a new, empty user-data-dir under
``TMPDIR`` and removes it on close.
"""

import json
import os
import re

import pytest

from uitest import ACTION_TIMEOUT_MS, CHROMIUM_ARGS, EXPECT_TIMEOUT_MS, Tab

URL_ENV = "MLFLOW_AUTH_UI_TEST_URL"
DATA_ENV = "MLFLOW_AUTH_UI_TEST_DATA"
CHROMIUM_ENV = "MLFLOW_AUTH_UI_TEST_CHROMIUM"
SCREENSHOTS_ENV = "MLFLOW_AUTH_UI_TEST_SCREENSHOTS"


def pytest_collection_modifyitems(config, items):
    if not os.environ.get(URL_ENV):
        skip = pytest.mark.skip(
            reason=f"{URL_ENV} is not set: these tests need mlflow-auth serve --upstream "
            "in front of an MLflow server with seeded data (TestMLflowUI starts both)"
        )
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def base_url():
    return os.environ[URL_ENV].rstrip("/")


@pytest.fixture(scope="session")
def data():
    raw = os.environ.get(DATA_ENV)
    if not raw:
        pytest.fail(f"{URL_ENV} is set but {DATA_ENV} is not")
    return json.loads(raw)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    executable = os.environ.get(CHROMIUM_ENV) or "/usr/bin/chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def browse(request, browser, base_url):
    """browse(user) opens a tab as user ({"username", "password"}, or None for no
    credentials). Requests that leave the proxy's origin are aborted, so that the
    test never waits on the (closed) network."""
    contexts = []
    tabs = []
    request.node._ui_tabs = tabs

    def _open(user, who=None):
        creds = {"username": user["username"], "password": user["password"]} if user else None
        context = browser.new_context(
            base_url=base_url, http_credentials=creds, viewport={"width": 1400, "height": 1000}
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.route(
            lambda url: not url.startswith(base_url + "/") and url != base_url,
            lambda route: route.abort(),
        )
        contexts.append(context)
        page = context.new_page()
        # MLflow 3.12 greets the model page with a modal about its new registry UI,
        # which a user closes; later versions do not show it.
        page.add_locator_handler(
            page.get_by_role("dialog", name=re.compile("new Model Registry UI")),
            lambda dialog: dialog.get_by_role("button", name="Close").click(),
        )
        tab = Tab(page, who or (user["username"] if user else "anonymous"))
        tabs.append(tab)
        return tab

    yield _open
    for context in contexts:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    directory = os.environ.get(SCREENSHOTS_ENV) or os.getcwd()
    lines = []
    for i, tab in enumerate(getattr(item, "_ui_tabs", [])):
        path = os.path.join(directory, f"{item.name}-{i}-{tab.who}.png")
        try:
            tab.page.screenshot(path=path, full_page=True)
            lines.append(f"screenshot ({tab.who}, {tab.page.url}): {path}")
        except Exception as e:  # noqa: BLE001 - the failure itself matters more
            lines.append(f"no screenshot of {tab.who}'s page: {e}")
    if lines:
        report.sections.append(("screenshots", "\n".join(lines)))
        # Also on the terminal right away, whatever pytest's -r options.
        item.config.get_terminal_writer().line("\n" + "\n".join(lines))
