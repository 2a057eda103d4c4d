"""Scorers and evaluation datasets (MLflow 3 GenAI) through the proxy, with MLflow's
own functions. A scorer has grants of its own: whoever registers it manages it, and
its grants go when it is deleted. A dataset takes the permission of every
experiment it is in."""

import json

import mlflow
import pytest
import requests

from proxytest import TIMEOUT, allowed_if, denied, unique

scorers = pytest.importorskip("mlflow.genai.scorers")
datasets = pytest.importorskip("mlflow.genai.datasets")
if not hasattr(scorers.Scorer, "register") or not hasattr(datasets, "create_dataset"):
    pytest.skip(f"mlflow {mlflow.__version__} cannot register scorers or create datasets",
                allow_module_level=True)


def _polite():
    # A built-in judge: registering it stores its configuration and calls no LLM.
    return scorers.Guidelines(name="polite", guidelines="The answer is polite.")


def test_scorers(owner, other, admin, default_permission):
    readable = default_permission == "READ"
    exp = owner.client.create_experiment(unique("scorers"))
    resource = f"{exp}/polite"
    with owner.fluent(exp):
        _polite().register(name="polite", experiment_id=exp)
        assert [s.name for s in scorers.list_scorers(experiment_id=exp)] == ["polite"]
        assert scorers.get_scorer(name="polite", experiment_id=exp).name == "polite"
    assert admin.who_has_access("scorer", resource) == {owner.username: "MANAGE"}

    with other.fluent(exp):
        got = allowed_if(readable, scorers.list_scorers, experiment_id=exp)
        assert got is None or [s.name for s in got] == ["polite"]
        got = allowed_if(readable, scorers.get_scorer, name="polite", experiment_id=exp)
        assert got is None or got.name == "polite"
        denied(_polite().register, name="polite", experiment_id=exp)
        denied(scorers.delete_scorer, name="polite", experiment_id=exp, version="all")
    res = other.http("GET", "/api/3.0/mlflow/scorers/list")  # every experiment's: refused
    assert res.status_code == 403, res.text
    # A NO_PERMISSIONS grant on the experiment closes its scorers too, whatever the default.
    res = owner.create_experiment_permission(exp, other.username, "NO_PERMISSIONS")
    assert res.status_code == 200, res.text
    with other.fluent(exp):
        denied(scorers.get_scorer, name="polite", experiment_id=exp)

    with owner.fluent(exp):
        assert [s.name for s in scorers.list_scorers(experiment_id=exp)] == ["polite"]
        scorers.delete_scorer(name="polite", experiment_id=exp, version="all")
        assert scorers.list_scorers(experiment_id=exp) == []
    assert admin.who_has_access("scorer", resource) == {}


def test_datasets(owner, other, upstream_url, default_permission):
    readable = default_permission == "READ"
    exp = owner.client.create_experiment(unique("datasets"))
    theirs = other.client.create_experiment(unique("their-datasets"))
    with owner.fluent(exp):
        ds = datasets.create_dataset(name=unique("golden"), experiment_id=[exp])
        ds.merge_records([{"inputs": {"question": "hi?"}, "expectations": {"answer": "hello"}}])
        assert len(datasets.get_dataset(dataset_id=ds.dataset_id).to_df()) == 1
        assert [d.dataset_id for d in datasets.search_datasets(experiment_ids=[exp])] == [ds.dataset_id]
        # A dataset may only join experiments its creator may change.
        denied(datasets.create_dataset, name=unique("shared"), experiment_id=[exp, theirs])

    with other.fluent(theirs):
        got = allowed_if(readable, datasets.get_dataset, dataset_id=ds.dataset_id)
        assert got is None or len(got.to_df()) == 1
        got = allowed_if(readable, datasets.search_datasets, experiment_ids=[exp])
        assert got is None or [d.dataset_id for d in got] == [ds.dataset_id]
        if readable:
            denied(got[0].merge_records, [{"inputs": {"question": "intruder?"}}])
        denied(datasets.set_dataset_tags, dataset_id=ds.dataset_id, tags={"owner": "other"})
        denied(datasets.add_dataset_to_experiments, dataset_id=ds.dataset_id, experiment_ids=[theirs])
        denied(datasets.delete_dataset, dataset_id=ds.dataset_id)

    base = f"{upstream_url}/api/3.0/mlflow/datasets/{ds.dataset_id}"
    records = requests.get(f"{base}/records", timeout=TIMEOUT).json()["records"]
    assert '"hi?"' in records and "intruder" not in records, records
    assert "owner" not in json.loads(requests.get(base, timeout=TIMEOUT).json()["dataset"]["tags"])
    assert requests.get(f"{base}/experiment-ids", timeout=TIMEOUT).json()["experiment_ids"] == [exp]

    with owner.fluent(exp):
        datasets.delete_dataset(dataset_id=ds.dataset_id)
