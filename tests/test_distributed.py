"""Scale-out: a dask cluster through joblib, fitted heads between processes, torchrun.

A ``LocalCluster`` of two worker processes listening on the loopback
interface only (no dashboard) runs ``GridSearchCV`` over a resampling
pipeline with the shot-split scorers through joblib's dask backend; its
``cv_results_`` must equal those of the same search run locally, number for
number. Fitted heads holding torch tensors travel to a worker and back by
pickle and answer exactly as they do here; their pickles hold CPU tensors
only, so a model fitted on a GPU loads on a machine without one.

One ``torchrun --standalone --nproc_per_node 2`` launch (two CPU processes,
gloo) runs the multi-process stage one: ``AcceleratedBackboneEmbedder``'s
epoch shards, and ``PretrainedEmbedder(distributed=True)`` splitting an image
list into one shared cache. It is not opt-in: one launch serves both tests
(its cost is two processes importing torch and the package).
"""

import importlib
import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import _support
import joblib
import numpy as np
import pytest
import torch
from imblearn.pipeline import Pipeline
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_lt import (
    BackboneEmbedder,
    ClassBalancedSampler,
    CRTClassifier,
    PowerSampler,
    TauNormClassifier,
)
from sklearn_lt.metrics import shot_scorers
from sklearn_lt.sampling import progressive_probabilities, target_counts

try:
    import dask.distributed as distributed
except ImportError:  # the torchrun test below runs without dask
    distributed = None
needs_dask = pytest.mark.skipif(distributed is None, reason="needs dask.distributed")

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
    if distributed is None:
        pytest.skip("needs dask.distributed")
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


@needs_dask
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


# --------------------------------------------------- torchrun: two CPU processes (gloo)
_TORCHRUN_SCRIPT = """
import json, sys, traceback
from pathlib import Path
import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from skorch.callbacks import Callback
from sklearn_lt import ProgressivelyBalancedSampler
from sklearn_lt.backbone import AcceleratedBackboneEmbedder, PretrainedEmbedder

folder = Path(sys.argv[1])
accelerator = Accelerator(cpu=True)  # torch.distributed's process group, gloo
rank = accelerator.process_index
results = {"processes": accelerator.num_processes}


class Rows(Callback):
    def initialize(self):
        self.rows_ = []
        return self
    def on_epoch_begin(self, net, **kwargs):
        self.rows_.append([])
    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.rows_[-1].extend(batch[0][:, 0, 0, 0].round().long().tolist())


def stage_one():
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), [60, 30, 15, 7])
    X = rng.rand(len(y), 1, 8, 8).astype("float32")
    X[:, 0, 0, 0] = np.arange(len(y))
    rows = Rows()
    embedder = AcceleratedBackboneEmbedder(
        accelerator=accelerator, sampler=ProgressivelyBalancedSampler(), callbacks=[rows],
        module__width=4, batch_size=8, max_epochs=3, verbose=0, random_state=None,
    ).fit(X, y)
    return {"shards": gather_object([rows.rows_]), "y": y.tolist(),
            "features": gather_object([embedder.transform(X[:10]).tolist()])}


def pretrained():
    paths = json.loads((folder / "paths.json").read_text())
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.AdaptiveAvgPool2d(1),
                                  torch.nn.Flatten())
    embedder = PretrainedEmbedder(
        net, preprocessing={"input_size": 16, "mean": 0.5, "std": 0.25}, batch_size=4,
        cache_dir=folder / "cache", distributed=True, verbose=0,
    ).fit(paths)
    seen = []
    embedder.module_.register_forward_hook(lambda module, args, out: seen.extend(args[0]))
    out = {}
    try:
        embedder.transform([str(folder / "truncated.png")] + paths)
    except ValueError as exc:
        out["unreadable"] = str(exc)
    out["computed"] = len(seen)
    np.save(folder / f"features{rank}.npy", embedder.transform(paths))
    out["computed_again"] = len(seen)
    np.save(folder / f"reversed{rank}.npy", embedder.transform(paths[::-1]))
    try:
        embedder.transform(paths[:3] if rank == 0 else paths[:4])
    except ValueError as exc:
        out["different_lists"] = str(exc)
    out["fingerprint"] = embedder.fingerprint_
    local = embedder.set_params(cache_dir=folder / f"local{rank}").fit(paths)  # not shared
    try:
        local.transform(paths)
    except RuntimeError as exc:
        out["unshared_cache"] = str(exc)

    def fail(module, args, output):
        raise ArithmeticError("a bad batch")

    if rank == 1:
        local.module_.register_forward_hook(fail)
    try:
        local.set_params(cache_dir=folder / "failing").transform(paths)
    except Exception as exc:
        out["failure"] = f"{type(exc).__name__}: {exc}"
    with torch.random.fork_rng():
        torch.manual_seed(rank)  # other weights in each process
        mine = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.Flatten())
    try:
        embedder.set_params(model=mine).fit(paths).transform(paths)
    except ValueError as exc:
        out["different_networks"] = str(exc)
    return out


for name, part in (("stage_one", stage_one), ("pretrained", pretrained)):
    try:
        results[name] = part()
    except Exception:
        results[name] = {"error": traceback.format_exc()}
(folder / f"rank{rank}.json").write_text(json.dumps(results))
# Without this, gloo's worker threads can outlive the interpreter: the process
# then aborts at exit ("terminate called without an active exception").
torch.distributed.barrier()
torch.distributed.destroy_process_group()
"""


