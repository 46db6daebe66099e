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
import os
from pathlib import Path

import numpy as np
import torch

from ..datasets import ImageListDataset, pil_loader
from ._pretrained_models import resize_size

# Above this many times the crop's area, the resize is limited to the crop's box.
_MAX_RESIZED_AREA = 8

__all__ = [
    "ImageFiles",
    "ImagePreprocessor",
    "Normalizer",
    "as_image_files",
    "file_keys",
    "image_dataset",
]


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
    """

    def __init__(self, files, preprocessing):
        self.files = files
        self.transform = ImagePreprocessor(preprocessing)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        try:
            return self.transform(pil_loader(self.files[index])), None
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
