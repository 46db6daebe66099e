"""Image files in, batches out: the evaluation transform of a pretrained network, lazily.

Images are decoded by Pillow one at a time, in the ``DataLoader``'s workers:
resized and centre-cropped there (see
:func:`~sklearn_lt.backbone._pretrained_models.resolve_preprocessing`) and
handed over as ``uint8`` tensors, a quarter of the bytes of float32 through
the workers' queues and to the GPU; the scaling to [0, 1] and the
normalisation run on the whole batch, on the device (:class:`Normalizer`).
An image that cannot be read does not stop the others: :class:`ImageFiles`
hands its error over in its place, and the caller names every such file.
"""

import hashlib
import math
import os
from numbers import Real
from pathlib import Path

import numpy as np
import torch

from ..datasets import ImageListDataset, pil_loader
from ._pretrained_models import resize_size

# Above this many times the crop's area, the resize is limited to the crop's box.
_MAX_RESIZED_AREA = 8

__all__ = [
    "TRAIN_AUGMENT",
    "AugmentedImagePreprocessor",
    "ImageFiles",
    "ImagePreprocessor",
    "Normalizer",
    "as_image_files",
    "file_keys",
    "image_dataset",
    "random_resized_crop_box",
    "train_augment_options",
]

# The training transform of ImageNet networks and of the decoupling code's stage two
# (ImageNet-LT, Places-LT): torchvision's RandomResizedCrop and RandomHorizontalFlip at
# their defaults, which timm's training transform shares.
TRAIN_AUGMENT = {"scale": (0.08, 1.0), "ratio": (3 / 4, 4 / 3), "hflip": 0.5}


def _resample(name):
    from PIL import Image

    return getattr(Image.Resampling, name.upper())


class ImagePreprocessor:
    """Resize and centre-crop a ``PIL.Image``; return a ``(3, H, W)`` tensor.

    The evaluation transform of timm and of torchvision's weights
    (``Resize(resize) -> CenterCrop(crop) -> ToTensor -> Normalize``) with the
    sizes and interpolation of a resolved ``preprocessing`` dict. The resize
    keeps the aspect ratio: the shorter side becomes ``resize`` and the
    longer ``int(resize * long / short)``, as torchvision computes it.

    Parameters
    ----------
    preprocessing : dict
        Resolved (see ``resolve_preprocessing``).
    normalize : bool, default=False
        ``False`` returns ``uint8`` pixels (normalised later, per batch, by
        :class:`Normalizer`); ``True`` returns the normalised float32 tensor
        (for a Dataset whose items go straight to a network, as in
        fine-tuning).
    """

    def __init__(self, preprocessing, normalize=False):
        self.preprocessing = preprocessing
        self.normalize = normalize

    def __call__(self, image):
        cfg = self.preprocessing
        size = resize_size(cfg)
        w, h = image.size
        if isinstance(size, int):
            if w <= h:
                new_w, new_h = size, int(size * h / w)
            else:
                new_w, new_h = int(size * w / h), size
        else:
            new_h, new_w = size
        _, crop_h, crop_w = cfg["input_size"]
        top = int(round((new_h - crop_h) / 2.0))
        left = int(round((new_w - crop_w) / 2.0))
        resample = _resample(cfg["interpolation"])
        if new_w * new_h > _MAX_RESIZED_AREA * crop_w * crop_h:
            # An extreme aspect ratio (a 1 x 20000 strip would become 4.48M x 224): resize
            # only the source box that lands in the crop, at the same scale. Equal to the
            # full resize then crop up to rounding (a few levels where bicubic upsamples;
            # "nearest" may take the neighbouring pixel at a tie).
            sx, sy = w / new_w, h / new_h
            box = (left * sx, top * sy, (left + crop_w) * sx, (top + crop_h) * sy)
            image = image.resize((crop_w, crop_h), resample, box=box)
        else:
            if (new_w, new_h) != (w, h):
                image = image.resize((new_w, new_h), resample)
            if (crop_w, crop_h) != (new_w, new_h):
                # Pillow pads with zeros where the box leaves the image, as torchvision does.
                image = image.crop((left, top, left + crop_w, top + crop_h))
        pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).contiguous()
        if not self.normalize:
            return pixels
        return Normalizer(cfg)(pixels[None])[0]


