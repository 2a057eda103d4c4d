"""Searches through the proxy: a user sees exactly what they may read, and paging
(max_results, next_page_token) still works when the proxy drops results.

The owner's and the other user's experiments (and models) are interleaved in the
sort order, so that every page of the upstream server holds results the other user
may not see when the default permission is NO_PERMISSIONS.
"""

import pytest
from mlflow.entities import ViewType

from proxytest import unique


def walk(search, page_size, **kwargs):
    """Every result of a paged client search, page by page; asserts that no page is
    larger than asked for."""
    results, token, pages = [], None, 0
    while True:
        page = search(max_results=page_size, page_token=token, **kwargs)
        assert len(page) <= page_size, f"page of {len(page)} > max_results={page_size}"
        results.extend(page)
        pages += 1
        assert pages < 1000, "paging does not end"
        token = page.token
        if not token:
            return results


def no_duplicates(items):
    assert len(items) == len(set(items)), f"duplicates in {items}"
    return items


@pytest.fixture
def interleaved_experiments(owner, other):
    """Eight experiments under one prefix, sorted by name: the owner has five, the
    other user three, mixed. Returns (prefix, owner_ids, other_ids, ids_in_name_order)."""
    prefix = unique("paging")
    who = [owner, owner, other, owner, owner, other, owner, other]
    ids, mine, theirs = [], [], []
    for i, user in enumerate(who):
        exp = user.client.create_experiment(f"{prefix}-{i}")
        ids.append(exp)
        (mine if user is owner else theirs).append(exp)
    return prefix, mine, theirs, ids


def test_search_experiments_pages_through_what_the_user_may_read(
        other, owner, interleaved_experiments, default_permission):
    prefix, owners, others, ordered = interleaved_experiments
    expect = ordered if default_permission == "READ" else others
    for page_size in (1, 2, 3, 100):
        seen = walk(other.client.search_experiments, page_size,
                    filter_string=f"name LIKE '{prefix}%'", order_by=["name ASC"])
        assert no_duplicates([e.experiment_id for e in seen]) == expect, page_size
    # The owner sees their own, and the other user's only when they are readable.
    seen = walk(owner.client.search_experiments, 2, filter_string=f"name LIKE '{prefix}%'",
                order_by=["name ASC"])
    assert [e.experiment_id for e in seen] == (ordered if default_permission == "READ" else owners)


def test_search_experiments_without_a_filter(other, interleaved_experiments, upstream, default_permission):
    """Everything on the server, paged by twos: the user's own three, plus every other
    experiment when the default is READ; nothing else."""
    _, _, others, _ = interleaved_experiments
    everything = [e.experiment_id for e in walk(upstream.search_experiments, 1000, order_by=["name ASC"])]
    expect = everything if default_permission == "READ" else [e for e in everything if e in others]
    seen = walk(other.client.search_experiments, 2, order_by=["name ASC"])
    assert no_duplicates([e.experiment_id for e in seen]) == expect
    if default_permission == "NO_PERMISSIONS":
        assert sorted(expect) == sorted(others)
    # Deleted experiments are filtered the same way.
    deleted = walk(other.client.search_experiments, 2, view_type=ViewType.DELETED_ONLY)
    if default_permission == "NO_PERMISSIONS":
        assert deleted == []


def test_search_runs(owner, other, default_permission):
    readable = default_permission == "READ"
    owner_exp = owner.client.create_experiment(unique("runs-owner"))
    other_exp = other.client.create_experiment(unique("runs-other"))
    owner_runs = [owner.client.create_run(owner_exp).info.run_id for _ in range(3)]
    other_runs = [other.client.create_run(other_exp).info.run_id for _ in range(2)]

    # The owner's experiment named explicitly.
    got = [r.info.run_id for r in other.client.search_runs([owner_exp])]
    assert sorted(got) == (sorted(owner_runs) if readable else [])
    # Both experiments, paged by twos.
    got = no_duplicates([r.info.run_id for r in
                         walk(other.client.search_runs, 2, experiment_ids=[owner_exp, other_exp])])
    assert sorted(got) == sorted(other_runs + (owner_runs if readable else []))
    # The owner sees both only when the default is READ.
    got = [r.info.run_id for r in owner.client.search_runs([owner_exp, other_exp])]
    assert sorted(got) == sorted(owner_runs + (other_runs if readable else []))
    # No experiment at all finds nothing.
    assert list(other.client.search_runs([])) == []


def test_search_runs_of_all_experiments(monkeypatch, owner, other, default_permission):
    """mlflow.search_runs(search_all_experiments=True) lists the experiments the user
    can see, then searches their runs: none of the owner's when they are unreadable."""
    import mlflow

    owner_exp = owner.client.create_experiment(unique("all-owner"))
    owner_run = owner.client.create_run(owner_exp).info.run_id
    other_exp = other.client.create_experiment(unique("all-other"))
    other_run = other.client.create_run(other_exp).info.run_id

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", other.username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", other.password)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list", max_results=100000)
    ids = no_duplicates([r.info.run_id for r in runs])
    assert other_run in ids
    assert (owner_run in ids) == (default_permission == "READ")
    if default_permission == "NO_PERMISSIONS":
        assert {r.info.experiment_id for r in runs} == {other_exp}


def _model_with_version(user, name):
    exp = user.client.create_experiment(unique("for-" + name))
    run = user.client.create_run(exp)
    user.client.log_text(run.info.run_id, "weights", "model/weights.txt")
    user.client.create_registered_model(name)
    return user.client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)


def test_search_registered_models_and_versions(owner, other, default_permission):
    readable = default_permission == "READ"
    prefix = unique("models")
    who = [owner, other, owner, owner, other]
    names = [f"{prefix}-{i}" for i in range(len(who))]
    for user, name in zip(who, names):
        _model_with_version(user, name)
    theirs = [n for u, n in zip(who, names) if u is other]
    expect = names if readable else theirs

    for page_size in (1, 2, 100):
        seen = walk(other.client.search_registered_models, page_size,
                    filter_string=f"name LIKE '{prefix}%'", order_by=["name ASC"])
        assert no_duplicates([m.name for m in seen]) == expect, page_size

    everything = walk(other.client.search_registered_models, 2)
    seen = no_duplicates([m.name for m in everything])
    assert set(theirs) <= set(seen)
    if not readable:
        assert not set(seen) & (set(names) - set(theirs))

    versions = other.client.search_model_versions(f"name = '{names[0]}'")
    assert [v.name for v in versions] == ([names[0]] if readable else [])
    versions = walk(other.client.search_model_versions, 1000)
    seen = {v.name for v in versions}
    assert set(theirs) <= seen
    if not readable:
        assert not seen & (set(names) - set(theirs))
