"""Every loss of LORT's Table 1 held to a plain port of its reference code (issue #25).

Each ``reference_*`` function below is written from the reference
codebase's formula as that code runs it (reduction included), in float64
torch; each test compares the batch mean of our per-sample loss (what the
trainer minimises) and its gradient with respect to the logits, on random
logits, labels and long-tailed class counts. References:

- LDAM-DRW (kaidic/LDAM-DRW, ``losses.py``, ``cifar_train.py``): weighted
  cross-entropy ``nn.CrossEntropyLoss(weight=w)``; ``LDAMLoss``; ``FocalLoss``;
  ``w`` the class-balanced weights (beta 0.9999) scaled to sum to ``C``,
  deferred to epoch 160 (DRW).
- Class-balanced loss (richardaecn/class-balanced-loss, ``src/cifar_main.py``):
  softmax with per-sample weights summed over the batch size (TensorFlow's
  ``SUM_BY_NONZERO_WEIGHTS``), sigmoid and sigmoid focal summed over the
  positives.
- The PyTorch port of it used by LTR-weight-balancing (``utils/class_balanced_loss.py``):
  ``loss_type="softmax"``, binary cross-entropy of softmax probabilities.
- Balanced Softmax (``logits + log n_j``), the logit-adjusted loss of
  google-research (``logits + log(pi**tau + 1e-12)``), LOS's (LORT's)
  ``CrossEntropyLoss(label_smoothing=eps)``.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

from sklearn_lt.heads import RetrainingLoss, class_balanced_weights, ldam_margins, log_priors
from sklearn_lt.heads._losses import softmax_cross_entropy_
from sklearn_lt.heads._trainer import cross_entropy

SEEDS = [0, 1, 2]
TOL = {"rtol": 1e-6, "atol": 1e-9}


def _problem(seed, n_classes=7, n_samples=64, logit_scale=3.0):
    """Random logits, labels and long-tailed counts (imbalance up to ~100)."""
    rng = np.random.RandomState(seed)
    counts = np.maximum(1, np.round(500 * 0.01 ** (np.arange(n_classes) / (n_classes - 1))))
    counts = counts * rng.uniform(0.8, 1.2, size=n_classes)
    counts = np.round(counts)
    logits = rng.normal(scale=logit_scale, size=(n_samples, n_classes))
    y = rng.choice(n_classes, size=n_samples, p=counts / counts.sum())  # a long-tailed batch
    y[:n_classes] = np.arange(n_classes)  # with every class in it
    return torch.as_tensor(logits), torch.as_tensor(y), counts


def _value_and_grad(batch_loss, logits):
    logits = logits.clone().requires_grad_(True)
    value = batch_loss(logits)
    (grad,) = torch.autograd.grad(value, logits)
    return float(value.detach()), grad.numpy()


def _assert_same(ours, reference, logits):
    """Our per-sample loss, averaged as the trainer does, equals the reference's reduction."""
    our_value, our_grad = _value_and_grad(lambda z: ours(z).mean(), logits)
    ref_value, ref_grad = _value_and_grad(reference, logits)
    assert_allclose(our_value, ref_value, **TOL)
    assert_allclose(our_grad, ref_grad, **TOL)


# ----------------------------------------------------------- reference ports
def reference_cb_weights(counts, beta):
    """LDAM-DRW / Cui: (1 - beta) / (1 - beta**n), normalised to sum to C."""
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return weights / weights.sum() * len(counts)


def reference_ldam_margins(counts, max_m):
    m_list = 1.0 / np.sqrt(np.sqrt(counts))
    return m_list * (max_m / np.max(m_list))


def reference_ldam(x, target, m_list, s, weight):
    """LDAM-DRW's LDAMLoss.forward: margin on the true logit, then s * logits."""
    index = F.one_hot(target, x.shape[1]).bool()
    x_m = x - torch.as_tensor(m_list)[target][:, None]
    output = torch.where(index, x_m, x)
    w = None if weight is None else torch.as_tensor(weight)
    return F.cross_entropy(s * output, target, weight=w)


