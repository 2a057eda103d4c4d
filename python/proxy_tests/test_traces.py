"""Traces and assessments (MLflow 3 tracing) through the proxy: they take their
experiment's permission, as in MLflow 3.13+. The owner traces into their experiment
with mlflow.start_span and @mlflow.trace and does everything with the traces;
another user reads them only under the default permission READ, never changes them,
and cannot search the owner's experiment without READ. Refused writes are checked
on the upstream server to have changed nothing."""

import os

import mlflow
import pytest
import requests

from proxytest import TIMEOUT, allowed_if, denied, error_of, unique

if not hasattr(mlflow, "log_feedback") or not hasattr(mlflow.MlflowClient, "delete_traces"):
    pytest.skip(f"mlflow {mlflow.__version__} has no MLflow 3 tracing", allow_module_level=True)

from mlflow.entities import AssessmentSource, Feedback  # noqa: E402

HUMAN = AssessmentSource(source_type="HUMAN", source_id="reviewer")


@mlflow.trace
def _double(x):
    return 2 * x


def _trace_ids(client, exp):
    return sorted(t.info.trace_id for t in client.search_traces(locations=[exp]))


@pytest.fixture
def traced(owner):
    """An experiment of the owner's with two traces: one of a @mlflow.trace function,
    tagged and with a feedback, and one of a span. Returns an object with exp,
    decorated, span and feedback (the assessment id)."""

    class Traced:
        pass

    t = Traced()
    t.exp = owner.client.create_experiment(unique("traces"))
    with owner.fluent(t.exp):
        assert _double(21) == 42
        t.decorated = mlflow.get_last_active_trace_id()
        with mlflow.start_span("retrieve") as span:
            span.set_inputs({"query": "secret"})
            span.set_outputs({"documents": ["doc"]})
        t.span = mlflow.get_last_active_trace_id()
        t.feedback = mlflow.log_feedback(trace_id=t.decorated, name="helpful", value=True,
                                         source=HUMAN).assessment_id
    owner.client.set_trace_tag(t.decorated, "team", "owners")
    return t


def test_the_owner_does_everything(owner, upstream, traced):
    c, exp = owner.client, traced.exp
    trace = c.get_trace(traced.decorated)
    assert trace.info.experiment_id == exp and trace.info.tags["team"] == "owners"
    assert [s.name for s in trace.data.spans] == ["_double"]
    assert [s.name for s in c.get_trace(traced.span).data.spans] == ["retrieve"]
    assert _trace_ids(c, exp) == sorted([traced.decorated, traced.span])
    with owner.fluent(exp):
        found = mlflow.search_traces(locations=[exp], return_type="list")
        assert sorted(t.info.trace_id for t in found) == sorted([traced.decorated, traced.span])
        assert mlflow.get_assessment(traced.decorated, traced.feedback).value is True
        mlflow.update_assessment(trace_id=traced.decorated, assessment_id=traced.feedback,
                                 assessment=Feedback(name="helpful", value=False))
        expectation = mlflow.log_expectation(trace_id=traced.span, name="answer", value="doc",
                                             source=HUMAN).assessment_id
        mlflow.delete_assessment(trace_id=traced.span, assessment_id=expectation)
    c.set_trace_tag(traced.span, "stage", "dev")
    c.delete_trace_tag(traced.decorated, "team")
    res = owner.http("GET", "/ajax-api/3.0/mlflow/get-trace-artifact", params={"request_id": traced.span})
    assert res.status_code == 200 and "secret" in res.text, res.text

    up = upstream.get_trace(traced.decorated).info
    assert "team" not in up.tags
    assert [a.value for a in up.assessments] == [False]
    assert upstream.get_trace(traced.span).info.tags["stage"] == "dev"
    assert upstream.get_trace(traced.span).info.assessments == []

    assert c.delete_traces(exp, trace_ids=[traced.span]) == 1
    assert _trace_ids(upstream, exp) == [traced.decorated]


def test_another_user(other, upstream, traced, default_permission):
    readable = default_permission == "READ"
    c, exp, tid = other.client, traced.exp, traced.decorated

    trace = allowed_if(readable, c.get_trace, tid)
    assert trace is None or [s.name for s in trace.data.spans] == ["_double"]
    found = allowed_if(readable, c.search_traces, locations=[exp])
    assert found is None or sorted(t.info.trace_id for t in found) == sorted([tid, traced.span])
    for path, params in [(f"/api/3.0/mlflow/traces/{tid}", {}),
                         ("/api/3.0/mlflow/traces/get", {"trace_id": traced.span}),
                         (f"/api/3.0/mlflow/traces/{tid}/assessments/{traced.feedback}", {}),
                         ("/ajax-api/3.0/mlflow/get-trace-artifact", {"request_id": traced.span})]:
        res = other.http("GET", path, params=params)
        assert res.status_code == (200 if readable else 403), (path, res.status_code, res.text)
    with other.fluent(exp):
        got = allowed_if(readable, mlflow.get_assessment, tid, traced.feedback)
        assert got is None or got.value is True
        denied(mlflow.log_feedback, trace_id=tid, name="helpful", value=False, source=HUMAN)
        denied(mlflow.update_assessment, trace_id=tid, assessment_id=traced.feedback,
               assessment=Feedback(name="helpful", value=False))
        denied(mlflow.delete_assessment, trace_id=tid, assessment_id=traced.feedback)
        # Tracing into the owner's experiment: the client reports the refusal and drops the trace.
        with mlflow.start_span("intruder"):
            pass
    denied(c.set_trace_tag, tid, "team", "others")
    denied(c.delete_trace_tag, tid, "team")
    denied(c.delete_traces, exp, trace_ids=[tid])
    denied(c.delete_traces, exp, max_timestamp_millis=2**62)

    up = upstream.get_trace(tid).info
    assert up.tags["team"] == "owners"
    assert [(a.name, a.value) for a in up.assessments] == [("helpful", True)]
    assert _trace_ids(upstream, exp) == sorted([tid, traced.span])


