"""Linear softmax heads trained by the shared trainer: joint (IB), cRT and LORT."""

import torch
from sklearn.utils import check_random_state

from ..sampling import ClassBalancedSampler, InstanceBalancedSampler
from ._base import LinearHead
from ._trainer import (
    TRAINER_CONSTRAINTS,
    init_linear,
    resolve_batch_size,
    resolve_lr,
    torch_generator,
    train,
)

__all__ = ["SoftmaxClassifier", "CRTClassifier", "TrainedLinearHead"]


class TrainedLinearHead(LinearHead):
    """A linear head whose weights come out of :func:`train`.

    Subclasses give the starting weights (``_initial_weights``), the forward
    map of the trained parameters (``_trainable``), the default sampler and the
    label smoothing.
    """

    _parameter_constraints = dict(TRAINER_CONSTRAINTS)
    _default_sampler = InstanceBalancedSampler

    def _fit(self, X, y_encoded, class_counts, X_input):
        rng = check_random_state(self.random_state)
        coef, intercept, y_encoded = self._initial_weights(X, y_encoded, rng)
        params, forward, weights, inputs = self._trainable(coef, intercept, X)
        sampler = self.sampler if self.sampler is not None else self._default_sampler()
        self.sampler_ = sampler
        batch_size = resolve_batch_size(self.batch_size, len(X))
        self.loss_curve_ = train(
            forward,
            params,
            inputs,
            y_encoded,
            self.class_counts_,
            sampler=sampler,
            n_epochs=self.n_epochs,
            batch_size=batch_size,
            lr=resolve_lr(self.lr, batch_size),
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            label_smoothing=self._smoothing(),
            rng=rng,
            verbose=self.verbose,
            name=type(self).__name__,
        )
        return weights()

    def _initial_weights(self, X, y_encoded, rng):
        """Fresh ``nn.Linear``-style weights (cRT re-initialises the classifier).

        Returns the weights and the labels encoded against ``classes_``.
        """
        coef, intercept = init_linear(
            len(self.classes_),
            X.shape[1],
            generator=torch_generator(rng),
            device=X.device,
            dtype=X.dtype,
        )
        return coef, intercept, y_encoded

    def _smoothing(self):
        """Label smoothing of the cross-entropy (none: plain cross-entropy)."""
        return 0.0

    def _trainable(self, coef, intercept, X):
        """What the trainer optimises: ``coef`` and ``intercept`` themselves.

        Returns ``(params, forward, weights, inputs)``: the tensors to train,
        the map from a mini-batch of rows of ``inputs`` to logits, a callable
        giving the final ``(coef, intercept)``, and the tensor whose rows the
        trainer gathers (here the features ``X``).
        """

        def forward(X_batch):
            return torch.addmm(intercept, X_batch, coef.T)

        return [coef, intercept], forward, lambda: (coef, intercept), X


_TRAINER_DOC = """
    sampler : PowerSampler, default=None
        Draws each epoch's rows; ``None`` means {default}.
    n_epochs : int, default={n_epochs}
        Passes over the data (an epoch has as many rows as the training set).
    batch_size : int or "auto", default="auto"
        Rows per SGD step; ``"auto"`` is ``min(512, max(32, n_samples // 16))``
        (512 is the official cRT batch; small sets get at least 16 steps per
        epoch).
    lr : float or "auto", default={lr}
        Initial learning rate of SGD, annealed to zero by a per-epoch cosine.
        ``"auto"`` is 0.2 (the official cRT rate at batch 512) scaled
        linearly with the batch size.
    momentum : float, default=0.9
    weight_decay : float, default={weight_decay}
    device : str or torch.device, default=None
        Where to train; ``None`` trains on the input's device (CPU for numpy).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the sampler's draws.
    verbose : int, default=0
        Print the loss of each epoch when positive."""


class SoftmaxClassifier(TrainedLinearHead):
    __doc__ = (
        """Linear softmax classifier on frozen features, trained by SGD.

    With the default instance-balanced sampling this is the plain classifier
    of stage one (the "joint" baseline of Kang et al.); any sampler of
    :mod:`sklearn_lt.sampling` can drive it instead.

    Parameters
    ----------"""
        + _TRAINER_DOC.format(
            default="instance-balanced", n_epochs=30, lr=0.1, weight_decay=5e-4
        )
        + """

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
        In the type of the training input.
    loss_curve_ : list of float
        Mean training loss per epoch.
    sampler_ : PowerSampler
        The sampler used.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_lt import SoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = SoftmaxClassifier(random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """
    )

    def __init__(
        self,
        *,
        sampler=None,
        n_epochs=30,
        batch_size="auto",
        lr=0.1,
        momentum=0.9,
        weight_decay=5e-4,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.sampler = sampler
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose


class CRTClassifier(TrainedLinearHead):
    __doc__ = (
        """Classifier re-training, cRT (Kang et al. 2020, section 4).

    Re-initialises a linear classifier and trains it on the frozen features
    with class-balanced sampling (SGD with momentum, cosine schedule), so
    that every class gets the same share of the updates.

    Parameters
    ----------"""
        + _TRAINER_DOC.format(
            default="class-balanced", n_epochs=10, lr='"auto"', weight_decay=5e-4
        )
        + """

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
    loss_curve_ : list of float
    sampler_ : PowerSampler
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import CRTClassifier, SquareRootSampler
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 8])
    >>> X = rng.normal(size=(len(y), 5)) + 3 * np.eye(5)[y]
    >>> clf = CRTClassifier(random_state=0).fit(X, y)
    >>> clf.coef_.shape
    (3, 5)
    >>> CRTClassifier(sampler=SquareRootSampler(), random_state=0).fit(X, y).score(X, y) > 0.9
    True
    """
    )

    _default_sampler = ClassBalancedSampler

    def __init__(
        self,
        *,
        sampler=None,
        n_epochs=10,
        batch_size="auto",
        lr="auto",
        momentum=0.9,
        weight_decay=5e-4,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.sampler = sampler
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
