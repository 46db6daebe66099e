"""The L-BFGS passes' closed-form gradient (issue #22: cost per pass).

A softmax cross-entropy writes its logits' gradient in place and the trainer
backpropagates it through the module (``_trainer._backward_chunk``) instead of
building the loss's autograd graph. Held here: the gradients of every module
and loss are autograd's, the default fits reach the same optimum either way and
SGD's steps (the same mechanism) the same weights;
on CPU a pass goes over chunks of at most 16 MiB of logits, to the same optimum
as one chunk of all rows.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.datasets import load_digits

from sklearn_lt import CRTClassifier, LORTClassifier, RetrainedClassifier, SoftmaxClassifier
from sklearn_lt.heads import RetrainingLoss, _base, _trainer, ldam_margins
from sklearn_lt.heads._losses import CrossEntropy
from sklearn_lt.heads._modules import CosineLogits, LinearLogits, ScaledLogits
from sklearn_lt.heads._trainer import _backward_chunk, _pass_rows, cross_entropy

N_SAMPLES, N_FEATURES, N_CLASSES = 40, 6, 5


def _data(seed):
    rng = np.random.RandomState(seed)
    X = torch.as_tensor(rng.normal(size=(N_SAMPLES, N_FEATURES)))
    rest = rng.randint(N_CLASSES, size=N_SAMPLES - N_CLASSES)
    y = torch.as_tensor(np.r_[np.arange(N_CLASSES), rest])  # every class, then any
    coef = torch.as_tensor(rng.normal(size=(N_CLASSES, N_FEATURES)))
    intercept = torch.as_tensor(rng.normal(size=N_CLASSES))
    weight = torch.as_tensor(rng.uniform(0.1, 2.0, size=N_SAMPLES))
    return X, y, coef, intercept, weight


MODULES = {
    "linear": lambda coef, b, X: (LinearLogits(coef, b, 2.5), X),
    "linear, fixed intercept": lambda coef, b, X: (
        LinearLogits(coef, b, 2.5, fit_intercept=False), X),
    "scaled (LWS)": lambda coef, b, X: (ScaledLogits(coef, b, 1.7, on_logits=False), X),
    "scaled, on logits": lambda coef, b, X: (
        ScaledLogits(coef, b, 1.7, on_logits=True), X @ coef.T + b),
    "cosine": lambda coef, b, X: (CosineLogits(coef, 16.0), X),
}
LOSSES = {
    "cross-entropy": lambda: cross_entropy(),
    "balanced softmax": lambda: RetrainingLoss(offset=np.log([50.0, 20, 8, 3, 1])),
    "LDAM": lambda: RetrainingLoss(margin=ldam_margins([50, 20, 8, 3, 1], 0.5), logit_scale=4.0),
}


def _gradients(module, inputs, loss, y, weight):
    module.zero_grad()
    value = _backward_chunk(module(inputs), loss, y, weight / weight.sum())
    return value, [p.grad.clone() for p in module.parameters() if p.requires_grad]


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("module_name", MODULES)
def test_each_module_gets_autograds_gradient(module_name, loss_name):
    X, y, coef, intercept, weight = _data(0)
    module, inputs = MODULES[module_name](coef, intercept, X)
    module = module.double()
    loss = LOSSES[loss_name]()
    value, closed = _gradients(module, inputs, loss, y, weight)
    # The same loss without its closed form: autograd through the per-sample losses.
    value_ref, autograd = _gradients(module, inputs, lambda z, t: loss(z, t), y, weight)
    assert closed and len(closed) == len(autograd)
    assert_allclose(value, value_ref, rtol=1e-12)
    for mine, reference in zip(closed, autograd):
        assert_allclose(mine.numpy(), reference.numpy(), rtol=1e-10, atol=1e-14)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == c)[: max(4, 180 >> c)] for c in range(10)])
    return X[keep].astype(np.float32), y[keep]


@pytest.mark.parametrize(
    "make",
    [
        lambda: SoftmaxClassifier(random_state=0),
        lambda: SoftmaxClassifier(fit_intercept=False, tol=1e-4, random_state=0),
        lambda: RetrainedClassifier(random_state=0),
    ],
    ids=["softmax", "default base", "balanced softmax"],
)
def test_default_fits_reach_the_same_optimum_as_through_autograd(digits, make, monkeypatch):
    X, y = digits
    closed = make().fit(X, y)
    monkeypatch.setattr(CrossEntropy, "closed_form_gradient", False)
    monkeypatch.setattr(RetrainingLoss, "closed_form_gradient", False)
    through_autograd = make().fit(X, y)
    assert_allclose(closed.loss_curve_[-1], through_autograd.loss_curve_[-1], rtol=1e-5)
    assert np.mean(closed.predict(X) == through_autograd.predict(X)) >= 0.99


@pytest.mark.parametrize(
    "make",
    [
        lambda: CRTClassifier(solver="sgd", n_epochs=3, random_state=0),
        lambda: LORTClassifier(random_state=0),
        lambda: RetrainedClassifier(max_norm=0.1, n_epochs=3, random_state=0),
    ],
    ids=["cRT sgd", "LORT", "MaxNorm"],
)
def test_sgd_steps_give_autograds_weights(digits, make, monkeypatch):
    """Every batch (the epochs' last, shorter ones included) backpropagates its mean loss."""
    X, y = digits
    weights = []
    backward_chunk = _trainer._backward_chunk
    def watched(logits, loss, y_batch, row_weight):
        weights.append(row_weight.clone())
        return backward_chunk(logits, loss, y_batch, row_weight)
    monkeypatch.setattr(_trainer, "_backward_chunk", watched)
    closed = make().fit(X, y)
    sgd = [w for w in weights if len(w) < len(X) * 0.8]  # not the base's L-BFGS passes
    assert len({len(w) for w in sgd}) >= 2  # full batches and a shorter last one
    for w in sgd:
        assert_allclose(w.numpy(), np.full(len(w), 1 / len(w)), rtol=1e-6)
    monkeypatch.setattr(CrossEntropy, "closed_form_gradient", False)
    monkeypatch.setattr(RetrainingLoss, "closed_form_gradient", False)
    through_autograd = make().fit(X, y)
    assert_allclose(closed.coef_, through_autograd.coef_, rtol=1e-4, atol=1e-6)
    assert_allclose(closed.loss_curve_, through_autograd.loss_curve_, rtol=1e-5)


def test_the_passes_benchmark_prints_each_fit_against_both_bare_passes(capsys):
    """``python -m benchmarks.fidelity.passes`` on a small shape: every default L-BFGS fit
    is printed with its passes and its cost per pass against the bare pass and the bare
    products, and scikit-learn's regression on cRT's problem and on logit adjustment's."""
    from benchmarks.fidelity import passes, stopping

    passes.main(["--classes", "12", "--rows", "600", "--features", "8", "--n-max", "200",
                 "--no-recipes"])
    out = capsys.readouterr().out
    assert "the products alone" in out
    for name in stopping.HEADS:
        line = next(line for line in out.splitlines() if line.startswith(name))
        assert "passes" in line and "x the bare pass" in line and "x the products" in line
        assert int(line.split("passes")[1].split()[0]) >= 2
    for name in ("LogReg (balanced)", "LogReg (LA's base problem)"):
        assert any(line.startswith(name) and "iterations" in line for line in out.splitlines())


@pytest.mark.parametrize(
    "n_classes, expected",
    [(300, 13981), (1000, 4194), (2048, 2048), (8142, 2048), (10, 419430)],
)
def test_cpu_passes_go_over_chunks_of_16_mib_of_logits_and_2048_rows(n_classes, expected):
    assert _pass_rows(n_classes) == expected


def test_cache_sized_chunks_are_for_the_cpu_only(monkeypatch):
    """``in_cache`` and ``cpu_rows`` (the L-BFGS passes') shrink the chunks on the
    CPU; elsewhere (here the meta device, which has no data: a GPU's stand-in) the
    memory budget's chunks stay."""
    monkeypatch.setattr(_base, "_CACHE_ELEMENTS", 6)
    def steps(X, **kw):
        return [where.stop - where.start for where, _ in _base.row_chunks(X, 3, **kw)]
    for kw, on_cpu in [({"in_cache": True}, [2] * 5), ({"cpu_rows": 4}, [4, 4, 2])]:
        assert steps(torch.zeros(10, 2), **kw) == on_cpu
        assert steps(torch.empty(10, 2, device="meta"), **kw) == [10]
        assert steps(_base.LazyRows(torch.empty(10, 2, device="meta")), **kw) == [10]


def test_row_chunks_cpu_rows_caps_the_budgets_chunks():
    X = torch.zeros(10, 2)
    def sizes(**kw):
        return [where.stop - where.start for where, _ in _base.row_chunks(X, 3, **kw)]
    assert sizes() == [10]
    assert sizes(cpu_rows=4) == [4, 4, 2]
    assert sizes(cpu_rows=100) == [10]


def test_an_lbfgs_fit_goes_over_pass_chunks_to_the_one_chunk_optimum(digits, monkeypatch):
    """The fit's chunks are ``_pass_rows``'s (seen through the module's inputs), and the
    optimum is that of one chunk of all rows (float32 sums in another order)."""
    X, y = digits
    monkeypatch.setattr(_trainer, "_PASS_MIN_ROWS", 300)
    monkeypatch.setattr(_trainer, "_PASS_ELEMENTS", 0)
    seen = []
    backward_chunk = _trainer._backward_chunk
    def watched(logits, *args):
        seen.append(len(logits))
        return backward_chunk(logits, *args)
    monkeypatch.setattr(_trainer, "_backward_chunk", watched)
    chunked = SoftmaxClassifier(random_state=0).fit(X, y)
    n = len(X)
    per_pass = [300] * (n // 300) + [n % 300]
    assert seen == per_pass * len(chunked.loss_curve_)
    monkeypatch.setattr(_trainer, "_PASS_MIN_ROWS", n)
    whole = SoftmaxClassifier(random_state=0).fit(X, y)
    assert seen[-1] == n
    assert_allclose(chunked.loss_curve_[-1], whole.loss_curve_[-1], rtol=1e-5)
    assert np.mean(chunked.predict(X) == whole.predict(X)) >= 0.99