def train_augment_options(augment):
    """The random-resized-crop options: :data:`TRAIN_AUGMENT`, with a dict's keys over it."""
    if augment is None:
        augment = {}
    if not isinstance(augment, dict):
        raise ValueError(
            f"augment must be None or a dict with keys among {sorted(TRAIN_AUGMENT)}, got "
            f"{augment!r}."
        )
    unknown = set(augment) - set(TRAIN_AUGMENT)
    if unknown:
        raise ValueError(
            f"augment accepts the keys {sorted(TRAIN_AUGMENT)}, got {sorted(unknown)}."
        )
    options = {**TRAIN_AUGMENT, **augment}
    for key in ("scale", "ratio"):
        pair = options[key]
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(v, Real) and 0 < v < math.inf for v in pair)
            or pair[0] > pair[1]
        ):
            raise ValueError(
                f"augment[{key!r}] must be a pair (low, high) of positive numbers, low <= "
                f"high, got {pair!r}."
            )
        options[key] = (float(pair[0]), float(pair[1]))
    if not 0 < options["scale"][0] or options["scale"][1] > 1:
        raise ValueError(f"augment['scale'] must lie in (0, 1], got {options['scale']!r}.")
    hflip = options["hflip"]
    if not isinstance(hflip, Real) or isinstance(hflip, bool) or not 0 <= hflip <= 1:
        raise ValueError(f"augment['hflip'] must be a probability in [0, 1], got {hflip!r}.")
    options["hflip"] = float(hflip)
    return options


def random_resized_crop_box(width, height, scale, ratio, rng):
    """``(left, top, w, h)`` of torchvision's ``RandomResizedCrop.get_params``, drawn with ``rng``.

    A box of ``scale`` times the image's area (uniform) and aspect ratio
    ``w / h`` log-uniform in ``ratio``, at a uniform position; after 10 draws
    that do not fit, the centre crop of the whole image, its ratio clamped to
    ``ratio``.
    """
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return left, top, w, h
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


class AugmentedImagePreprocessor:
    """The training transform: random resized crop to ``input_size``, horizontal flip.

    torchvision's ``RandomResizedCrop(input_size, scale, ratio)`` then
    ``RandomHorizontalFlip(hflip)``, with the network's own interpolation,
    drawn from the ``numpy.random.Generator`` given with each image; returns
    ``uint8`` pixels ``(3, H, W)`` as :class:`ImagePreprocessor` does.

    Parameters
    ----------
    preprocessing : dict
        Resolved (see ``resolve_preprocessing``).
    options : dict
        From :func:`train_augment_options`.
    """

    def __init__(self, preprocessing, options):
        self.preprocessing = preprocessing
        self.options = options

    def __call__(self, image, rng):
        from PIL import Image

        _, crop_h, crop_w = self.preprocessing["input_size"]
        left, top, w, h = random_resized_crop_box(
            *image.size, self.options["scale"], self.options["ratio"], rng
        )
        image = image.resize(
            (crop_w, crop_h), _resample(self.preprocessing["interpolation"]),
            box=(left, top, left + w, top + h),
        )
        if rng.random() < self.options["hflip"]:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).contiguous()


class Normalizer:
    """``(x / 255 - mean) / std`` per channel on a ``uint8`` batch ``(N, 3, H, W)``, as float."""

    def __init__(self, preprocessing, device=None):
        mean = torch.tensor(preprocessing["mean"], dtype=torch.float32, device=device)
        std = torch.tensor(preprocessing["std"], dtype=torch.float32, device=device)
        self.scale = (1.0 / (255.0 * std)).view(1, 3, 1, 1)
        self.shift = (mean / std).view(1, 3, 1, 1)

    def __call__(self, batch):
        return batch.to(torch.float32).mul_(self.scale).sub_(self.shift)