def _torchrun(folder):
    """One launch of two CPU processes; each leaves ``rank<r>.json`` in the folder."""
    from PIL import Image

    rng = np.random.RandomState(0)
    paths = []
    for i in range(22):
        paths.append(str(folder / f"img{i:02d}.png"))
        Image.fromarray(rng.randint(0, 256, (20, 24, 3), dtype=np.uint8)).save(paths[-1])
    (folder / "paths.json").write_text(json.dumps(paths))
    (folder / "truncated.png").write_bytes(Path(paths[0]).read_bytes()[:70])
    (folder / "run.py").write_text(_TORCHRUN_SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run",  # torchrun, of this Python
               "--standalone", "--nproc_per_node", "2", str(folder / "run.py"), str(folder)]
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
                          cwd=folder, capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"torchrun failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    ranks = [json.loads((folder / f"rank{r}.json").read_text()) for r in range(2)]
    return folder, paths, ranks


def _part(ranks, name):
    for r, result in enumerate(ranks):
        assert "error" not in result[name], f"process {r}:\n{result[name].get('error')}"
    return [result[name] for result in ranks]


def test_two_cpu_processes_under_torchrun(tmp_path):
    """Both checks in one test: under ``pytest -n 2`` a fixture would launch once per worker."""
    pytest.importorskip("accelerate")
    folder, paths, ranks = _torchrun(tmp_path)
    check_accelerated_embedder(ranks)
    check_pretrained_embedder_splits_an_image_list(folder, paths, ranks)


def check_accelerated_embedder(ranks):
    """The shards of each epoch make up exactly one epoch; the processes agree on features."""
    assert [r["processes"] for r in ranks] == [2, 2]
    result = _part(ranks, "stage_one")[0]
    y = np.array(result["y"])
    counts = np.bincount(y)
    first, second = result["shards"]
    for epoch in range(3):
        union = first[epoch] + second[epoch]
        expected = target_counts(progressive_probabilities(counts, epoch, 3), len(y))
        assert_array_equal(np.bincount(y[union], minlength=4), expected)
    assert not set(first[0]) & set(second[0])  # instance-balanced epoch: a partition
    assert_array_equal(result["features"][0], result["features"][1])


def check_pretrained_embedder_splits_an_image_list(folder, paths, ranks):
    from sklearn_lt.backbone import PretrainedEmbedder

    parts = _part(ranks, "pretrained")
    # Each process computed its half (11 + 1 unreadable), once: later calls read the cache.
    assert [p["computed"] for p in parts] == [11, 11]
    assert [p["computed_again"] for p in parts] == [11, 11]
    assert parts[0]["fingerprint"] == parts[1]["fingerprint"]
    for p in parts:  # both processes name the image that the first could not read
        assert p["unreadable"].startswith("1 of 23 images could not be read (the features of the "
                                          "readable ones are cached): Cannot read image '")
        assert "truncated.png': image file is truncated" in p["unreadable"]
        assert "same list of images" in p["different_lists"]
        assert "the processes hold different networks" in p["different_networks"]
        assert "must be one folder every process sees" in p["unshared_cache"]
    # An error in one process is raised there, and named in the other, which does not hang.
    assert parts[1]["failure"] == "ArithmeticError: a bad batch"
    assert parts[0]["failure"] == ("RuntimeError: Feature extraction failed in another "
                                   "process: process 1: ArithmeticError('a bad batch')")
    shards = sorted((folder / "cache").glob("*/*.keys.npy"))
    assert sorted(len(np.load(s)) for s in shards) == [11, 11]
    # Both return the whole list in its order: what one process computes alone.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten())
    alone = PretrainedEmbedder(net, preprocessing={"input_size": 16, "mean": 0.5, "std": 0.25},
                               verbose=0).fit(paths).transform(paths)
    for r in range(2):
        assert_allclose(np.load(folder / f"features{r}.npy"), alone, rtol=1e-5, atol=1e-6)
        assert_allclose(np.load(folder / f"reversed{r}.npy"), alone[::-1], rtol=1e-5, atol=1e-6)