def test_a_grant_lets_another_user_change_traces(owner, other, upstream, traced):
    tid = traced.decorated
    assert owner.grant("experiment", traced.exp, other.username, "EDIT").status_code == 200
    other.client.set_trace_tag(tid, "reviewed", "yes")
    with other.fluent(traced.exp):
        mlflow.log_feedback(trace_id=tid, name="correct", value=True, source=HUMAN)
        with mlflow.start_span("by-other"):
            pass
        by_other = mlflow.get_last_active_trace_id()
    # Deleting traces needs MANAGE.
    denied(other.client.delete_traces, traced.exp, trace_ids=[tid])

    up = upstream.get_trace(tid).info
    assert up.tags["reviewed"] == "yes"
    assert sorted(a.name for a in up.assessments) == ["correct", "helpful"]
    assert _trace_ids(upstream, traced.exp) == sorted([tid, traced.span, by_other])


def test_searches_must_name_readable_experiments(owner, other, traced, default_permission):
    own = other.client.create_experiment(unique("own-traces"))
    with other.fluent(own):
        with mlflow.start_span("mine"):
            pass
        mine = mlflow.get_last_active_trace_id()
    assert _trace_ids(other.client, own) == [mine]
    got = allowed_if(default_permission == "READ", other.client.search_traces, locations=[own, traced.exp])
    assert got is None or len(got) == 3
    # Naming no experiment would search them all: refused, as by MLflow 3.13+.
    for method, path, kwargs in [("POST", "/api/3.0/mlflow/traces/search", {"json": {"locations": []}}),
                                 ("GET", "/api/2.0/mlflow/traces", {})]:
        res = other.http(method, path, **kwargs)
        assert res.status_code == 403 and error_of(res) == "PERMISSION_DENIED", (path, res.text)


def test_no_trace_changes_experiment_or_storage(owner, other, upstream, upstream_url, traced):
    """Beyond MLflow's own rules: MLflow moves an existing trace into the experiment of
    a StartTrace that names its id, adds OTLP spans to an existing trace whatever the
    header says, and stores the immutable tag mlflow.artifactLocation when a request
    sets it (which points get-trace-artifact at another experiment's files)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    own = other.client.create_experiment(unique("own"))
    location = upstream.get_trace(traced.span).info.tags["mlflow.artifactLocation"]
    with other.fluent(own):
        with mlflow.start_span("mine"):
            pass
        mine = mlflow.get_last_active_trace_id()

    res = other.http("PATCH", f"/api/2.0/mlflow/traces/{mine}/tags",
                     json={"key": "mlflow.artifactLocation", "value": location})
    assert res.status_code == 400 and error_of(res) == "INVALID_PARAMETER_VALUE", res.text
    res = other.http("POST", "/api/3.0/mlflow/traces", json={"trace": {"trace_info": {
        "trace_id": traced.span, "request_time": "2026-01-01T00:00:00Z", "state": "OK",
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": own}}}}})
    assert res.status_code == 403, res.text
    otlp = ExportTraceServiceRequest()
    span = otlp.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = bytes.fromhex(traced.span[3:]), os.urandom(8), "injected"
    span.start_time_unix_nano, span.end_time_unix_nano = 1, 2
    headers = {"Content-Type": "application/x-protobuf", "X-Mlflow-Experiment-Id": own}
    res = other.http("POST", "/v1/traces", data=otlp.SerializeToString(), headers=headers)
    assert res.status_code == 403, res.text
    res = other.http("POST", "/v1/traces", data=otlp.SerializeToString(),
                     headers={"Content-Type": "application/x-protobuf"})
    assert res.status_code == 400, res.text

    assert upstream.get_trace(mine).info.tags["mlflow.artifactLocation"] != location
    up = upstream.get_trace(traced.span)
    assert up.info.experiment_id == traced.exp
    assert [s.name for s in up.data.spans] == ["retrieve"]
    res = requests.get(f"{upstream_url}/ajax-api/3.0/mlflow/get-trace-artifact",
                       params={"request_id": mine}, timeout=TIMEOUT)
    assert res.status_code == 200 and "secret" not in res.text, res.text