class ImageFiles(torch.utils.data.Dataset):
    """``(pixels, None)`` per image file, or ``(None, message)`` when it cannot be read.

    The items of a feature extraction: one bad file does not stop its batch,
    whose readable images still go through the network (see :func:`stack_images`).
    With ``augment`` (options of :func:`train_augment_options`), the training
    transform instead, drawn from a generator seeded by ``(seed, view,
    index)``: the same views whatever the ``DataLoader``'s workers.
    """

    def __init__(self, files, preprocessing, augment=None, seed=0, view=0):
        self.files = files
        self.augment = augment
        self.seed, self.view = seed, view
        if augment is None:
            self.transform = ImagePreprocessor(preprocessing)
        else:
            self.transform = AugmentedImagePreprocessor(preprocessing, augment)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        try:
            image = pil_loader(self.files[index])
            if self.augment is None:
                return self.transform(image), None
            rng = np.random.default_rng([self.seed, self.view, index])
            return self.transform(image, rng), None
        except ValueError as exc:
            return None, str(exc)


def stack_images(items):
    """``DataLoader`` collate of :class:`ImageFiles`: ``(images, positions, errors)``.

    ``images`` stacks the readable ones, ``positions`` (int64) says where
    each was in the batch, ``errors`` lists ``(position, message)`` of the rest.
    """
    positions = [i for i, (pixels, _) in enumerate(items) if pixels is not None]
    errors = [(i, message) for i, (pixels, message) in enumerate(items) if pixels is None]
    images = torch.stack([items[i][0] for i in positions]) if positions else None
    return images, np.asarray(positions, dtype=np.int64), errors


def as_image_files(X):
    """Absolute paths (str) of the images: a sequence of paths, or an ``ImageListDataset``."""
    if isinstance(X, ImageListDataset):
        return [os.path.abspath(X.root / p) for p in X.paths]
    if isinstance(X, torch.utils.data.Dataset):
        raise TypeError(
            "X must be image paths or an ImageListDataset (from the image-list loaders); "
            f"got a {type(X).__name__}, which has no list of files to read and cache."
        )
    if isinstance(X, (str, os.PathLike)):
        raise TypeError(
            f"X must be a sequence of image paths, got one path {str(X)!r}: wrap it in a list."
        )
    paths = np.asarray(X, dtype=object)
    if paths.ndim == 2 and paths.shape[1] == 1:  # a single column (DataFrame, ColumnTransformer)
        paths = paths[:, 0]
    if paths.ndim != 1:
        raise ValueError(
            f"X must be a 1-D sequence of image paths, got an array of shape {paths.shape}."
        )
    bad = [p for p in paths[:1000] if not isinstance(p, (str, os.PathLike))]
    if bad:
        raise TypeError(
            f"X must hold image paths (str or Path); found {type(bad[0]).__name__} "
            f"{bad[0]!r}."
        )
    return [os.path.abspath(p) for p in paths]


def image_dataset(files, preprocessing, normalize=False, targets=None):
    """The lazy Dataset of ``(image, label)`` over ``files`` (absolute paths)."""
    targets = np.zeros(len(files), dtype=np.int64) if targets is None else targets
    return ImageListDataset(
        Path("/"), files, targets, transform=ImagePreprocessor(preprocessing, normalize),
        loader=pil_loader,
    )


def file_keys(files):
    """One uint64 per file: a hash of its absolute path, size, modification and change times.

    A file rewritten, touched or replaced gets a new key, so the feature
    cache never serves features of an older image under the same name: its
    status-change time (``st_ctime``) is set by the system at every write and
    metadata change, and no copy tool restores it (``cp -p``, ``rsync -a`` and
    ``tar`` restore the modification time only).

    Raises
    ------
    FileNotFoundError
        Files are missing; the message counts them and names the first ones.
    """
    digests = bytearray()
    missing = []
    for f in files:
        try:
            st = os.stat(f)
        except FileNotFoundError:
            missing.append(f)
            continue
        key = f"{f}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_size}"
        digests += hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    if missing:
        shown = ", ".join(f"'{m}'" for m in missing[:5])
        raise FileNotFoundError(
            f"{len(missing)} of {len(files)} images not found: {shown}"
            f"{' ...' if len(missing) > 5 else ''}"
        )
    return np.frombuffer(bytes(digests), dtype="<u8").copy()
