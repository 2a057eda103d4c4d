"""MLflow's /graphql through the proxy: the queries MLflow's UI sends for its
experiment and run pages, as each user.

Every root field is decided by the experiment or run its input names; a search is
narrowed to the readable experiments; model versions of models the caller may not
read leave the answer.
"""

import pytest

from proxytest import error_of, unique

# The selections of MLflow's UI (its GetRun, SearchRuns, MlflowGetExperimentQuery
# and GetMetricHistoryBulkInterval queries), shortened to what these tests read.
GET_RUN = """
query GetRun($data: MlflowGetRunInput!) {
  mlflowGetRun(input: $data) {
    apiError { code message }
    run {
      info { runUuid experimentId runName }
      experiment { experimentId name }
      modelVersions { name version }
      data { params { key value } metrics { key value } }
    }
  }
}"""

SEARCH_RUNS = """
query SearchRuns($data: MlflowSearchRunsInput!) {
  mlflowSearchRuns(input: $data) {
    apiError { code message }
    runs { info { runUuid experimentId } modelVersions { name } }
  }
}"""

GET_EXPERIMENT = """
query MlflowGetExperimentQuery($input: MlflowGetExperimentInput!) {
  mlflowGetExperiment(input: $input) { apiError { code } experiment { experimentId name } }
}"""

METRIC_HISTORY = """
query GetMetricHistoryBulkInterval($data: MlflowGetMetricHistoryBulkIntervalInput!) {
  mlflowGetMetricHistoryBulkInterval(input: $data) { metrics { runId key value step } }
}"""

LIST_ARTIFACTS = """
query ListArtifacts($data: MlflowListArtifactsInput!) {
  mlflowListArtifacts(input: $data) { files { path isDir } }
}"""


def graphql(user, query, variables):
    """POST /graphql as user; returns the response."""
    return user.http("POST", "/graphql", json={"query": query, "variables": variables})


def data_of(res):
    assert res.status_code == 200, f"{res.status_code} {res.text}"
    body = res.json()
    assert not body.get("errors"), body
    return body["data"]


def refused(res):
    assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", f"{res.status_code} {res.text}"


@pytest.fixture
def tracked(owner):
    """The owner's experiment and run (a param, a metric, an artifact) and a
    registered model with a version from that run."""
    c = owner.client
    name = unique("gql-exp")
    exp = c.create_experiment(name)
    run_id = c.create_run(exp, run_name="gql-run").info.run_id
    c.log_param(run_id, "alpha", "0.5")
    c.log_metric(run_id, "loss", 1.5, step=0)
    c.log_text(run_id, "hello", "notes.txt")
    model = unique("gql-model")
    c.create_registered_model(model)
    c.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    return exp, name, run_id, model


def test_the_owner_reads_the_run_page(owner, tracked):
    exp, name, run_id, model = tracked
    run = data_of(graphql(owner, GET_RUN, {"data": {"runId": run_id}}))["mlflowGetRun"]["run"]
    assert run["info"]["runUuid"] == run_id and run["experiment"]["name"] == name
    assert run["data"]["params"] == [{"key": "alpha", "value": "0.5"}]
    assert run["modelVersions"] == [{"name": model, "version": "1"}]

    got = data_of(graphql(owner, GET_EXPERIMENT, {"input": {"experimentId": exp}}))
    assert got["mlflowGetExperiment"]["experiment"] == {"experimentId": exp, "name": name}
    got = data_of(graphql(owner, METRIC_HISTORY, {"data": {"runIds": [run_id], "metricKey": "loss"}}))
    assert [(m["runId"], m["value"]) for m in got["mlflowGetMetricHistoryBulkInterval"]["metrics"]] == [(run_id, 1.5)]
    got = data_of(graphql(owner, LIST_ARTIFACTS, {"data": {"runId": run_id}}))
    assert [f["path"] for f in got["mlflowListArtifacts"]["files"]] == ["notes.txt"]


