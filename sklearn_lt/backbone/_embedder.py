"""Stage one of the decoupled recipe as a skorch network and a scikit-learn transformer.

The class follows skorch's seams: the data goes through ``get_dataset`` and
``get_iterator`` (``_data.py``), the per-epoch sampling and the learning-rate
schedule are callbacks (``_callbacks.py``), the network is built in
``initialize_module`` (``_networks.py``) and the joint classifier is read
out in ``on_train_end``. Multi-GPU training is ``_accelerate.py``.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_feature_names
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from torch.utils.data import DataLoader

from ..sampling import InstanceBalancedSampler, PowerSampler
from ..utils import limit_threads
from ._callbacks import (
    PROBABILITIES_KEY,
    ClassSampling,
    CosineAnnealing,
    encoded_accuracy,
    run_seed,
    torch_seeded,
)
from ._data import (
    augment_batch,
    augment_options,
    check_input_shape,
    inference_data,
    is_prepared_dataset,
    passthrough_collate,
    training_data,
)
from ._inference import JointInferenceMixin
from ._networks import joint_network
from ._views import batchnorm_mode, check_view_params, view_groups

__all__ = ["BackboneEmbedder"]


class BackboneEmbedder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, JointInferenceMixin, NeuralNetClassifier
):
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

    In a search over stage-two parameters (tau, a head's options), give the
    pipeline a ``memory`` (scikit-learn's caching of fitted transformers):
    each fold's embedder is then trained once and reused by every candidate,
    ``Pipeline([("feat", BackboneEmbedder()), ("clf", ...)], memory=folder)``.

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
        its schedule over ``max_epochs``), through the default callback
        ``sampling``. ``None`` is instance-balanced sampling, i.e.
        plain shuffling, the best choice for representations. The sampling
        probabilities of each epoch are recorded in the history under
        ``"class_probabilities"``.
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
    n_threads : int or None, default=1
        CPU threads of torch (and of the BLAS/OpenMP pools that
        ``threadpoolctl`` sees) while ``fit``, ``transform`` and ``predict``
        run; the caller's setting is restored afterwards. ``None`` uses
        torch's current setting (``torch.get_num_threads()``, one per core by
        default). One thread is the default because the built-in networks'
        small per-batch operations gain little from more threads and lose
        much when the cores are shared (a search with ``n_jobs``, other
        processes): see "Threads" in the GPU and CPU guide. Raise it for a
        large network on a machine of your own.
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        The module returns logits.
    optimizer : torch optimizer class, default=torch.optim.SGD
    lr : float, default=0.05
        Initial learning rate, annealed to 0 by a cosine over ``max_epochs``
        (default callback ``lr_scheduler``; ``callbacks__lr_scheduler=None``
        turns it off).
    max_epochs : int, default=30
    batch_size : int, default=32
        Training and inference batch size (-1: all the rows in one batch).
    train_split : callable or None, default=None
        skorch's internal validation split (e.g.
        ``skorch.dataset.ValidSplit(5, stratified=True)``); ``None`` trains on
        all the data, as the paper does. The sampler only ever sees the
        training part.
    device : str or torch.device, default="cpu"
        ``"cuda"`` trains and embeds on the GPU.
    verbose : int, default=0
        0 is silent, as scikit-learn's estimators are: a search or a
        cross-validation fits many embedders. 1 prints skorch's table of one
        line per epoch, to follow a single long fit.
    classes : array-like or None, default=None
        skorch's argument: all the class labels, when ``y`` may miss some (or
        to ``initialize()`` before ``fit``).
    iterator_train, iterator_valid, callbacks, predict_nonlinearity, warm_start, \
compile, use_caching, torch_load_kwargs
        As in :class:`skorch.NeuralNet`, with its defaults.
    optimizer__momentum : float, default=0.9
    optimizer__weight_decay : float, default=5e-4
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
        ``module_.fc.bias``, ``classes_``, ``class_counts_``), built at the
        end of each training run and by ``load_params``.
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
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of a DataFrame given to ``fit`` (only then);
        ``transform`` and ``predict`` refuse other columns or another order.
    sampler_ : PowerSampler
        The sampler of the last training run.
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
    >>> embedder = BackboneEmbedder(input_shape=(1, 8, 8), max_epochs=2, random_state=0)
    >>> embedder.fit(X[:300], y[:300]).transform(X[:5]).shape
    (5, 64)
    >>> embedder.classifier_.coef_.shape
    (10, 64)
    >>> pipe = Pipeline([("feat", embedder), ("clf", TauNormClassifier(tau=0.7))])
    >>> pipe.fit(X[:300], y[:300]).predict(X[300:303]).shape
    (3,)
    """

    # The contents of input_shape and of an augment dict are checked where
    # they are read (check_input_shape, augment_options), as scikit-learn
    # checks class_weight dicts.
    _parameter_constraints = {
        "module": [str, callable],
        "input_shape": [tuple, list, None],
        "sampler": [PowerSampler, None],
        "augment": ["boolean", dict],
        "output": [StrOptions({"auto", "numpy", "torch"})],
        "random_state": ["random_state"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
        "train_split": [callable, None],
        "device": [str, torch.device, None],
        "verbose": ["verbose"],
        "classes": ["array-like", None],
        "warm_start": ["boolean"],
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
        n_threads=1,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=0.05,
        max_epochs=30,
        batch_size=32,
        train_split=None,
        device="cpu",
        verbose=0,
        classes=None,
        iterator_train=DataLoader,
        iterator_valid=DataLoader,
        callbacks=None,
        predict_nonlinearity="auto",
        warm_start=False,
        compile=False,
        use_caching="auto",
        torch_load_kwargs=None,
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
            classes=classes,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            callbacks=callbacks,
            predict_nonlinearity=predict_nonlinearity,
            warm_start=warm_start,
            compile=compile,
            use_caching=use_caching,
            torch_load_kwargs=torch_load_kwargs,
            optimizer__momentum=optimizer__momentum,
            optimizer__weight_decay=optimizer__weight_decay,
            **kwargs,
        )
        self.input_shape = input_shape
        self.sampler = sampler
        self.augment = augment
        self.output = output
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------ parameters
    def _get_param_names(self):
        # skorch takes every public attribute set in __init__ for a parameter:
        # not its record of keyword arguments to check (it showed in reprs),
        # nor its `dataset`, which this class does not use (fit builds its own).
        return [
            name
            for name in super()._get_param_names()
            if name not in ("_params_to_validate", "dataset")
        ]

    def _validate_params(self):
        """The parameter constraints, then skorch's check of the argument names.

        scikit-learn's ``_fit_context`` calls it at the start of ``fit``,
        skorch in ``initialize`` and ``set_params``. skorch's check knows the
        ``module__``/``optimizer__``... prefixes once the network is built.
        """
        BaseEstimator._validate_params(self)
        if hasattr(self, "module_"):
            super()._validate_params()

    @property
    def _default_callbacks(self):
        return [
            ("sampling", ClassSampling()),
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            (
                "valid_acc",
                EpochScoring(encoded_accuracy, name="valid_acc", lower_is_better=False),
            ),
            ("lr_scheduler", CosineAnnealing()),
            ("print_log", PrintLog(keys_ignored=[PROBABILITIES_KEY])),
        ]

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
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
        reset = not (self.warm_start and self.initialized_)
        return self._train(X, y, reset=reset, method="fit", fit_params=fit_params)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising (skorch).

        ``classes`` is ignored, as in skorch: pass ``classes`` to the
        constructor when the first call may miss some.

        Parameters
        ----------
        X : array-like, torch.Tensor or torch.utils.data.Dataset
            Images as in ``fit``.
        y : array-like of shape (N,), default=None
            Labels, as in ``fit``.
        classes : array-like, default=None
            Ignored.
        **fit_params
            Passed to the module's ``forward`` (skorch).

        Returns
        -------
        self
        """
        return self._train(
            X, y, reset=not self.initialized_, method="partial_fit", fit_params=fit_params
        )

    def _train(self, X, y, *, reset, method, fit_params):
        """skorch's training run on validated data; a new network when ``reset``."""
        dataset, y_encoded, shape, classes, counts = training_data(
            X,
            y,
            input_shape=self.input_shape,
            fitted_shape=None if reset else self.input_shape_,
            classes=self.classes if reset else self.classes_,
        )
        augment_options(self.augment, shape)  # a bad dict fails before any training
        _check_feature_names(self, X, reset=reset)
        # Training needs autograd whatever mode the caller is in (no_grad,
        # inference_mode), and runs under random_state and n_threads.
        with (
            torch.inference_mode(False),
            torch.enable_grad(),
            torch_seeded(self),
            limit_threads(self.n_threads),
        ):
            if reset:
                self.input_shape_ = shape
                if self.classes is None:
                    self.classes_inferred_ = classes
                self.initialize()
                self._joint_net().class_counts.copy_(torch.as_tensor(counts))
            self.sampler_ = self.sampler if self.sampler is not None else InstanceBalancedSampler()
            super().partial_fit(dataset, y_encoded, _routing_method=method, **fit_params)
        return self

    def _forward_all(self, X, *, features):
        # transform, predict and predict_proba all run through here
        with limit_threads(self.n_threads):
            return super()._forward_all(X, features=features)

    def transform_views(
        self, X, n_views=4, *, augment=None, batchnorm="eval", random_state=None
    ):
        """``n_views`` augmented feature views of each image, to train a stage-two head on.

        The official stage two of the decoupling code and of LOS trains the
        head on augmented images through the frozen backbone, a new crop and
        flip at each epoch; ``transform`` gives one fixed feature per image.
        This gives ``n_views`` features per image, each of an augmented copy
        (all of them augmented: none is ``transform``'s), computed in
        ``n_views`` passes over ``X`` in batches of ``batch_size`` images,
        one view of each image per pass. Fit the head on them with the labels
        repeated, ``y[groups]``, and ``groups``: a trained head then reads one
        view of every image per epoch, drawn anew, and counts images, not
        views; give ``groups`` to any cross-validation too
        (:class:`~sklearn.model_selection.GroupKFold`), so that no fold holds
        views of an image another fold trains on. Predict on ``transform``'s
        features, as the references test on the centre images.

        Parameters
        ----------
        X : array-like, torch.Tensor or torch.utils.data.Dataset
            Images as in ``fit`` (of the fitted shape).
        n_views : int, default=4
            Augmented views per image.
        augment : True, dict or None, default=None
            The augmentation, as the ``augment`` parameter: random crop with
            zero padding and horizontal flip (:func:`augment_batch`).
            ``None``: the embedder's own ``augment``, or ``True`` (the
            standard one) when it trained without augmentation.
        batchnorm : {"eval", "train"}, default="eval"
            ``"eval"``: BatchNorm layers normalise with their running
            statistics, as in ``transform`` (frozen, as the decoupling code).
            ``"train"``: with the statistics of each batch, as LOS's stage two
            leaves them (views then depend on ``batch_size`` and on which
            images share a batch); the running statistics the batches update
            are restored afterwards. Every other layer is in eval mode, and the
            network is left in eval mode.
        random_state : int, RandomState instance or None, default=None
            Seeds the augmentation's own torch generator: the same integer
            gives the same views (on the CPU, bit for bit). ``None`` draws
            from torch's global generator.

        Returns
        -------
        features : ndarray or torch.Tensor of shape (N * n_views, ``feature_dim_``)
            Image-major: rows ``i * n_views`` to ``(i + 1) * n_views - 1`` are
            the views of image ``i``. A tensor or numpy as ``transform``.
        groups : ndarray of shape (N * n_views,), int64
            The image of each row, ``np.repeat(np.arange(N), n_views)``: the
            labels of the rows are ``np.asarray(y)[groups]``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_lt import CRTClassifier
        >>> from sklearn_lt.backbone import BackboneEmbedder
        >>> X, y = load_digits(return_X_y=True)
        >>> X = X / 16
        >>> embedder = BackboneEmbedder(input_shape=(1, 8, 8), max_epochs=2, random_state=0)
        >>> embedder = embedder.fit(X[:300], y[:300])
        >>> F, groups = embedder.transform_views(X[:300], n_views=4, random_state=0)
        >>> F.shape, groups[:6]
        ((1200, 64), array([0, 0, 0, 0, 1, 1]))
        >>> head = CRTClassifier(random_state=0).fit(F, y[:300][groups], groups=groups)
        >>> head.predict(embedder.transform(X[300:303])).shape
        (3,)
        """
        self.check_is_fitted()
        n_views = check_view_params(n_views, batchnorm)
        if augment is None:
            augment = True if self.augment is False else self.augment
        if augment is not True and not isinstance(augment, dict):
            raise ValueError(
                f"augment must be True, a dict or None, got {augment!r} (without "
                "augmentation every view would be transform's feature)."
            )
        options = augment_options(augment, self.input_shape_)
        _check_feature_names(self, X, reset=False)
        dataset = self.get_dataset(X)
        as_torch, device = self._output_type(X)
        net, out = self._joint_net(), None
        # The views' own generator: the same views whatever else draws random numbers.
        generator = None
        if random_state is not None:
            generator = torch.Generator().manual_seed(run_seed(random_state))
        with limit_threads(self.n_threads), torch.no_grad(), batchnorm_mode(net, batchnorm):
            # One pass per view, as one epoch of the references' stage two: a
            # batch holds distinct images (what BatchNorm's "train" mode sees).
            for view in range(n_views):
                start = 0
                for batch in self.get_iterator(dataset, training=False):
                    images = to_tensor(unpack_data(batch)[0], device=self._network_device())
                    augmented = augment_batch(images, **options, generator=generator)
                    part = net.features(augmented).to(device)
                    if out is None:
                        out = part.new_empty((len(dataset), n_views, part.shape[1]))
                    out[start : start + len(part), view] = part
                    start += len(part)
        out = out.reshape(len(dataset) * n_views, -1)
        groups = view_groups(len(dataset), n_views)
        return (out if as_torch else out.numpy()), groups

    def check_data(self, X, y=None):
        # fit validated and encoded the data already; skorch's version would
        # record the *encoded* labels as classes_.
        pass

    def initialize_module(self):
        """Build ``JointNet(backbone, feature_dim, n_classes)`` for the images and classes."""
        shape = check_input_shape(self.input_shape) or getattr(self, "input_shape_", None)
        classes = getattr(self, "classes_", None)
        if shape is None or classes is None:
            raise ValueError(
                f"{type(self).__name__} builds its network from the data: call fit, or "
                "pass input_shape=(C, H, W) and classes=[...] to initialize() it before "
                "(e.g. to load saved parameters)."
            )
        self.module_ = joint_network(
            self.module, shape, len(classes), **self.get_params_for("module")
        )
        self.input_shape_ = tuple(shape)
        self.feature_dim_ = self.module_.fc.in_features
        self.n_features_in_ = int(np.prod(shape))
        vars(self).pop("classifier_", None)  # the old network's
        return self

    def get_dataset(self, X, y=None):
        """The dataset of ``X`` for inference (images validated against the fitted shape).

        ``fit`` builds its training dataset itself; this is what ``transform``,
        ``predict`` and skorch's ``forward``/``forward_iter`` go through.
        """
        return inference_data(
            X, fitted_shape=getattr(self, "input_shape_", None), input_shape=self.input_shape
        )

    def get_iterator(self, dataset, training=False):
        """skorch's ``DataLoader``, fetching whole batches; in training, with the sampler.

        The training iterator draws its rows with the sampler of the
        ``sampling`` callback, built from the labels of ``dataset``, the
        training split after skorch's ``train_split``. An
        explicit ``iterator_train__sampler`` or ``iterator_train__batch_sampler``
        replaces it.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = getattr(self, prefix)
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if is_prepared_dataset(dataset) and isinstance(iterator, type):
            if issubclass(iterator, DataLoader):
                kwargs.setdefault("collate_fn", passthrough_collate)
        sampling = next((cb for _, cb in self.callbacks_ if isinstance(cb, ClassSampling)), None)
        if training and sampling is not None and not {"sampler", "batch_sampler"} & set(kwargs):
            kwargs.pop("shuffle", None)
            kwargs["sampler"] = sampling.training_sampler(self, dataset)
        return iterator(dataset, **kwargs)

    def _set_training(self, training=True):
        # skorch calls this before every batch and module.train() walks every
        # submodule (about a millisecond per batch for a ResNet): only switch
        # when the mode changes.
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, nn.Module) and module.training != training:
                module.train(training)

    def train_step(self, batch, **fit_params):
        options = augment_options(self.augment, self.input_shape_)
        if options is not None:
            Xi, yi = unpack_data(batch)
            batch = (augment_batch(to_tensor(Xi, device=self.device), **options), yi)
        return super().train_step(batch, **fit_params)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        self.classifier_ = self._joint_classifier()

    def load_params(self, *args, **kwargs):
        super().load_params(*args, **kwargs)
        self.classifier_ = self._joint_classifier()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
