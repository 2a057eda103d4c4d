"""MLflow's web UI through mlflow-auth, as a browser user sees it (see conftest.py).

The owner made the experiment, its run (a param, a metric, an artifact) through the
proxy, so holds MANAGE on it; ``other`` has no grant on it and the server's default
is NO_PERMISSIONS, but made an experiment of their own (so that their list shows
something, and an empty list is not mistaken for hiding). Pages are reached the way a
user reaches them: the experiments list, then a click on the experiment, then on the
run; ``other`` types the URLs the owner could have shared.

The experiment and run pages read through /graphql as well as the REST API: the
owner's pages must get every GraphQL answer, and no answer to ``other`` may name
the owner's run.
"""

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from uitest import GRAPHQL_PATH

# What MLflow's UI shows when it cannot load an experiment or a run for this user,
# whether the refusal comes from the REST API or from /graphql.
DENIED = re.compile(
    r"permission denied|don't have permissions?|can't load|not found|does not exist|"
    r"status code 40[34]",
    re.IGNORECASE,
)


def open_experiments_list(page):
    page.goto("/#/experiments")
    # The sidebar's mode switch: runs (model training) rather than GenAI traces are
    # what this experiment has. A user clicks it once; the UI remembers it.
    page.get_by_role("button", name="Model training").click()
    return page.get_by_role("main")


def experiment_link(main, data):
    return main.get_by_role("link", name=data["experiment_name"], exact=True)


# --- no credentials ----------------------------------------------------------------


def test_without_credentials_the_browser_is_asked_to_log_in(browse, base_url):
    """The first answer is 401 with the Basic challenge that makes a browser show its
    login prompt (headless, there is no prompt to answer, so the navigation ends)."""
    tab = browse(None)
    with tab.page.expect_response(base_url + "/") as first:
        try:
            tab.page.goto("/")
        except PlaywrightError:
            pass  # net::ERR_INVALID_AUTH_CREDENTIALS: the unanswered prompt
    response = first.value
    assert response.status == 401
    assert re.match(r'Basic realm="[^"]*"', response.headers.get("www-authenticate", "")), response.headers


def test_with_a_wrong_password_the_ui_does_not_load(browse, data):
    tab = browse({"username": data["owner"]["username"], "password": "not-the-password"}, "owner-wrong-password")
    response = tab.page.goto("/#/experiments")
    assert response.status == 401
    assert response.headers.get("www-authenticate", "").startswith("Basic ")
    expect(tab.page.get_by_text("UNAUTHENTICATED")).to_be_visible()
    expect(tab.page.get_by_role("link", name="Experiments")).to_have_count(0)


# --- the owner ---------------------------------------------------------------------


def test_owner_sees_the_experiment_in_the_list(browse, data):
    tab = browse(data["owner"], "owner")
    main = open_experiments_list(tab.page)
    expect(experiment_link(main, data)).to_be_visible()
    # other's experiment is not the owner's to see (the list has loaded: see above).
    expect(main.get_by_text(data["other_experiment_name"], exact=True)).to_have_count(0)
    assert not tab.refusals, tab.refusals


def test_owner_experiment_page_lists_the_run(browse, data):
    tab = browse(data["owner"], "owner")
    main = open_experiments_list(tab.page)
    experiment_link(main, data).click()
    expect(tab.page).to_have_url(re.compile(rf"#/experiments/{data['experiment_id']}/runs\b"))
    # The runs table comes from REST (runs/search).
    expect(main.get_by_role("link", name=data["run_name"], exact=True)).to_be_visible()

    # The page's header (breadcrumb with the experiment's name) comes from GraphQL.
    expect(experiment_link(main, data)).to_be_visible()
    expect(tab.page.get_by_text("Experiment load error")).to_have_count(0)
    assert tab.graphql_operations() >= {"MlflowGetExperimentQuery"}, tab.graphql
    assert not tab.refusals, tab.refusals


