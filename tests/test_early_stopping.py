"""Early stopping of the SGD-trained heads on held-out rows (``fit(X, y, X_val, y_val)``)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from sklearn_lt import CRTClassifier, LORTClassifier, LWSClassifier, SoftmaxClassifier


def data(seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat([0, 1, 2, 3], [120, 40, 12, 6])
    X = rng.normal(size=(len(y), 6)) + 1.5 * np.eye(6)[y]
    y_val = np.repeat([0, 1, 2, 3], 15)
    X_val = rng.normal(size=(len(y_val), 6)) + 1.5 * np.eye(6)[y_val]
    return X, y, X_val, y_val


@pytest.mark.parametrize(
    "head",
    [
        LORTClassifier(n_epochs=6, random_state=0),
        LWSClassifier(random_state=0),
        CRTClassifier(solver="sgd", n_epochs=4, random_state=0),
        SoftmaxClassifier(solver="sgd", n_epochs=4, random_state=0),
    ],
    ids=lambda h: type(h).__name__,
)
def test_the_kept_epoch_is_the_best_on_validation(head):
    X, y, X_val, y_val = data()
    head.fit(X, y, X_val=X_val, y_val=y_val)
    scores = np.asarray(head.validation_scores_)
    assert scores.shape == (head.n_epochs + 1,)  # epoch 0 is the starting point
    assert head.best_epoch_ == int(np.argmax(scores))  # the earliest of ties
    # The fitted head is the kept epoch: its validation score is the best one.
    assert balanced_accuracy_score(y_val, head.predict(X_val)) == pytest.approx(scores.max())


def test_epoch_zero_keeps_the_starting_weights():
    X, y, X_val, y_val = data()
    base = LogisticRegression().fit(X, y)
    # A learning rate this large wrecks the base in one epoch: epoch 0 must win.
    lort = LORTClassifier(FrozenEstimator(base), lr=1e4, n_epochs=2, random_state=0)
    lort.fit(X, y, X_val=X_val, y_val=y_val)
    assert lort.best_epoch_ == 0
    assert_allclose(lort.coef_, base.coef_, rtol=1e-6)
    assert_allclose(lort.intercept_, base.intercept_, rtol=1e-6)


def test_early_stopping_errors():
    X, y, X_val, y_val = data()
    with pytest.raises(ValueError, match="both X_val and y_val"):
        LORTClassifier().fit(X, y, X_val=X_val)
    with pytest.raises(ValueError, match="solver='sgd'"):
        CRTClassifier().fit(X, y, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="features"):
        LORTClassifier().fit(X, y, X_val=X_val[:, :3], y_val=y_val)
    with pytest.raises(ValueError, match="inconsistent"):
        LORTClassifier().fit(X, y, X_val=X_val, y_val=y_val[:-1])


def test_an_auto_solver_that_resolves_to_sgd_takes_validation_data():
    from sklearn_lt import RetrainedClassifier

    X, y, X_val, y_val = data()
    head = RetrainedClassifier(max_norm=0.1, n_epochs=3, random_state=0)  # "auto" -> SGD
    head.fit(X, y, X_val=X_val, y_val=y_val)
    assert len(head.validation_scores_) == 4
    with pytest.raises(ValueError, match="solver='sgd'"):
        RetrainedClassifier(random_state=0).fit(X, y, X_val=X_val, y_val=y_val)  # L-BFGS


def test_reordered_validation_columns_are_refused():
    # X_val's columns were read by position: reordered ones scored the wrong
    # features and kept the wrong epoch (issue 24, item 5).
    pd = pytest.importorskip("pandas")
    X, y, X_val, y_val = data()
    columns = [f"f{i}" for i in range(6)]
    frame, frame_val = pd.DataFrame(X, columns=columns), pd.DataFrame(X_val, columns=columns)
    head = SoftmaxClassifier(solver="sgd", n_epochs=3, random_state=0)
    by_name = head.fit(frame, y, X_val=frame_val, y_val=y_val).validation_scores_
    assert by_name == SoftmaxClassifier(solver="sgd", n_epochs=3, random_state=0).fit(
        X, y, X_val=X_val, y_val=y_val).validation_scores_
    shuffled = columns[1:] + columns[:1]
    with pytest.raises(ValueError, match=r"X_val's columns \['f1', .*'f0'\] are not X's "
                                         r"\['f0', .*'f5'\]"):
        SoftmaxClassifier(solver="sgd", n_epochs=3).fit(
            frame, y, X_val=frame_val[shuffled], y_val=y_val)
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        SoftmaxClassifier(solver="sgd", n_epochs=3).fit(
            frame, y, X_val=frame_val.rename(columns={"f0": "g"}), y_val=y_val)


def test_validation_labels_unknown_to_the_training_labels():
    # y_val sharing no label with y scored 0 at every epoch and silently kept
    # the random start (issue 24, item 12).
    X, y, X_val, y_val = data()
    with pytest.raises(ValueError, match=r"y_val shares no label with y: y_val has "
                                         r"\[10, 11, 12, 13\], y has \[0, 1, 2, 3\]"):
        CRTClassifier(solver="sgd", n_epochs=2).fit(X, y, X_val=X_val, y_val=y_val + 10)
    # Some unknown: they can never be predicted, but the epochs still rank.
    partial = np.where(y_val == 3, 7, y_val)
    with pytest.warns(UserWarning, match=r"y_val has labels \[7\] that y lacks"):
        head = CRTClassifier(solver="sgd", n_epochs=2, random_state=0).fit(
            X, y, X_val=X_val, y_val=partial)
    assert max(head.validation_scores_) > 0.5


@pytest.mark.parametrize(
    "kind", ["float32", "torch", "list", "reversed rows", "flipped F-order", "frame"]
)
def test_every_kind_of_validation_set_scores_as_its_numpy_form(kind):
    # The same rows in another container, layout or order score every epoch
    # the same (reversed rows: numpy views with negative strides, issue 24).
    pd = pytest.importorskip("pandas")
    torch = pytest.importorskip("torch")
    X, y, X_val, y_val = data()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    forms = {
        "float32": (X, X_val.astype(np.float32), y_val),
        "torch": (X, torch.from_numpy(X_val), torch.from_numpy(y_val)),
        "list": (X, X_val.tolist(), y_val.tolist()),
        "reversed rows": (X, X_val[::-1], y_val[::-1]),
        "flipped F-order": (X, np.flip(np.asfortranarray(X_val), axis=0), y_val[::-1]),
        "frame": (frame, pd.DataFrame(X_val, columns=frame.columns), y_val),
    }
    X_fit, X_val_kind, y_val_kind = forms[kind]
    head = SoftmaxClassifier(solver="sgd", n_epochs=4, random_state=0)
    reference = clone(head).fit(X, y, X_val=X_val, y_val=y_val).validation_scores_
    # X_val is scored in X's dtype (float64 here), whatever its own.
    scores = clone(head).fit(X_fit, y, X_val=X_val_kind, y_val=y_val_kind).validation_scores_
    assert_allclose(scores, reference)
