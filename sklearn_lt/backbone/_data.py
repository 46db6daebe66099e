"""Image input of stage one: validation, datasets that fetch whole batches, augmentation.

In-memory images (numpy arrays, torch tensors) become one float32 tensor of
shape ``(N, C, H, W)``; a batch is one gather ``X[rows]`` (``__getitems__``),
not ``batch_size`` calls of ``__getitem__`` and a collate, so skorch's
``DataLoader`` costs about what a hand-written loop over the tensor costs.
A user's ``torch.utils.data.Dataset`` (images on disk) is wrapped so that
its items come out as float32 images of the fitted shape, with labels encoded
against ``classes_``. ``training_data`` and ``inference_data`` are the two
entry points of ``BackboneEmbedder``.
"""

import warnings
from numbers import Integral

import numpy as np
import torch
from skorch.utils import is_dataset
from torch.utils.data import Dataset, Subset

from ..utils import to_numpy, to_tensor
from ..utils._array import check_finite, validate_labels

__all__ = [
    "ArrayImageDataset",
    "WrappedImageDataset",
    "as_image_tensor",
    "augment_batch",
    "augment_options",
    "check_input_shape",
    "dataset_labels",
    "inference_data",
    "is_prepared_dataset",
    "passthrough_collate",
    "training_data",
]


def check_input_shape(input_shape):
    """Normalise ``input_shape``: ``None``, ``(H, W)`` -> ``(1, H, W)``, or ``(C, H, W)``."""
    if input_shape is None:
        return None
    message = (
        f"input_shape must be a tuple (C, H, W) or (H, W) of positive ints, got "
        f"{input_shape!r}."
    )
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise ValueError(message) from None
    if len(shape) not in (2, 3) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise ValueError(message)
    shape = tuple(int(s) for s in shape)
    return (1, *shape) if len(shape) == 2 else shape


def _image_shape_of_rows(shape, n_values, fitted, requested, what):
    """Image shape for rows of ``n_values`` values each (flat input)."""
    target = fitted if fitted is not None else requested
    if target is None:
        raise ValueError(
            f"{what} is 2-D ({n_values} values per row): pass input_shape=(C, H, W) "
            "to say how each row is an image, e.g. input_shape=(1, 8, 8) for "
            "scikit-learn's digits."
        )
    if int(np.prod(target)) != n_values:
        raise ValueError(
            f"{what} has {n_values} values per row, which cannot be reshaped to "
            f"images of shape {target} ({int(np.prod(target))} values)."
        )
    return target


def _check_against(shape, fitted, requested, what):
    target = fitted if fitted is not None else requested
    if target is not None and tuple(shape) != tuple(target):
        origin = "the model was fitted on" if fitted is not None else "input_shape is"
        raise ValueError(
            f"{what} has images of shape {tuple(shape)}, but {origin} {tuple(target)}."
        )
    return tuple(shape)


def as_image_tensor(X, *, fitted_shape=None, input_shape=None):
    """Validate in-memory images and return them as a float32 ``(N, C, H, W)`` tensor.

    Accepts 2-D rows (reshaped to ``fitted_shape`` or ``input_shape``), 3-D
    grayscale ``(N, H, W)`` and 4-D ``(N, C, H, W)`` images, as numpy arrays,
    array-likes or torch tensors (kept on their device). Values are cast to
    float32, never rescaled.

    Raises
    ------
    ValueError
        Empty input, wrong dimensionality or image shape, NaN or infinity,
        complex or non-numeric values.
    TypeError
        Sparse matrices.
    """
    what = "X"
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError(
            "Sparse input is not supported by BackboneEmbedder: pass dense images."
        )
    if isinstance(X, torch.Tensor):
        check_has_data(X, "X")
        if X.is_complex():
            raise ValueError("Complex data not supported.")
        X = X.detach()
        X = X if X.dtype == torch.float32 else X.to(torch.float32)
    else:
        with warnings.catch_warnings():
            # np.exceptions is numpy >= 1.25; numpy 2 has no np.ComplexWarning
            warnings.simplefilter("ignore", getattr(np, "exceptions", np).ComplexWarning)
            arr = np.asarray(X)
        if arr.dtype.kind == "c":
            raise ValueError("Complex data not supported.")
        if arr.dtype.kind not in "biuf":
            try:
                arr = arr.astype(np.float32)
            except (TypeError, ValueError):
                raise ValueError(
                    f"X must contain numbers; got an array of dtype {arr.dtype}."
                ) from None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            X = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"X must be images (N, C, H, W), grayscale images (N, H, W) or rows "
            f"(N, C*H*W) with input_shape; got an array of shape {tuple(X.shape)}."
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a minimum of 1 "
            "is required."
        )
    if X.ndim == 2:
        shape = _image_shape_of_rows(X.shape, X.shape[1], fitted_shape, input_shape, what)
        X = X.reshape(X.shape[0], *shape)
    elif X.ndim == 3:
        X = X.unsqueeze(1)
    _check_against(X.shape[1:], fitted_shape, input_shape, what)
    if min(X.shape[1:]) == 0:
        raise ValueError(f"X has empty images of shape {tuple(X.shape[1:])}.")
    check_finite(X)
    return X