def test_owner_run_page_shows_params_and_metrics(browse, data):
    tab = browse(data["owner"], "owner")
    main = open_experiments_list(tab.page)
    experiment_link(main, data).click()
    main.get_by_role("link", name=data["run_name"], exact=True).click()
    expect(tab.page).to_have_url(re.compile(rf"#/experiments/{data['experiment_id']}/runs/{data['run_id']}\b"))

    # The run's name, params and metrics come from GraphQL (GetRun).
    expect(main.get_by_role("heading", name=data["run_name"], exact=True)).to_be_visible()
    param, metric = data["param"], data["metric"]
    expect(main.get_by_role("row", name=f"{param['key']} {param['value']}", exact=True)).to_be_visible()
    expect(main.get_by_role("row", name=f"{metric['key']} {metric['value']}", exact=True)).to_be_visible()
    expect(tab.page.get_by_text("Can't load run details")).to_have_count(0)
    assert tab.graphql_operations() >= {"GetRun"}, tab.graphql
    assert not tab.refusals, tab.refusals


def test_owner_run_page_shows_the_artifact(browse, data):
    tab = browse(data["owner"], "owner")
    open_experiments_list(tab.page)
    tab.page.goto(f"/#/experiments/{data['experiment_id']}/runs/{data['run_id']}")
    main = tab.page.get_by_role("main")

    main.get_by_role("tab", name="Artifacts").click()
    main.get_by_text(data["artifact"]["path"], exact=True).click()
    expect(main.get_by_text(data["artifact"]["content"])).to_be_visible()
    assert not tab.refusals, tab.refusals


def test_owner_model_page_lists_the_version(browse, data):
    tab = browse(data["owner"], "owner")
    tab.page.goto(f"/#/models/{data['model_name']}")
    main = tab.page.get_by_role("main")
    main.get_by_role("link", name="Version 1", exact=True).click()
    expect(tab.page).to_have_url(re.compile(rf"#/models/{data['model_name']}/versions/1\b"))
    # The version's page links the run it came from.
    expect(main.get_by_role("link", name=data["run_name"], exact=True)).to_be_visible()
    assert not tab.refusals, tab.refusals


# --- another user, without a grant (default NO_PERMISSIONS) ------------------------


def test_other_does_not_see_the_experiment_in_the_list(browse, data):
    tab = browse(data["other"], "other")
    main = open_experiments_list(tab.page)
    # Their own experiment is there, so the list has loaded ...
    expect(main.get_by_role("link", name=data["other_experiment_name"], exact=True)).to_be_visible()
    # ... and the owner's is not.
    expect(tab.page.get_by_text(data["experiment_name"], exact=True)).to_have_count(0)


def run_leaks(tab, data):
    """The runs/search and /graphql answers this tab received that name the owner's
    run: what the UI could have shown, whether or not it did."""
    leaks = []

    def check(response):
        searched = "/runs/search" in response.url or GRAPHQL_PATH.match(response.url)
        if searched and response.ok and data["run_id"] in response.text():
            leaks.append(response.url)

    tab.page.on("response", check)
    return leaks


def test_other_opening_the_experiment_url_sees_no_runs(browse, data):
    tab = browse(data["other"], "other")
    leaks = run_leaks(tab, data)
    open_experiments_list(tab.page)
    tab.page.goto(f"/#/experiments/{data['experiment_id']}/runs")
    page = tab.page
    expect(page.get_by_text(DENIED).first).to_be_visible()
    for text in (data["run_name"], data["experiment_name"]):
        expect(page.get_by_text(text, exact=True)).to_have_count(0)
    assert not leaks, f"answers named the owner's run: {leaks}"


@pytest.mark.parametrize("tab_path", ["", "/artifacts"], ids=["overview", "artifacts"])
def test_other_opening_the_run_url_sees_nothing_of_it(browse, data, tab_path):
    tab = browse(data["other"], "other")
    leaks = run_leaks(tab, data)
    open_experiments_list(tab.page)
    page = tab.page
    page.goto(f"/#/experiments/{data['experiment_id']}/runs/{data['run_id']}{tab_path}")
    expect(page.get_by_text(DENIED).first).to_be_visible()
    for text in (data["run_name"], data["experiment_name"], data["param"]["key"],
                 data["metric"]["key"], data["artifact"]["path"]):
        expect(page.get_by_text(text, exact=True)).to_have_count(0)
    assert not leaks, f"answers named the owner's run: {leaks}"


def test_other_opening_the_model_url_sees_no_versions(browse, data):
    tab = browse(data["other"], "other")
    page = tab.page
    page.goto(f"/#/models/{data['model_name']}")
    expect(page.get_by_text(DENIED).first).to_be_visible()
    expect(page.get_by_role("link", name="Version 1")).to_have_count(0)
    expect(page.get_by_text(data["run_name"], exact=True)).to_have_count(0)