def reference_ldam_drw_focal(x, target, weight, gamma):
    """LDAM-DRW's FocalLoss: the modulating factor of the *weighted* cross-entropy."""
    w = None if weight is None else torch.as_tensor(weight)
    input_values = F.cross_entropy(x, target, reduction="none", weight=w)
    p = torch.exp(-input_values)
    return ((1 - p) ** gamma * input_values).mean()


def reference_lin_focal(x, target, alpha, gamma):
    """Lin et al., eq. 5 (softmax form): alpha_t (1 - p_t)**gamma (-log p_t), batch mean."""
    log_p = torch.log_softmax(x, dim=1).gather(1, target[:, None])[:, 0]
    return (torch.as_tensor(alpha)[target] * (1 - log_p.exp()) ** gamma * -log_p).mean()


def reference_cui_softmax(x, target, weights):
    """Cui's softmax: tf.losses.softmax_cross_entropy(weights=w_y), SUM_BY_NONZERO_WEIGHTS."""
    per_sample = F.cross_entropy(x, target, reduction="none")
    w = torch.as_tensor(weights)[target]
    return (w * per_sample).sum() / (w != 0).sum()


def reference_cui_sigmoid(x, target, weights, gamma):
    """Cui's sigmoid (gamma=0) and focal losses: sum over classes and rows / sum(labels)."""
    labels = F.one_hot(target, x.shape[1]).to(x.dtype)
    alpha = torch.as_tensor(weights)[target][:, None].expand_as(x)
    bce = F.binary_cross_entropy_with_logits(x, labels, reduction="none")
    if gamma == 0:
        modulator = 1.0
    else:
        modulator = torch.exp(-gamma * labels * x - gamma * torch.log1p(torch.exp(-1.0 * x)))
    return (alpha * modulator * bce).sum() / labels.sum()


def reference_ltwb_softmax_bce(x, target, weights):
    """The PyTorch port's CB_loss(loss_type="softmax") as LTR-weight-balancing calls it."""
    labels = F.one_hot(target, x.shape[1]).to(x.dtype)
    w = torch.as_tensor(weights)[target][:, None].repeat(1, x.shape[1])
    return F.binary_cross_entropy(x.softmax(dim=1), labels, weight=w)


# -------------------------------------------------------------- the weights
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("beta", [0.9, 0.99, 0.9999])
def test_class_balanced_weights_are_the_references(seed, beta):
    _, _, counts = _problem(seed)
    assert_allclose(class_balanced_weights(counts, beta), reference_cb_weights(counts, beta),
                    rtol=1e-10)
    assert_allclose(ldam_margins(counts, 0.5), reference_ldam_margins(counts, 0.5), rtol=1e-12)


# ------------------------------------------------- Vanilla FC, cosine, cRT
@pytest.mark.parametrize("seed", SEEDS)
def test_plain_cross_entropy_is_torchs(seed):
    logits, y, _ = _problem(seed)
    _assert_same(lambda z: RetrainingLoss()(z, y), lambda z: F.cross_entropy(z, y), logits)


# ------------------------------------------ DRW and the class-balanced loss
@pytest.mark.parametrize("seed", SEEDS)
def test_weight_normalization_weights_is_torch_cross_entropy_with_weight(seed):
    # LDAM-DRW's CE-DRW after the switch: nn.CrossEntropyLoss(weight=per_cls_weights).
    logits, y, counts = _problem(seed)
    w = class_balanced_weights(counts, 0.9999)
    ours = RetrainingLoss(class_weight=w, weight_normalization="weights")
    _assert_same(lambda z: ours(z, y),
                 lambda z: F.cross_entropy(z, y, weight=torch.as_tensor(w)), logits)