def check_has_data(tensor, name):
    """Refuse a tensor on the ``meta`` device: it has a shape but no values to read."""
    if tensor.is_meta:
        raise ValueError(
            f"{name} is a tensor on the 'meta' device, which has a shape but no values: "
            "pass the data itself (a tensor on 'cpu' or 'cuda', or an array)."
        )


class ArrayImageDataset(Dataset):
    """In-memory images and encoded labels; fetches a batch with one gather.

    ``X`` and ``y`` are public (skorch's ``data_from_dataset`` reads them).
    """

    def __init__(self, X, y=None):
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], (self.y[i] if self.y is not None else None)

    def __getitems__(self, indices):
        rows = _rows(indices, self.X.device)
        return self.X[rows], (self.y[rows] if self.y is not None else None)


def _rows(indices, device):
    """A slice for a run of consecutive indices (a view, no copy), else an index tensor."""
    n = len(indices)
    if n:
        first = int(indices[0])
        if int(indices[-1]) == first + n - 1 and _is_range(indices, first):
            return slice(first, first + n)
    return torch.as_tensor(indices, dtype=torch.int64, device=device)


def _is_range(indices, first):
    # Only called when the first and last index already look like a range.
    expected = range(first, first + len(indices))
    if isinstance(indices, list):
        return indices == list(expected)  # one C-level comparison
    return all(int(v) == e for v, e in zip(indices, expected))


class WrappedImageDataset(Dataset):
    """A user's image ``Dataset`` seen as float32 images of one shape plus encoded labels.

    Items of ``dataset`` may be ``(image, label)`` pairs or bare images; an
    image is a tensor or array of ``image_shape`` (or with as many values). The
    labels used are ``y_encoded`` (from ``fit``'s ``y`` or the dataset's
    ``targets``), never re-read from the items.
    """

    def __init__(self, dataset, image_shape, y_encoded=None):
        self.dataset = dataset
        self.image_shape = tuple(image_shape)
        self.y = None if y_encoded is None else torch.as_tensor(y_encoded, dtype=torch.int64)

    def __len__(self):
        return len(self.dataset)

    def _image(self, i):
        return image_from_item(self.dataset[i], self.image_shape, index=i)

    def __getitem__(self, i):
        return self._image(i), (self.y[i] if self.y is not None else None)

    def __getitems__(self, indices):
        images = torch.stack([self._image(int(i)) for i in indices])
        y = self.y[torch.as_tensor(indices, dtype=torch.int64)] if self.y is not None else None
        return images, y


def _item_image(item):
    return item[0] if isinstance(item, (tuple, list)) else item


