"""Stage two on augmented views with ``fit(..., groups=)`` (#25 item 8).

The references' stage two augments every training image afresh at each epoch:
each epoch reads one view of every image and the class-aware sampler counts
images. With ``K`` precomputed views per image, SGD draws one view of each
image per epoch and the sampler counts images; L-BFGS weighs each view
``1 / K`` (every image once); LORT's early stopping holds out whole images.
The rows read are recorded by a torch module that logs its inputs.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from torch import nn

from sklearn_lt import (
    CRTClassifier,
    LORTClassifier,
    LWSClassifier,
    RetrainedClassifier,
    SoftmaxClassifier,
)
from sklearn_lt.heads._lort import _held_out_rows
from sklearn_lt.heads._trainer import Callback, TrainingOptions, cross_entropy, train
from sklearn_lt.sampling import (
    ClassBalancedSampler,
    InstanceBalancedSampler,
    SquareRootSampler,
)
from sklearn_lt.sampling._probabilities import class_indices, draw_indices, target_counts


class RowRecorder(nn.Module, Callback):
    """A linear layer on all columns but the last, which carries the row's index: logs the
    rows of every forward pass, epoch by epoch (a real module trained by the trainer)."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes).double()
        self.epochs = []

    def forward(self, X):
        self.epochs[-1].append(X[:, -1].detach().long().numpy())
        return self.linear(X[:, :-1])

    def on_epoch_begin(self, module, epoch):
        self.epochs.append([])


def images_and_views(n_images_per_class, views_per_image, n_features=4, seed=0):
    """Images of each class (``n_images_per_class``) with ``views_per_image`` views each
    (an int, or one per image): rows image-major, as ``transform_views`` gives them."""
    rng = np.random.RandomState(seed)
    y_images = np.repeat(np.arange(len(n_images_per_class)), n_images_per_class)
    sizes = np.broadcast_to(views_per_image, y_images.shape)
    groups = np.repeat(np.arange(len(y_images)), sizes)
    centres = rng.normal(size=(len(y_images), n_features)) + 2 * np.eye(n_features)[y_images]
    views = centres[groups] + 0.3 * rng.normal(size=(len(groups), n_features))
    return centres, y_images, views, y_images[groups], groups


def recorded_rows(views, y, groups, sampler, *, n_epochs=3, batch_size=7, seed=0):
    """The rows each SGD epoch of :func:`train` reads, via :class:`RowRecorder`."""
    inputs = torch.as_tensor(np.column_stack([views, np.arange(len(y))]))
    module = RowRecorder(views.shape[1], int(y.max()) + 1)
    options = TrainingOptions(
        solver="sgd", sampler=sampler, weight_decay=0.0, n_epochs=n_epochs,
        batch_size=batch_size, lr=0.1,
    )
    train(
        module, inputs, y, np.bincount(y), loss=cross_entropy(), options=options,
        rng=np.random.RandomState(seed), callbacks=[module], groups=groups,
    )
    return [np.concatenate(epoch) for epoch in module.epochs]


def test_sgd_reads_one_view_of_every_image_per_epoch():
    # Images with 1 to 5 views: each epoch reads every image exactly once, at a
    # view drawn anew (the views read change from epoch to epoch).
    sizes = np.tile([1, 2, 3, 4, 5], 8)
    _, _, views, y, groups = images_and_views([25, 10, 5], sizes)
    epochs = recorded_rows(views, y, groups, InstanceBalancedSampler(), n_epochs=4)
    for rows in epochs:
        assert len(rows) == 40
        assert_array_equal(np.sort(groups[rows]), np.arange(40))
    first_views = [np.sort(rows) for rows in epochs]
    assert not all(np.array_equal(first_views[0], other) for other in first_views[1:])


def test_an_image_drawn_twice_in_an_epoch_is_read_at_its_one_view():
    # Class-balanced sampling repeats the tail's images: within an epoch every
    # draw of an image reads the same view; the epoch has one row per image.
    _, _, views, y, groups = images_and_views([30, 3], 4)
    for rows in recorded_rows(views, y, groups, ClassBalancedSampler(), n_epochs=3):
        assert len(rows) == 33
        tail = rows[y[rows] == 1]
        assert len(tail) > 3  # repeated images
        for image in np.unique(groups[tail]):
            assert len(np.unique(tail[groups[tail] == image])) == 1


@pytest.mark.parametrize("sampler", [SquareRootSampler(), InstanceBalancedSampler()])
def test_the_sampler_counts_images_not_views(sampler):
    # 30 images of class 0 with one view each, 6 of class 1 with ten: per image
    # the counts are (30, 6), per row (30, 60). Every epoch draws the classes
    # in the proportions of the image counts, 36 rows in all.
    _, _, views, y, groups = images_and_views([30, 6], np.repeat([1, 10], [30, 6]))
    expected = target_counts(sampler.class_probabilities(np.array([30, 6])), 36)
    by_rows = target_counts(sampler.class_probabilities(np.array([30, 60])), 36)
    assert not np.array_equal(expected, by_rows)
    for rows in recorded_rows(views, y, groups, sampler, n_epochs=3):
        assert_array_equal(np.bincount(y[rows], minlength=2), expected)


def test_without_groups_the_epochs_are_the_samplers_draws():
    # groups=None: each epoch reads the sampler's draw over the rows, as before.
    _, _, views, y, _ = images_and_views([20, 6, 3], 2)
    sampler = SquareRootSampler()
    epochs = recorded_rows(views, y, None, sampler, n_epochs=3, seed=4)
    rng, per_class = np.random.RandomState(4), class_indices(y, 3)
    for rows in epochs:
        p = sampler.class_probabilities(np.bincount(y))
        assert_array_equal(rows, draw_indices(per_class, target_counts(p, len(y)), rng))


