"""BackboneEmbedder's ``n_threads`` and ``sklearn_lt.utils.limit_threads`` (issue #23, item 16).

Each call runs on the threads asked for and gives the caller's setting back,
also when it fails; ``None`` leaves the setting alone.
"""

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_info
from torch import nn

from sklearn_lt.backbone import BackboneEmbedder
from sklearn_lt.utils import limit_threads


class ThreadRecorder(nn.Module):
    """A linear backbone that records torch's thread count at each forward (and can fail)."""

    feature_dim = 4

    def __init__(self, fail=False):
        super().__init__()
        self.linear = nn.Linear(16, self.feature_dim)
        self.fail = fail
        self.seen = []

    def forward(self, X):
        self.seen.append(torch.get_num_threads())
        if self.fail:
            raise RuntimeError("forward failed")
        return self.linear(X.flatten(1))


@pytest.fixture
def caller_threads():
    """The caller's setting during the test: 2 threads (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


@pytest.fixture
def images():
    rng = np.random.RandomState(0)
    return rng.rand(40, 1, 4, 4).astype(np.float32), np.repeat([0, 1], 20)


def _embedder(module, **params):
    return BackboneEmbedder(module, max_epochs=1, batch_size=8, random_state=0, **params)


@pytest.mark.parametrize("n_threads", [1, 3])
def test_fit_and_transform_run_on_n_threads(caller_threads, images, n_threads):
    embedder = _embedder(ThreadRecorder(), n_threads=n_threads).fit(*images)
    backbone = embedder.module_.backbone  # the fitted copy of the module
    assert set(backbone.seen) == {n_threads}
    assert torch.get_num_threads() == caller_threads
    backbone.seen.clear()
    embedder.transform(images[0])
    embedder.predict(images[0])
    assert set(backbone.seen) == {n_threads}
    assert torch.get_num_threads() == caller_threads


def test_default_is_one_thread(caller_threads, images):
    assert BackboneEmbedder().n_threads == 1
    embedder = _embedder(ThreadRecorder()).fit(*images)
    assert set(embedder.module_.backbone.seen) == {1}


def test_none_keeps_the_callers_setting(caller_threads, images):
    embedder = _embedder(ThreadRecorder(), n_threads=None).fit(*images)
    assert set(embedder.module_.backbone.seen) == {caller_threads}


def test_setting_restored_when_fit_fails(caller_threads, images):
    with pytest.raises(RuntimeError, match="forward failed"):
        _embedder(ThreadRecorder(fail=True), n_threads=1).fit(*images)
    assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize("n_threads", [0, -1, 1.5, "2"])
def test_invalid_n_threads_refused(images, n_threads):
    with pytest.raises(InvalidParameterError, match="'n_threads' parameter"):
        _embedder(ThreadRecorder(), n_threads=n_threads).fit(*images)


def test_limit_threads_bounds_torch_and_blas(caller_threads):
    np.ones((2, 2)) @ np.ones((2, 2))  # numpy's BLAS is loaded
    with limit_threads(1):
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert torch.get_num_threads() == caller_threads
    with limit_threads(None):
        assert torch.get_num_threads() == caller_threads


@pytest.mark.parametrize("n_threads", [0, 2.0, True])
def test_limit_threads_refuses_what_is_not_a_count(n_threads):
    with pytest.raises(ValueError, match="n_threads must be a positive int or None"):
        with limit_threads(n_threads):
            pass
