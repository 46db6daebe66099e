"""Scale-out of the search: a dask cluster through joblib, and fitted heads between processes.

A ``LocalCluster`` of two worker processes listening on the loopback
interface only (no dashboard) runs ``GridSearchCV`` over a resampling
pipeline with the shot-split scorers through joblib's dask backend; its
``cv_results_`` must equal those of the same search run locally, number for
number. Fitted heads holding torch tensors travel to a worker and back by
pickle and answer exactly as they do here; their pickles hold CPU tensors
only, so a model fitted on a GPU loads on a machine without one.
"""

import importlib
import logging
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

distributed = pytest.importorskip("dask.distributed")
joblib = pytest.importorskip("joblib")
import _support  # noqa: E402
from imblearn.pipeline import Pipeline  # noqa: E402

from sklearn_lt import (  # noqa: E402
    BackboneEmbedder,
    ClassBalancedSampler,
    CRTClassifier,
    PowerSampler,
    TauNormClassifier,
)
from sklearn_lt.metrics import shot_scorers  # noqa: E402

THRESHOLDS = {"many_threshold": 30, "few_threshold": 5}
HAS_CUDA = torch.cuda.is_available()


def long_tailed(seed=0, n_features=6):
    """Six classes, two per shot split in every training fold of 3 (thresholds 30 and 5)."""
    return _support.long_tailed((90, 60, 24, 12, 6, 4), n_features, separation=1.5,
                                centers="axes", seed=seed, dtype=np.float32)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Workers run torch on one thread (the nanny sets OMP_NUM_THREADS=1); so does this side."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _search(n_jobs):
    pipe = Pipeline(
        [("sampler", ClassBalancedSampler(random_state=0)), ("head", TauNormClassifier())]
    )
    grid = [
        {
            "sampler": [ClassBalancedSampler(random_state=0)],
            "head": [TauNormClassifier(random_state=0)],
            "head__tau": [0.0, 0.5, 1.0],
        },
        {
            "sampler": [PowerSampler(random_state=0)],
            "sampler__q": [0.0, 0.5],
            "head": [CRTClassifier(n_epochs=4, random_state=0)],
        },
    ]
    return GridSearchCV(
        pipe,
        grid,
        scoring=shot_scorers(**THRESHOLDS),
        refit="all",
        cv=StratifiedKFold(3),
        n_jobs=n_jobs,
        return_train_score=True,
        error_score="raise",
    )


def _comparable(value):
    """Masked object arrays of estimators and params dicts compare by repr."""
    if isinstance(value, np.ma.MaskedArray):
        return [repr(v) for v in value.filled(None)], value.mask.tolist()
    if isinstance(value, list):
        return [repr(v) for v in value]
    return value


def check_grid_search_equals_the_local_run(client):
    X, y = long_tailed()
    # The workers import the package (seconds) while this process searches locally.
    warm_up = [
        client.submit(importlib.import_module, "sklearn_lt", workers=[worker], pure=False)
        for worker in client.scheduler_info()["workers"]
    ]
    local = _search(n_jobs=1).fit(X, y)
    distributed.wait(warm_up)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_backend("dask"):
            remote = _search(n_jobs=-1).fit(X, y)
    # The folds really ran on the cluster's workers, not in this process (joblib
    # may batch the 5 candidates x 3 folds into fewer tasks).
    assert len(stream.data) > 0
    assert {task["worker"] for task in stream.data} <= set(client.scheduler_info()["workers"])

    assert local.cv_results_.keys() == remote.cv_results_.keys()
    compared = 0
    for key, value in local.cv_results_.items():
        if key.endswith("_time"):
            continue
        expected, got = _comparable(value), _comparable(remote.cv_results_[key])
        if isinstance(expected, np.ndarray):
            assert_array_equal(got, expected, err_msg=key)  # exact, NaN == NaN
        else:
            assert got == expected, key
        compared += 1
    assert compared > 40  # 4 scorers x (3 splits + mean/std/rank) x train/test, params
    # Every split was scored and defined: the thresholds fit the folds.
    for split in ("all", "many", "medium", "few"):
        assert np.all(np.isfinite(local.cv_results_[f"mean_test_{split}"]))
    assert remote.best_index_ == local.best_index_
    assert remote.best_score_ == local.best_score_
    assert_array_equal(
        remote.best_estimator_.predict(X), local.best_estimator_.predict(X)
    )


def check_tensor_head_pickles_to_a_worker_and_back(client, head):
    X, y = long_tailed()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    fitted = clone(head).fit(Xt, yt)
    assert isinstance(fitted.coef_, torch.Tensor)
    # The fitted head is pickled to a worker process, which predicts there.
    assert torch.equal(client.submit(fitted.predict, Xt).result(), fitted.predict(Xt))
    assert torch.equal(
        client.submit(fitted.decision_function, Xt).result(), fitted.decision_function(Xt)
    )
    # Fitted on a worker and pickled back: the same model, bit for bit.
    remote = client.submit(clone(head).fit, Xt, yt).result()
    assert isinstance(remote.coef_, torch.Tensor)
    assert torch.equal(remote.coef_, fitted.coef_)
    assert torch.equal(remote.intercept_, fitted.intercept_)
    assert_array_equal(remote.class_counts_, fitted.class_counts_)


def check_backbone_embedder_features_on_a_worker(client):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X[:150] / 16).astype(np.float32), y[:150]
    embedder = BackboneEmbedder(
        input_shape=(1, 8, 8), module__width=4, max_epochs=1, verbose=0, random_state=0
    ).fit(X, y)
    assert_array_equal(client.submit(embedder.transform, X).result(), embedder.transform(X))


@pytest.fixture(scope="module")
def client(request):
    """Two single-threaded worker processes on 127.0.0.1, closed by a finaliser.

    Only one test uses it: under ``pytest -n 2`` every test process that ran
    a test needing it would start its own cluster.
    """
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    request.addfinalizer(cluster.close)
    client = distributed.Client(cluster)
    request.addfinalizer(client.close)  # finalisers run last in, first out
    return client


def test_search_and_fitted_models_on_a_dask_cluster(client):
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    assert all(address.startswith("tcp://127.0.0.1:") for address in workers)
    assert client.submit(os.getpid, pure=False).result() != os.getpid()
    check_grid_search_equals_the_local_run(client)
    first_of_each_class = {type(head): head for head in reversed(_support.HEADS)}
    for head in first_of_each_class.values():
        check_tensor_head_pickles_to_a_worker_and_back(client, head)
    check_backbone_embedder_features_on_a_worker(client)


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA")
def test_head_fitted_on_gpu_loads_in_a_process_without_one(tmp_path):
    X, y = long_tailed()
    head = CRTClassifier(n_epochs=2, random_state=0).fit(torch.from_numpy(X).cuda(), y)
    (tmp_path / "head.pkl").write_bytes(pickle.dumps(head))
    np.save(tmp_path / "X.npy", X)
    code = (
        "import pickle, sys, numpy as np, torch\n"
        "assert not torch.cuda.is_available()\n"
        "head = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "np.save(sys.argv[3], head.predict(np.load(sys.argv[2])))\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "head.pkl"), str(tmp_path / "X.npy"),
         str(tmp_path / "pred.npy")],
        check=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        timeout=120,
    )
    assert_array_equal(np.load(tmp_path / "pred.npy"), head.predict(X))