def test_lbfgs_weighs_every_image_once():
    # Image i repeated m_i times (1 to 4 identical views), as one group: the
    # weighted loss is the one of the images, so the fit is the images' fit.
    # Unit rows: the RMS row norm, the unit of weight decay, is the same too.
    X, y_images, _, _, _ = images_and_views([30, 12, 5], 1)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    sizes = np.tile([1, 2, 3, 4], 12)[: len(y_images)]
    groups = np.repeat(np.arange(len(y_images)), sizes)
    head = CRTClassifier(random_state=0)
    on_images = head.fit(X, y_images)
    on_views = CRTClassifier(random_state=0).fit(X[groups], y_images[groups], groups=groups)
    assert_array_equal(on_views.class_counts_, on_images.class_counts_)
    assert_allclose(on_views.coef_, on_images.coef_, rtol=1e-4, atol=1e-5)
    assert_allclose(on_views.intercept_, on_images.intercept_, rtol=1e-4, atol=1e-5)
    plain = CRTClassifier(random_state=0).fit(X[groups], y_images[groups])
    assert np.abs(plain.coef_ - on_images.coef_).max() > 1e-2


def test_lbfgs_with_one_row_per_group_is_the_plain_fit():
    X, y, _, _, _ = images_and_views([30, 12, 5], 1)
    plain = SoftmaxClassifier(random_state=0).fit(X, y)
    grouped = SoftmaxClassifier(random_state=0).fit(X, y, groups=np.arange(len(y))[::-1])
    assert_array_equal(grouped.coef_, plain.coef_)
    assert_array_equal(grouped.intercept_, plain.intercept_)


@pytest.mark.parametrize(
    "head",
    [
        CRTClassifier(solver="sgd", n_epochs=1, random_state=0),
        LWSClassifier(n_epochs=1, random_state=0),
        RetrainedClassifier(
            solver="sgd", reweight="class_balanced", beta=0.99, n_epochs=1, random_state=0
        ),
        LORTClassifier(n_epochs=1, random_state=0),
    ],
    ids=["cRT", "LWS", "class-balanced", "LORT"],
)
def test_identical_views_train_as_their_images(head):
    # K identical views per image: one epoch draws the images in the order a fit
    # on the images draws them, and every count (the sampler's, the class-
    # balanced loss's, weight_decay="auto", batch_size="auto", LORT's held-out
    # images) is the images'. Each differs with views counted as images.
    X, y, _, _, _ = images_and_views([40, 12, 4], 1)
    groups = np.repeat(np.arange(len(y)), 3)
    on_images = head.fit(X, y)
    coef, intercept = on_images.coef_.copy(), on_images.intercept_.copy()
    on_views = head.fit(X[groups], y[groups], groups=groups)
    assert_array_equal(on_views.class_counts_, [40, 12, 4])
    assert_allclose(on_views.coef_, coef, rtol=1e-4, atol=1e-4)
    assert_allclose(on_views.intercept_, intercept, rtol=1e-4, atol=1e-4)


def test_lort_holds_out_whole_images():
    _, _, _, y, groups = images_and_views([20, 8, 3, 1], np.tile([1, 2, 3, 4], 8))
    fit_rows, val_rows = _held_out_rows(y, 0.2, np.random.RandomState(0), groups)
    assert_array_equal(np.sort(np.concatenate([fit_rows, val_rows])), np.arange(len(y)))
    assert not np.isin(groups[val_rows], groups[fit_rows]).any()
    # floor(0.2 * images) images of each class, at least one, never the last.
    held_images = [len(np.unique(groups[val_rows][y[val_rows] == c])) for c in range(4)]
    assert held_images == [4, 1, 1, 0]


def test_lort_early_stopping_on_views():
    X, y_images, views, y, groups = images_and_views([40, 12, 4], 4)
    lort = LORTClassifier(n_epochs=3, random_state=0).fit(views, y, groups=groups)
    assert len(lort.validation_scores_) == 4
    assert_array_equal(lort.class_counts_, [40, 12, 4])
    assert lort.score(X, y_images) > 0.8


@pytest.mark.parametrize("head", [CRTClassifier(solver="sgd"), LORTClassifier()])
def test_fits_on_views_are_determined_by_random_state(head):
    _, _, views, y, groups = images_and_views([30, 10, 4], 4)
    first = head.set_params(random_state=3).fit(views, y, groups=groups).coef_.copy()
    again = head.set_params(random_state=3).fit(views, y, groups=groups).coef_.copy()
    other = head.set_params(random_state=4).fit(views, y, groups=groups).coef_.copy()
    assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_groups_as_a_tensor_or_strings():
    _, _, views, y, groups = images_and_views([20, 6], 2)
    head = CRTClassifier(solver="sgd", n_epochs=2, random_state=0)
    reference = head.fit(views, y, groups=groups).coef_.copy()
    named = np.array([f"image-{g:03d}" for g in groups])
    assert_array_equal(head.fit(views, y, groups=named).coef_, reference)
    assert_array_equal(head.fit(views, y, groups=torch.as_tensor(groups)).coef_, reference)


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda g: g[:-1], "groups has shape"),
        (lambda g: np.column_stack([g, g]), "groups has shape"),
        (lambda g: np.zeros_like(g), "have different labels"),
    ],
    ids=["short", "2-D", "mixed labels"],
)
@pytest.mark.parametrize("head", [CRTClassifier(), LORTClassifier(), LWSClassifier()])
def test_bad_groups_are_refused(head, bad, message):
    _, _, views, y, groups = images_and_views([20, 6], 2)
    with pytest.raises(ValueError, match=message):
        head.fit(views, y, groups=bad(groups))