def test_another_user_reads_per_the_default_permission(other, tracked, default_permission):
    exp, name, run_id, model = tracked
    readable = default_permission == "READ"
    for query, variables in [
        (GET_RUN, {"data": {"runId": run_id}}),
        (GET_EXPERIMENT, {"input": {"experimentId": exp}}),
        (METRIC_HISTORY, {"data": {"runIds": [run_id], "metricKey": "loss"}}),
        (LIST_ARTIFACTS, {"data": {"runUuid": run_id}}),
        # The same, asked through a literal, an alias and a fragment.
        (f'{{ mine: mlflowGetRun(input: {{runId: "{run_id}"}}) {{ run {{ info {{ runUuid }} }} }} }}', {}),
        ('query Q($e: String) { ...E } fragment E on Query { mlflowGetExperiment(input: {experimentId: $e}) '
         '{ experiment { name } } }', {"e": exp}),
    ]:
        res = graphql(other, query, variables)
        if readable:
            assert any(s in res.text for s in (name, run_id, "notes.txt")), res.text
            data_of(res)
        else:
            refused(res)


def test_a_search_is_narrowed_to_readable_experiments(owner, other, tracked, default_permission):
    exp, _, run_id, _ = tracked
    own_exp = other.client.create_experiment(unique("gql-own"))
    own_run = other.client.create_run(own_exp).info.run_id
    got = data_of(graphql(other, SEARCH_RUNS, {"data": {"experimentIds": [exp, own_exp]}}))
    found = {r["info"]["runUuid"] for r in got["mlflowSearchRuns"]["runs"]}
    assert found == ({own_run, run_id} if default_permission == "READ" else {own_run})
    if default_permission == "NO_PERMISSIONS":
        refused(graphql(other, SEARCH_RUNS, {"data": {"experimentIds": [exp]}}))


def test_model_versions_of_unreadable_models_leave_the_answer(owner, other, tracked, default_permission):
    """other may read the owner's run, but the owner's model only when the default
    permission lets them: the run's model versions follow the model's grants."""
    exp, _, run_id, model = tracked
    res = owner.grant("experiment", exp, other.username, "READ")
    assert res.status_code == 200, res.text
    run = data_of(graphql(other, GET_RUN, {"data": {"runId": run_id}}))["mlflowGetRun"]["run"]
    assert run["info"]["runUuid"] == run_id
    want = [{"name": model, "version": "1"}] if default_permission == "READ" else []
    assert run["modelVersions"] == want
    got = data_of(graphql(other, SEARCH_RUNS, {"data": {"experimentIds": [exp]}}))
    assert [r["modelVersions"] for r in got["mlflowSearchRuns"]["runs"]] == [[{"name": model}] if want else []]

    res = owner.grant("registered_model", model, other.username, "READ")
    assert res.status_code == 200, res.text
    run = data_of(graphql(other, GET_RUN, {"data": {"runId": run_id}}))["mlflowGetRun"]["run"]
    assert run["modelVersions"] == [{"name": model, "version": "1"}]


def test_fields_without_a_rule_are_for_admins(admin, other):
    query = "{ __typename nothingLikeThis }"
    refused(graphql(other, query, {}))
    res = graphql(admin, query, {})
    # MLflow itself answers the admin: the field does not exist.
    assert res.status_code in (200, 400) and "nothingLikeThis" in res.text, res.text
    assert data_of(graphql(other, "{ __schema { queryType { name } } }", {}))["__schema"]["queryType"]["name"]


def test_the_query_mlflow_runs_is_the_one_decided(other, tracked, default_permission):
    """MLflow runs what "query" holds; a harmless "Query" beside it changes nothing."""
    _, _, run_id, _ = tracked
    res = other.http("POST", "/graphql", json={
        "query": GET_RUN, "variables": {"data": {"runId": run_id}}, "Query": "{ __typename }"})
    if default_permission == "READ":
        assert data_of(res)["mlflowGetRun"]["run"]["info"]["runUuid"] == run_id
    else:
        refused(res)