@pytest.mark.parametrize("seed", SEEDS)
def test_batch_size_normalization_is_cuis_softmax_loss(seed):
    logits, y, counts = _problem(seed)
    w = class_balanced_weights(counts, 0.9999)
    _assert_same(lambda z: RetrainingLoss(class_weight=w)(z, y),
                 lambda z: reference_cui_softmax(z, y, w), logits)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_two_normalizations_differ_by_the_batchs_mean_weight(seed):
    # Regression guard: the reference's SGD gradient is ours over the batch's mean weight.
    logits, y, counts = _problem(seed)
    w = class_balanced_weights(counts, 0.9999)
    ours = _value_and_grad(lambda z: RetrainingLoss(class_weight=w)(z, y).mean(), logits)
    torchs = _value_and_grad(
        lambda z: RetrainingLoss(class_weight=w, weight_normalization="weights")(z, y).mean(),
        logits,
    )
    mean_weight = w[y.numpy()].mean()
    assert abs(mean_weight - 1) > 0.1
    assert_allclose(torchs[1] * mean_weight, ours[1], **TOL)


# ------------------------------------------------------------------- LDAM
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True], ids=["before-DRW", "after-DRW"])
def test_ldam_on_linear_logits_with_the_reference_scale(seed, weighted):
    logits, y, counts = _problem(seed, logit_scale=0.3)
    s, m = 30.0, ldam_margins(counts, 0.5)
    w = class_balanced_weights(counts, 0.9999) if weighted else None
    ours = RetrainingLoss(logit_scale=s, margin=s * m, class_weight=w,
                          weight_normalization="weights")
    _assert_same(lambda z: ours(z, y),
                 lambda z: reference_ldam(z, y, reference_ldam_margins(counts, 0.5), s, w),
                 logits)


@pytest.mark.parametrize("seed", SEEDS)
def test_ldam_on_linear_logits_by_default_is_the_reference_at_z_over_s(seed):
    # Our default form (margins in units of s on unscaled logits), as the issue states it.
    logits, y, counts = _problem(seed)
    s, m = 30.0, ldam_margins(counts, 0.5)
    _assert_same(lambda z: RetrainingLoss(margin=s * m)(z, y),
                 lambda z: reference_ldam(z / s, y, m, s, None), logits)


@pytest.mark.parametrize("seed", SEEDS)
def test_ldam_on_cosine_logits_is_the_reference_normed_layer(seed):
    # Our cosine layer outputs s * cos; LDAM-DRW's NormedLinear outputs cos and LDAMLoss scales.
    cosines, y, counts = _problem(seed, logit_scale=0.3)
    cosines = cosines.clamp(-1, 1)
    s, m = 30.0, ldam_margins(counts, 0.5)
    w = class_balanced_weights(counts, 0.9999)
    ours = RetrainingLoss(margin=s * m, class_weight=w, weight_normalization="weights")
    _assert_same(lambda c: ours(s * c, y), lambda c: reference_ldam(c, y, m, s, w), cosines)


# ------------------------------------------------------------------ focal
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
def test_ldam_drw_focal_puts_the_weight_inside_the_modulating_factor(seed, gamma):
    logits, y, counts = _problem(seed)
    w = class_balanced_weights(counts, 0.9999)
    ours = RetrainingLoss(gamma=gamma, class_weight=w, focal_form="ldam_drw")
    _assert_same(lambda z: ours(z, y),
                 lambda z: reference_ldam_drw_focal(z, y, w, gamma), logits)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_lin_focal_is_alpha_t_outside(seed, gamma):
    logits, y, counts = _problem(seed)
    w = class_balanced_weights(counts, 0.9999)
    _assert_same(lambda z: RetrainingLoss(gamma=gamma, class_weight=w)(z, y),
                 lambda z: reference_lin_focal(z, y, w, gamma), logits)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_focal_forms_agree_without_weights(seed):
    logits, y, _ = _problem(seed)
    _assert_same(lambda z: RetrainingLoss(gamma=1.0, focal_form="ldam_drw")(z, y),
                 lambda z: reference_ldam_drw_focal(z, y, None, 1.0), logits)