def image_from_item(item, image_shape=None, *, index=0):
    """The image of one dataset item as a float32 tensor of ``image_shape`` (C, H, W)."""
    x = _item_image(item)
    if type(x).__module__.startswith("PIL"):
        raise TypeError(
            "The dataset returns PIL images; give it a transform that returns tensors "
            "of shape (C, H, W), e.g. torchvision.transforms.ToTensor()."
        )
    x = to_tensor(x, dtype=torch.float32)  # numpy views with negative strides too (np.flip)
    if image_shape is None:
        if x.ndim == 3:
            return x
        if x.ndim == 2:
            return x.unsqueeze(0)
        raise ValueError(
            f"Dataset items must be images (C, H, W) or (H, W); item {index} has shape "
            f"{tuple(x.shape)}. Pass input_shape to reshape flat items."
        )
    if x.numel() != int(np.prod(image_shape)):
        raise ValueError(
            f"Dataset item {index} has shape {tuple(x.shape)}, which does not fit images "
            f"of shape {tuple(image_shape)}."
        )
    return x.reshape(image_shape)


def dataset_item_label(item):
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise ValueError(
            "fit needs labels: pass y, give the dataset a 'targets' attribute, or make "
            "its items (image, label) pairs."
        )
    return to_numpy(item[1]).item() if hasattr(item[1], "shape") else item[1]


def passthrough_collate(batch):
    """Collate for datasets whose ``__getitems__`` already returns ``(X_batch, y_batch)``."""
    return batch


