"""Stage one of the decoupled recipe as a skorch network and a scikit-learn transformer."""

import contextlib
import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions, validate_parameter_constraints
from skorch import NeuralNetClassifier
from skorch.callbacks import (
    EpochScoring,
    EpochTimer,
    LRScheduler,
    PassthroughScoring,
    PrintLog,
)
from skorch.dataset import unpack_data
from skorch.utils import is_dataset
from skorch.utils import to_tensor as _skorch_to_tensor
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR
from torch.utils.data import DataLoader

from ..heads import SoftmaxClassifier
from ..sampling import EpochIndexSampler, InstanceBalancedSampler, PowerSampler
from ..utils import to_numpy, validate_labels
from ._data import (
    ArrayImageDataset,
    WrappedImageDataset,
    as_image_tensor,
    augment_batch,
    check_input_shape,
    dataset_item_label,
    dataset_labels,
    image_from_item,
    is_prepared_dataset,
    passthrough_collate,
)
from ._networks import JointNet, build_network, feature_dim_of

__all__ = ["BackboneEmbedder", "CosineAnnealing"]

# History key of the per-epoch class sampling probabilities.
PROBABILITIES_KEY = "class_probabilities"


class CosineAnnealing(LRScheduler):
    """Cosine learning-rate annealing over the run, stepped once per epoch.

    torch's ``CosineAnnealingLR`` with ``T_max`` defaulting to the network's
    ``max_epochs`` at the start of training, so that changing ``max_epochs``
    (e.g. in a grid search) keeps the schedule ending at ``eta_min``. Kang et
    al. (2020, section 5.1) train stage one with this schedule. The learning
    rate of each epoch is recorded in the history as ``event_lr``.

    Parameters
    ----------
    T_max : int, default=None
        Epochs of one half cosine; ``None`` means the network's ``max_epochs``.
    eta_min : float, default=0.0
        Final learning rate.
    event_name : str or None, default="event_lr"
    """

    def __init__(self, T_max=None, eta_min=0.0, event_name="event_lr"):
        super().__init__(
            policy=CosineAnnealingLR, event_name=event_name, step_every="epoch"
        )
        self.T_max = T_max
        self.eta_min = eta_min

    @property
    def kwargs(self):
        return {"T_max": self.T_max_, "eta_min": self.eta_min}

    def initialize(self):
        super().initialize()
        self.T_max_ = self.T_max
        return self

    def on_train_begin(self, net, **kwargs):
        self.T_max_ = self.T_max if self.T_max is not None else max(int(net.max_epochs), 1)
        super().on_train_begin(net, **kwargs)


class _HistoryEpochSampler(EpochIndexSampler):
    """An ``EpochIndexSampler`` whose epoch follows the network's history only.

    accelerate's data loaders call ``set_epoch`` with their own count of
    passes over the loader, which restarts at 0 with every ``fit`` call; the
    progressive schedule follows skorch's epochs instead (``on_epoch_begin``).
    """

    def set_epoch(self, epoch):
        pass

    def move_to(self, epoch):
        EpochIndexSampler.set_epoch(self, epoch)


class _PrintLog(PrintLog):
    """skorch's ``PrintLog``, silent with ``verbose=0`` when it prints through accelerate.

    skorch prints to any sink other than ``print`` whatever ``verbose`` says;
    ``AccelerateMixin`` makes ``accelerator.print`` the sink, which would turn
    ``verbose=0`` into a no-op. A sink the user chose still always gets the table.
    """

    def on_epoch_end(self, net, **kwargs):
        accelerator = getattr(net, "accelerator", None)
        if (
            not net.verbose
            and accelerator is not None
            and self.sink == getattr(accelerator, "print", None)
        ):
            return
        super().on_epoch_end(net, **kwargs)


def _encoded_accuracy(net, X, y):
    """Validation accuracy against the encoded labels the datasets hold."""
    proba = net.predict_proba(X)
    return float(np.mean(to_numpy(proba).argmax(axis=1) == to_numpy(y)))


class BackboneEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, NeuralNetClassifier):
    """Stage one (Kang et al. 2020): a backbone and a linear classifier trained jointly.

    A skorch :class:`~skorch.classifier.NeuralNetClassifier` that is also a
    scikit-learn transformer. ``fit`` trains a backbone network and a linear
    classifier on top of it with cross-entropy (SGD with momentum 0.9, cosine
    learning-rate schedule, as in section 5.1 of the paper), drawing each
    epoch's images with ``sampler`` from the training split only.
    ``transform`` returns the penultimate features, for a stage-two head;
    ``predict``/``predict_proba`` are the joint classifier's answer, and
    ``classifier_`` is that linear classifier as a fitted
    :class:`~sklearn_lt.SoftmaxClassifier`, so that
    ``TauNormClassifier(FrozenEstimator(embedder.classifier_))`` and
    ``LWSClassifier(FrozenEstimator(...))`` rebalance the *joint* classifier as
    the paper does.

    Every other skorch argument works as in skorch (``callbacks``,
    ``iterator_train__num_workers``, ``criterion__label_smoothing``,
    ``module__width``, ``warm_start``...), and so do ``save_params`` /
    ``load_params``, pickling, ``history`` and ``partial_fit``.

    Parameters
    ----------
    module : str, torch.nn.Module or class, default="convnet"
        The backbone. A name: ``"convnet"`` (a small ConvNet for small images,
        e.g. 8x8 digits or 28x28), ``"resnet32"`` (the CIFAR ResNet-32 of the
        CIFAR-LT literature; also ``"resnet20"``, ``"resnet44"``,
        ``"resnet56"``, ``"resnet110"``) or a torchvision ResNet/ResNeXt name
        (``"resnet50"``, ``"resnext50_32x4d"``...) when torchvision is
        installed; ``module__*`` arguments go to its constructor. Or any
        ``torch.nn.Module`` (instance, or class built with ``module__*``) that
        maps images to features ``(N, d)``; ``d`` is read from a
        ``feature_dim`` or ``out_features`` attribute, else found by a dry
        forward pass. An instance is copied at each ``fit``: the module passed
        is never trained in place. The linear classifier is added on top.
    input_shape : tuple (C, H, W) or (H, W), default=None
        Image shape. Required for flat input ``(N, C*H*W)`` (e.g. ``(1, 8, 8)``
        for scikit-learn's digits), checked against 4-D input, and needed by
        ``initialize()`` before any ``fit`` (to load saved parameters).
        ``None`` takes the shape of 4-D ``(N, C, H, W)`` or 3-D grayscale
        ``(N, H, W)`` input.
    sampler : PowerSampler, default=None
        Draws each epoch's images from the training split (any sampler of
        :mod:`sklearn_lt.sampling`; progressively-balanced sampling moves along
        its schedule over ``max_epochs``). ``None`` is instance-balanced
        sampling, i.e. plain shuffling, the best choice for representations.
        The sampling probabilities of each epoch are recorded in the history
        under ``"class_probabilities"``.
    augment : bool or dict, default=False
        Standard augmentation of the training batches (never of ``transform``
        or ``predict``): random crop with zero padding and horizontal flip.
        ``True`` pads by ``max(1, round(min(H, W) / 8))`` pixels (4 on 32x32
        images, the CIFAR setting) and flips; a dict ``{"padding": int, "flip":
        bool}`` sets them.
    output : {"auto", "numpy", "torch"}, default="auto"
        Type of what ``transform``, ``predict_proba`` and ``predict`` return:
        ``"torch"`` gives tensors on the network's device (a head can be fitted
        there without a round trip through numpy), ``"numpy"`` numpy arrays,
        ``"auto"`` tensors for tensor input and numpy otherwise.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the sampler, the augmentation and any
        dropout (torch's global generators are restored after ``fit``). The
        same integer gives bit-identical features on the CPU.
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        The module returns logits.
    optimizer : torch optimizer class, default=torch.optim.SGD
    lr : float, default=0.05
        Initial learning rate, annealed to 0 by a cosine over ``max_epochs``
        (default callback ``lr_scheduler``; ``callbacks__lr_scheduler=None``
        turns it off).
    max_epochs : int, default=30
    batch_size : int, default=32
        Training and inference batch size.
    train_split : callable or None, default=None
        skorch's internal validation split (e.g.
        ``skorch.dataset.ValidSplit(5, stratified=True)``); ``None`` trains on
        all the data, as the paper does. The sampler only ever sees the
        training part.
    device : str or torch.device, default="cpu"
        ``"cuda"`` trains and embeds on the GPU.
    verbose : int, default=1
        1 prints skorch's table of one line per epoch; 0 is silent.
    optimizer__momentum : float, default=0.9
    optimizer__weight_decay : float, default=5e-4
    classes : array-like or None, default=None
        skorch's argument: all the class labels, when ``y`` may miss some (or
        to ``initialize()`` before ``fit``).
    **kwargs
        Any other argument of :class:`skorch.NeuralNet`.

    Attributes
    ----------
    module_ : JointNet
        The trained network: ``module_.backbone`` and the linear
        ``module_.fc``.
    classifier_ : SoftmaxClassifier
        The jointly trained linear classifier as a fitted scikit-learn
        estimator (``coef_`` = ``module_.fc.weight``, ``intercept_`` =
        ``module_.fc.bias``, ``classes_``, ``class_counts_``), a fresh copy
        at each access.
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class in the data given to the ``fit`` that
        initialised the network (all of it, including an internal validation
        split); saved with the parameters.
    feature_dim_ : int
        Number of features ``transform`` returns.
    input_shape_ : tuple (C, H, W)
    n_features_in_ : int
        ``C * H * W``.
    sampler_ : PowerSampler
        The sampler used by the last training run.
    history : skorch.History
        Per-epoch ``train_loss``, ``event_lr``, ``class_probabilities``...

    See Also
    --------
    sklearn_lt.TauNormClassifier, sklearn_lt.CRTClassifier, sklearn_lt.NCMClassifier
    AcceleratedBackboneEmbedder : the same with skorch's ``AccelerateMixin`` (multi-GPU).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn_lt import TauNormClassifier
    >>> from sklearn_lt.backbone import BackboneEmbedder
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> embedder = BackboneEmbedder(input_shape=(1, 8, 8), max_epochs=2, verbose=0,
    ...                             random_state=0)
    >>> embedder.fit(X[:300], y[:300]).transform(X[:5]).shape
    (5, 64)
    >>> embedder.classifier_.coef_.shape
    (10, 64)
    >>> pipe = Pipeline([("feat", embedder), ("clf", TauNormClassifier(tau=0.7))])
    >>> pipe.fit(X[:300], y[:300]).predict(X[300:303]).shape
    (3,)
    """

    _own_constraints = {
        "input_shape": [tuple, list, None],
        "sampler": [PowerSampler, None],
        "augment": ["boolean", dict],
        "output": [StrOptions({"auto", "numpy", "torch"})],
        "random_state": ["random_state"],
        "max_epochs": [Integral],
        "lr": [Real],
    }

    def __init__(
        self,
        module="convnet",
        *,
        input_shape=None,
        sampler=None,
        augment=False,
        output="auto",
        random_state=None,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=0.05,
        max_epochs=30,
        batch_size=32,
        train_split=None,
        device="cpu",
        verbose=1,
        optimizer__momentum=0.9,
        optimizer__weight_decay=5e-4,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            optimizer__momentum=optimizer__momentum,
            optimizer__weight_decay=optimizer__weight_decay,
            **kwargs,
        )
        self.input_shape = input_shape
        self.sampler = sampler
        self.augment = augment
        self.output = output
        self.random_state = random_state

    # ------------------------------------------------------------ callbacks
    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            (
                "valid_acc",
                EpochScoring(_encoded_accuracy, name="valid_acc", lower_is_better=False),
            ),
            ("lr_scheduler", CosineAnnealing()),
            ("print_log", _PrintLog(keys_ignored=[PROBABILITIES_KEY])),
        ]

    # ------------------------------------------------------------ validation
    def _check_own_params(self):
        params = {k: getattr(self, k) for k in self._own_constraints}
        validate_parameter_constraints(
            self._own_constraints, params, caller_name=type(self).__name__
        )
        check_input_shape(self.input_shape)
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive integer, got {self.max_epochs}.")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")
        if isinstance(self.augment, dict):
            unknown = set(self.augment) - {"padding", "flip"}
            if unknown:
                raise ValueError(
                    f"augment accepts the keys 'padding' and 'flip', got {sorted(unknown)}."
                )
            padding = self.augment.get("padding", 0)
            if not isinstance(padding, Integral) or isinstance(padding, bool) or padding < 0:
                raise ValueError(
                    f"augment['padding'] must be a non-negative int, got {padding!r}."
                )
            flip = self.augment.get("flip", True)
            if not isinstance(flip, (bool, np.bool_)):
                raise ValueError(f"augment['flip'] must be True or False, got {flip!r}.")

    # ------------------------------------------------------------------ data
    def _user_dataset_shape(self, dataset, fitted_shape):
        if len(dataset) == 0:
            raise ValueError("The dataset is empty: at least one sample is required.")
        shape = fitted_shape or check_input_shape(self.input_shape)
        image = image_from_item(dataset[0], shape)
        if fitted_shape is None and shape is None:
            shape = tuple(image.shape)
        return tuple(shape)

    def _encode_labels(self, y, n_samples, reset):
        """Classes, encoded labels and counts of ``y`` (string labels welcome)."""
        if not reset:
            known = self.classes_
        elif self.classes is not None:
            known = np.asarray(self.classes)
            if len(known) < 2:
                raise ValueError("classes must list at least two class labels.")
        else:
            known = None
        classes, y_encoded, counts = validate_labels(
            y, n_samples, min_classes=2 if known is None else 1
        )
        if known is None:
            return classes, y_encoded, counts
        position = {label: i for i, label in enumerate(known.tolist())}
        unknown = [c for c in classes.tolist() if c not in position]
        if unknown:
            raise ValueError(
                f"y contains labels {unknown} that are not among the classes "
                f"{known.tolist()}."
            )
        mapping = np.array([position[c] for c in classes.tolist()], dtype=np.int64)
        y_encoded = mapping[y_encoded]
        return known, y_encoded, np.bincount(y_encoded, minlength=len(known))

    def _prepare_fit(self, X, y, reset):
        """Validate ``X``, ``y``; return the training dataset, encoded labels, geometry."""
        fitted_shape = None if reset else self.input_shape_
        if is_dataset(X) and not is_prepared_dataset(X):
            shape = self._user_dataset_shape(X, fitted_shape)
            if y is None:
                y = getattr(X, "targets", None)
            if y is None:
                y = [dataset_item_label(X[i]) for i in range(len(X))]
            classes, y_encoded, counts = self._encode_labels(y, len(X), reset)
            dataset = WrappedImageDataset(X, shape, y_encoded)
        else:
            if is_prepared_dataset(X):
                raise TypeError("Pass images or a torch Dataset of images to fit.")
            images = as_image_tensor(
                X, fitted_shape=fitted_shape, input_shape=check_input_shape(self.input_shape)
            )
            shape = tuple(images.shape[1:])
            if y is None:
                raise ValueError("requires y to be passed, but the target y is None.")
            classes, y_encoded, counts = self._encode_labels(y, len(images), reset)
            y_t = torch.from_numpy(y_encoded).to(images.device)
            dataset = ArrayImageDataset(images, y_t)
        return dataset, y_encoded, shape, classes, counts

    def get_dataset(self, X, y=None):
        """The dataset of ``X`` for inference (images validated against the fitted shape).

        ``fit`` builds its training dataset itself; this is what ``transform``,
        ``predict`` and skorch's ``forward``/``forward_iter`` go through.
        """
        if is_prepared_dataset(X):
            return X
        shape = getattr(self, "input_shape_", None)
        if is_dataset(X):
            return WrappedImageDataset(X, self._user_dataset_shape(X, shape))
        images = as_image_tensor(
            X, fitted_shape=shape, input_shape=check_input_shape(self.input_shape)
        )
        return ArrayImageDataset(images)

    def get_iterator(self, dataset, training=False):
        """skorch's ``DataLoader`` with batch fetching and, for training, the sampler.

        The training iterator draws its rows with an
        :class:`~sklearn_lt.sampling.EpochIndexSampler` built from the labels of
        ``dataset``, which is the training split after skorch's
        ``train_split``: validation rows are never sampled nor counted. An
        explicit ``iterator_train__sampler`` or ``iterator_train__batch_sampler``
        replaces it.
        """
        if training:
            kwargs = self.get_params_for("iterator_train")
            iterator = self.iterator_train
        else:
            kwargs = self.get_params_for("iterator_valid")
            iterator = self.iterator_valid
        if "batch_size" not in kwargs:
            kwargs["batch_size"] = self.batch_size
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if (
            is_prepared_dataset(dataset)
            and isinstance(iterator, type)
            and issubclass(iterator, DataLoader)
        ):
            kwargs.setdefault("collate_fn", passthrough_collate)
        if training and "sampler" not in kwargs and "batch_sampler" not in kwargs:
            kwargs.pop("shuffle", None)
            kwargs["sampler"] = self._make_index_sampler(dataset)
        return iterator(dataset, **kwargs)

    def _make_index_sampler(self, dataset):
        labels = dataset_labels(dataset)
        if labels is None:
            raise ValueError(
                "Cannot read the labels of the training split, which the sampler needs; "
                "train on images (arrays, tensors) or a torch Dataset passed to fit."
            )
        sampler = self.sampler if self.sampler is not None else InstanceBalancedSampler()
        seed = sampler.random_state
        if seed is None:
            seed = getattr(self, "_run_seed_", None)
        index_sampler = _HistoryEpochSampler(
            sampler, labels, n_epochs=self.max_epochs, random_state=seed
        )
        self.sampler_ = sampler
        self._index_sampler_ = index_sampler
        self._index_sampler_classes_ = np.unique(labels)
        return index_sampler

    # ------------------------------------------------------------ the module
    def _geometry(self):
        """Image shape and number of classes the network is built for."""
        geometry = getattr(self, "_fit_geometry_", None)
        if geometry is not None:
            return geometry
        shape = check_input_shape(self.input_shape)
        if shape is None or self.classes is None:
            raise ValueError(
                f"{type(self).__name__} builds its network from the data: call fit, or "
                "pass input_shape=(C, H, W) and classes=[...] to initialize() it before "
                "(e.g. to load saved parameters)."
            )
        return shape, len(self.classes)

    def _make_backbone(self, shape, kwargs):
        module = self.module
        if isinstance(module, str):
            return build_network(module, shape[0], **kwargs)
        if isinstance(module, nn.Module):
            return type(module)(**kwargs) if kwargs else copy.deepcopy(module)
        if callable(module):
            backbone = module(**kwargs)
            if isinstance(backbone, nn.Module):
                return backbone
        raise TypeError(
            f"module must be a network name, a torch.nn.Module or a class/callable "
            f"returning one; got {module!r}."
        )

    def initialize_module(self):
        """Build ``JointNet(backbone, feature_dim, n_classes)`` for the data's geometry."""
        shape, n_classes = self._geometry()
        backbone = self._make_backbone(shape, self.get_params_for("module"))
        feature_dim = feature_dim_of(backbone, shape)
        net = JointNet(backbone, feature_dim, n_classes)
        counts = getattr(self, "_init_counts_", None)
        if counts is not None:
            net.class_counts.copy_(torch.as_tensor(counts, dtype=torch.int64))
        self.module_ = net
        self.input_shape_ = tuple(shape)
        self.feature_dim_ = int(feature_dim)
        self.n_features_in_ = int(np.prod(shape))
        return self

    def _joint_net(self):
        module = self.module_
        while not isinstance(module, JointNet):
            inner = getattr(module, "module", None) or getattr(module, "_orig_mod", None)
            if inner is None:
                raise TypeError(f"module_ is not a JointNet: {type(self.module_).__name__}")
            module = inner
        return module

    @contextlib.contextmanager
    def _returning_features(self, features):
        net = self._joint_net()
        before = net.return_features
        net.return_features = features
        try:
            yield
        finally:
            net.return_features = before

    # --------------------------------------------------------------- random
    def _synchronised_seed(self, seed):
        """Hook: the seed every process of a distributed run must share."""
        return seed

    def _cuda_devices(self):
        if not torch.cuda.is_available():
            return []
        device = torch.device(self.device) if self.device is not None else None
        if device is None or device.type == "cuda":
            index = device.index if device is not None and device.index is not None else None
            return [torch.cuda.current_device() if index is None else index]
        return []

    @contextlib.contextmanager
    def _random_context(self):
        rng = check_random_state(self.random_state)
        self._run_seed_ = self._synchronised_seed(int(rng.randint(np.iinfo(np.int32).max)))
        if self.random_state is None:
            yield
            return
        with torch.random.fork_rng(devices=self._cuda_devices()):
            torch.manual_seed(self._run_seed_)
            yield

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, **fit_params):
        """Train backbone and linear classifier jointly on images ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like, torch.Tensor or torch.utils.data.Dataset
            Images ``(N, C, H, W)``, grayscale images ``(N, H, W)``, rows
            ``(N, C*H*W)`` with ``input_shape``, or a Dataset whose items are
            images ``(C, H, W)`` (or ``(image, label)`` pairs). Values are cast
            to float32, never rescaled.
        y : array-like of shape (N,), default=None
            Labels (any type scikit-learn accepts). May be omitted for a
            Dataset with a ``targets`` attribute or ``(image, label)`` items.
        **fit_params
            Passed to the module's ``forward`` (skorch).

        Returns
        -------
        self
        """
        self._check_own_params()
        reset = not (self.warm_start and self.initialized_)
        self._fit_on(X, y, reset, fit_params, super().fit)
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising (skorch)."""
        if X is getattr(self, "_fitting_dataset_", None):  # called back by fit
            return super().partial_fit(X, y, **fit_params)
        self._check_own_params()
        self._fit_on(X, y, not self.initialized_, fit_params, super().partial_fit)
        return self

    def _fit_on(self, X, y, reset, fit_params, train):
        dataset, y_encoded, shape, classes, counts = self._prepare_fit(X, y, reset)
        if reset:
            self._fit_geometry_ = (shape, len(classes))
            self._init_counts_ = counts
            if self.classes is None:
                self.classes_inferred_ = classes
        with self._random_context():
            self._fitting_dataset_ = dataset
            try:
                train(dataset, y_encoded, **fit_params)
            finally:
                self._fitting_dataset_ = None
                self._index_sampler_ = None
                self._init_counts_ = None

    def check_data(self, X, y=None):
        # fit validated and encoded the data already; skorch's version would
        # record the *encoded* labels as classes_.
        pass

    def initialize(self):
        """Initialise the network (needs ``input_shape`` and ``classes`` before any fit)."""
        self._check_own_params()
        return super().initialize()

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        index_sampler = getattr(self, "_index_sampler_", None)
        if index_sampler is not None:
            index_sampler.move_to(len(self.history) - 1)
            full = np.zeros(len(self.classes_))
            full[self._index_sampler_classes_] = index_sampler.class_probabilities()
            self.history.record(PROBABILITIES_KEY, full.tolist())

    def _set_training(self, training=True):
        # skorch calls this before every batch and module.train() walks every
        # submodule (about a millisecond per batch for a ResNet): only switch
        # when the mode changes.
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, nn.Module) and module.training != training:
                module.train(training)

    def _augmentation(self):
        """Options of ``augment_batch`` for the training batches, or None."""
        if not isinstance(self.augment, dict) and not self.augment:
            return None
        h, w = self.input_shape_[1:]
        options = {"padding": max(1, round(min(h, w) / 8)), "flip": True}
        if isinstance(self.augment, dict):
            options.update(self.augment)
        return options

    def train_step(self, batch, **fit_params):
        options = self._augmentation()
        if options is not None:
            Xi, yi = unpack_data(batch)
            Xi = _skorch_to_tensor(Xi, device=self.device)
            batch = (augment_batch(Xi, **options), yi)
        return super().train_step(batch, **fit_params)

    # ------------------------------------------------------------- inference
    def _compute_device(self):
        if self.device is not None:
            return torch.device(self.device)
        for tensor in self.module_.parameters():
            return tensor.device
        return torch.device("cpu")

    def _wants_torch(self, X):
        return self.output == "torch" or (self.output == "auto" and isinstance(X, torch.Tensor))

    def _forward_all(self, X, *, features):
        self.check_is_fitted()
        dataset = self.get_dataset(X)
        as_torch = self._wants_torch(X)
        device = self._compute_device() if as_torch else torch.device("cpu")
        out, start = None, 0
        with self._returning_features(features):
            for part in self.forward_iter(dataset, training=False, device=device):
                part = part[0] if isinstance(part, tuple) else part
                if out is None:
                    out = part.new_empty((len(dataset), *part.shape[1:]))
                out[start : start + len(part)] = part
                start += len(part)
        return out, as_torch

    def transform(self, X):
        """Penultimate features of the backbone, computed batch by batch in eval mode.

        Parameters
        ----------
        X : array-like, torch.Tensor or torch.utils.data.Dataset
            Images as in ``fit`` (of the fitted shape).

        Returns
        -------
        features : ndarray or torch.Tensor of shape (N, ``feature_dim_``), float32
            A tensor on the network's device when ``output="torch"`` (or
            ``"auto"`` with tensor input), else numpy.
        """
        out, as_torch = self._forward_all(X, features=True)
        return out if as_torch else out.numpy()

    def predict_proba(self, X):
        """Class probabilities of the joint classifier (softmax of its logits).

        Returns
        -------
        proba : ndarray or torch.Tensor of shape (N, n_classes)
            In the type given by ``output``.
        """
        logits, as_torch = self._forward_all(X, features=False)
        proba = self._get_predict_nonlinearity()(logits)
        return proba if as_torch else to_numpy(proba)

    def predict(self, X):
        """Labels predicted by the joint classifier (from ``classes_``).

        Returns
        -------
        y_pred : ndarray or torch.Tensor of shape (N,)
            A tensor (on the network's device) when ``output`` asks for torch
            and the labels are numbers.
        """
        proba = self.predict_proba(X)
        classes = self.classes_
        if isinstance(proba, torch.Tensor):
            best = proba.argmax(dim=1)
            if classes.dtype.kind in "biuf":
                return torch.as_tensor(classes, device=best.device)[best]
            return classes[best.cpu().numpy()]
        return classes[proba.argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of the joint classifier on ``X``, ``y`` (numpy or torch, any mix)."""
        return accuracy_score(
            to_numpy(y), to_numpy(self.predict(X)), sample_weight=sample_weight
        )

    # ------------------------------------------------------ fitted attributes
    @property
    def class_counts_(self):
        self.check_is_fitted()
        return self._joint_net().class_counts.detach().cpu().numpy().copy()

    @property
    def classifier_(self):
        self.check_is_fitted()
        fc = self._joint_net().fc
        head = SoftmaxClassifier()
        head.classes_ = self.classes_
        head.class_counts_ = self.class_counts_
        head.coef_ = fc.weight.detach().cpu().numpy().copy()
        head.intercept_ = fc.bias.detach().cpu().numpy().copy()
        head.n_features_in_ = head.coef_.shape[1]
        return head

    @property
    def _n_features_out(self):
        self.check_is_fitted()
        return self.feature_dim_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