def test_ldam_drw_focal_gradient_is_finite_where_the_true_class_is_certain():
    logits = torch.tensor([[60.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64,
                          requires_grad=True)
    loss = RetrainingLoss(gamma=0.5, class_weight=[1.0, 2.0, 3.0], focal_form="ldam_drw")
    loss(logits, torch.tensor([0, 1])).sum().backward()
    assert torch.isfinite(logits.grad).all()


# ------------------------------------------- class-balanced loss with BCE
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
def test_sigmoid_bce_is_cuis_sigmoid_and_focal_loss(seed, gamma):
    logits, y, counts = _problem(seed)
    w = class_balanced_weights(counts, 0.9999)
    ours = RetrainingLoss(gamma=gamma, class_weight=w, form="sigmoid_bce")
    _assert_same(lambda z: ours(z, y), lambda z: reference_cui_sigmoid(z, y, w, gamma), logits)


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_bce_is_the_pytorch_port_ltwb_uses(seed):
    logits, y, counts = _problem(seed)
    w = class_balanced_weights(counts, 0.9999)
    ours = RetrainingLoss(class_weight=w, form="softmax_bce")
    _assert_same(lambda z: ours(z, y), lambda z: reference_ltwb_softmax_bce(z, y, w), logits)


def test_softmax_bce_is_finite_where_a_probability_rounds_to_one():
    logits = torch.tensor([[80.0, 0.0, 0.0], [0.0, 80.0, 0.0]], dtype=torch.float64,
                          requires_grad=True)
    y = torch.tensor([0, 0])  # the second row is certain of the wrong class
    value = RetrainingLoss(form="softmax_bce")(logits, y)
    value.sum().backward()
    assert torch.isfinite(value).all() and torch.isfinite(logits.grad).all()
    # torch's floor of -100 on log(1 - p): (100 + 80) / 3 for the second row.
    assert_allclose(value[1].item(), (100 + 80) / 3, rtol=1e-6)


# ----------------------------------------------- logit offsets and LORT
@pytest.mark.parametrize("seed", SEEDS)
def test_balanced_softmax_is_cross_entropy_of_logits_plus_log_counts(seed):
    logits, y, counts = _problem(seed)
    _assert_same(lambda z: RetrainingLoss(offset=log_priors(counts))(z, y),
                 lambda z: F.cross_entropy(z + torch.as_tensor(np.log(counts)), y), logits)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_logit_adjusted_loss_is_google_researchs(seed, tau):
    logits, y, counts = _problem(seed)
    base_probs = counts / counts.sum()
    adjustment = torch.as_tensor(np.log(base_probs**tau + 1e-12))
    _assert_same(lambda z: RetrainingLoss(offset=tau * log_priors(counts))(z, y),
                 lambda z: F.cross_entropy(z + adjustment, y), logits)


@pytest.mark.parametrize("seed", SEEDS)
def test_lort_target_is_los_label_smoothing(seed):
    logits, y, _ = _problem(seed)
    eps, n_classes = 0.98, logits.shape[1]
    target = (1 - eps) * F.one_hot(y, n_classes) + eps / n_classes

    def reference(z):
        return -(target * torch.log_softmax(z, dim=1)).sum(dim=1).mean()

    _assert_same(lambda z: cross_entropy(eps)(z, y), reference, logits)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "params, message",
    [
        ({"form": "hinge"}, "form must be one of"),
        ({"focal_form": "alpha"}, "focal_form must be one of"),
        ({"weight_normalization": "sum"}, "weight_normalization must be one of"),
        ({"form": "softmax_bce", "gamma": 2.0}, "no focal term"),
        ({"form": "sigmoid_bce", "focal_form": "ldam_drw"}, "softmax focal loss"),
    ],
)
def test_bad_forms_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        RetrainingLoss(**params)


# ---------------------------------------------------- closed-form gradients
# The trainer's full-batch passes take a softmax cross-entropy's gradient in
# closed form (``weighted_sum_and_gradient_``, logits overwritten in place):
# it must be autograd's of ``sum_i w_i * loss_i``, for every loss that has one.
CLOSED_FORMS = {
    "cross_entropy": lambda counts: cross_entropy(),
    "smoothed (LORT)": lambda counts: cross_entropy(0.98),
    "balanced softmax": lambda counts: RetrainingLoss(offset=np.log(counts)),
    "logit-adjusted": lambda counts: RetrainingLoss(offset=1.5 * log_priors(counts)),
    "LDAM": lambda counts: RetrainingLoss(
        margin=30.0 * ldam_margins(counts, 0.5), logit_scale=30.0),
    "class weights": lambda counts: RetrainingLoss(
        class_weight=class_balanced_weights(counts, 0.9999)),
    "class weights, torch's normalization": lambda counts: RetrainingLoss(
        class_weight=class_balanced_weights(counts, 0.9999), weight_normalization="weights",
        logit_scale=2.0, offset=np.log(counts)),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_closed_form_gradient_is_autograds(name, seed):
    logits, y, counts = _problem(seed)
    loss = CLOSED_FORMS[name](counts)
    row_weight = torch.as_tensor(np.random.RandomState(seed).uniform(0, 2, len(y)))
    ref_value, ref_grad = _value_and_grad(lambda z: (loss(z, y) * row_weight).sum(), logits)
    assert loss.closed_form_gradient
    gradient = logits.clone()
    with torch.no_grad():
        value = loss.weighted_sum_and_gradient_(gradient, y, row_weight)
    assert_allclose(float(value), ref_value, **TOL)
    assert_allclose(gradient.numpy(), ref_grad, **TOL)


def test_deferred_class_weights_enter_the_closed_form_at_their_epoch():
    logits, y, counts = _problem(0)
    weights = class_balanced_weights(counts, 0.9999)
    loss = RetrainingLoss(class_weight=weights, weight_from_epoch=2)
    ones = torch.ones(len(y), dtype=logits.dtype)
    for epoch, expected in [(1, cross_entropy()), (2, RetrainingLoss(class_weight=weights))]:
        loss.set_epoch(epoch)
        mine, theirs = logits.clone(), logits.clone()
        with torch.no_grad():
            loss.weighted_sum_and_gradient_(mine, y, ones)
            expected.weighted_sum_and_gradient_(theirs, y, ones)
        assert torch.equal(mine, theirs), epoch


@pytest.mark.parametrize(
    "params", [{"gamma": 2.0}, {"form": "sigmoid_bce"}, {"form": "softmax_bce"}]
)
def test_losses_without_a_closed_form_say_so_and_refuse_it(params):
    logits, y, counts = _problem(0)
    loss = RetrainingLoss(**params)
    assert not loss.closed_form_gradient
    with pytest.raises(ValueError, match="no closed form"):
        loss.weighted_sum_and_gradient_(logits.clone(), y, torch.ones(len(y)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.98])
def test_softmax_cross_entropy_closed_form_is_the_numpy_formula(seed, eps):
    """``sum_i w_i (logsumexp(z_i) - t_i . z_i)`` and ``w_i (softmax(z_i) - t_i)``, with
    ``t_i = (1 - eps) onehot(y_i) + eps / C``, written in plain numpy."""
    logits, y, _ = _problem(seed)
    z, labels = logits.numpy(), y.numpy()
    w = np.random.RandomState(seed).uniform(0, 2, len(labels))
    n_classes = z.shape[1]
    target = (1 - eps) * np.eye(n_classes)[labels] + eps / n_classes
    shifted = z - z.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    softmax = np.exp(shifted - log_total)
    value = np.sum(w * (z.max(axis=1) + log_total[:, 0] - (target * z).sum(axis=1)))
    gradient = logits.clone()
    with torch.no_grad():
        ours = softmax_cross_entropy_(gradient, y, torch.as_tensor(w), label_smoothing=eps)
    assert_allclose(float(ours), value, **TOL)
    assert_allclose(gradient.numpy(), w[:, None] * (softmax - target), **TOL)