def is_prepared_dataset(dataset):
    """True for this module's datasets and (nested) ``Subset`` views of them."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, (ArrayImageDataset, WrappedImageDataset))


def dataset_labels(dataset):
    """Encoded labels (numpy int64) of the rows of a prepared dataset or a Subset of one.

    This is how a sampler sees exactly the rows of the training split that
    skorch's ``train_split`` made, and no validation row.
    """
    if isinstance(dataset, Subset):
        labels = dataset_labels(dataset.dataset)
        return None if labels is None else labels[np.asarray(dataset.indices, dtype=np.int64)]
    y = getattr(dataset, "y", None)
    if y is None:
        return None
    return to_numpy(y).astype(np.int64, copy=False)


def augment_options(augment, image_shape):
    """Keyword arguments of :func:`augment_batch` for ``augment``, or None (no augmentation).

    ``True`` pads by ``max(1, round(min(H, W) / 8))`` pixels (4 on 32x32, the
    CIFAR setting) and flips; a dict ``{"padding": int, "flip": bool}`` sets
    either. The dict's contents are checked here, where they are read (its
    type by the estimator's parameter constraints).
    """
    if augment is False:
        return None
    options = {"padding": max(1, round(min(image_shape[1:]) / 8)), "flip": True}
    if isinstance(augment, dict):
        unknown = set(augment) - set(options)
        if unknown:
            raise ValueError(
                f"augment accepts the keys 'padding' and 'flip', got {sorted(unknown)}."
            )
        options.update(augment)
    padding, flip = options["padding"], options["flip"]
    if not isinstance(padding, Integral) or isinstance(padding, bool) or padding < 0:
        raise ValueError(f"augment['padding'] must be a non-negative int, got {padding!r}.")
    if not isinstance(flip, (bool, np.bool_)):
        raise ValueError(f"augment['flip'] must be True or False, got {flip!r}.")
    return options


def augment_batch(X, padding=4, flip=True, generator=None):
    """Standard training augmentation: random crop with zero padding, horizontal flip.

    Each image is padded by ``padding`` pixels on every side and a window of
    the original size is cut at a random offset (torchvision's
    ``RandomCrop(size, padding)``), then mirrored left-right with probability
    1/2. The whole batch is done with one gather on its own device; the random
    offsets are drawn on the CPU from ``generator``, by default torch's global
    generator (seeded by ``random_state`` in training).

    Parameters
    ----------
    X : torch.Tensor of shape (N, C, H, W)
        The batch of images.
    padding : int, default=4
        Pixels of zero padding on every side; 0 crops nothing.
    flip : bool, default=True
        Mirror each image left-right with probability 1/2.
    generator : torch.Generator, default=None
        Source of the random offsets and flips.

    Returns
    -------
    X_augmented : torch.Tensor of shape (N, C, H, W)
    """
    n, c, h, w = X.shape
    if padding > 0:
        offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator).to(X.device)
        padded = torch.nn.functional.pad(X, (padding, padding, padding, padding))
        rows = (torch.arange(h, device=X.device)[None, :] + offsets[0][:, None])  # (n, h)
        cols = (torch.arange(w, device=X.device)[None, :] + offsets[1][:, None])  # (n, w)
        batch = torch.arange(n, device=X.device)[:, None, None, None]
        chan = torch.arange(c, device=X.device)[None, :, None, None]
        X = padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mirror = (torch.rand(n, generator=generator) < 0.5).to(X.device)
        X = torch.where(mirror[:, None, None, None], X.flip(-1), X)
    return X


# ------------------------------------------------------- BackboneEmbedder's entry points
def _dataset_image_shape(dataset, fitted_shape, input_shape):
    """Image shape of a user's Dataset: the fitted one, ``input_shape``, or its first item's."""
    if len(dataset) == 0:
        raise ValueError("The dataset is empty: at least one sample is required.")
    shape = fitted_shape or input_shape
    image = image_from_item(dataset[0], shape)
    return tuple(shape or image.shape)


def encode_labels(y, n_samples, classes=None):
    """Classes, labels encoded as their index and counts per class (string labels welcome).

    ``classes`` (all the labels, in order; may list classes absent from
    ``y``) fixes the encoding; ``None`` takes the sorted labels of ``y``,
    which must hold at least two.
    """
    if isinstance(y, torch.Tensor):
        check_has_data(y, "y")
    if classes is None:
        return validate_labels(y, n_samples)
    classes = np.asarray(classes)
    if len(classes) < 2:
        raise ValueError("classes must list at least two class labels.")
    found, y_encoded, _ = validate_labels(y, n_samples, min_classes=1)
    position = {label: i for i, label in enumerate(classes.tolist())}
    unknown = [c for c in found.tolist() if c not in position]
    if unknown:
        raise ValueError(
            f"y contains labels {unknown} that are not among the classes {classes.tolist()}."
        )
    y_encoded = np.array([position[c] for c in found.tolist()], dtype=np.int64)[y_encoded]
    return classes, y_encoded, np.bincount(y_encoded, minlength=len(classes))


def training_data(X, y, *, input_shape=None, fitted_shape=None, classes=None):
    """Validate what ``fit`` got.

    Returns the training dataset, the encoded labels, the image shape, the
    classes and the counts per class.

    ``X``: images, rows with ``input_shape``, or a user's ``Dataset`` (labels
    from ``y``, its ``targets`` attribute or its ``(image, label)`` items).
    ``classes`` fixes the encoding (the ``classes`` parameter, or the classes
    of the network a ``partial_fit`` continues), ``fitted_shape`` is that
    network's image shape: the new data must fit them.
    """
    input_shape = check_input_shape(input_shape)
    if is_prepared_dataset(X):
        raise TypeError("Pass images or a torch Dataset of images to fit.")
    if is_dataset(X):
        shape = _dataset_image_shape(X, fitted_shape, input_shape)
        if y is None:
            y = getattr(X, "targets", None)
        if y is None:
            y = [dataset_item_label(X[i]) for i in range(len(X))]
        classes, y_encoded, counts = encode_labels(y, len(X), classes)
        return WrappedImageDataset(X, shape, y_encoded), y_encoded, shape, classes, counts
    images = as_image_tensor(X, fitted_shape=fitted_shape, input_shape=input_shape)
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None.")
    classes, y_encoded, counts = encode_labels(y, len(images), classes)
    dataset = ArrayImageDataset(images, torch.from_numpy(y_encoded).to(images.device))
    return dataset, y_encoded, tuple(images.shape[1:]), classes, counts


def inference_data(X, *, fitted_shape=None, input_shape=None):
    """The dataset of ``X`` for ``transform``/``predict``, images checked against the fit."""
    if is_prepared_dataset(X):
        return X
    input_shape = check_input_shape(input_shape)
    if is_dataset(X):
        return WrappedImageDataset(X, _dataset_image_shape(X, fitted_shape, input_shape))
    return ArrayImageDataset(
        as_image_tensor(X, fitted_shape=fitted_shape, input_shape=input_shape)
    )
