"""Image-folder benchmarks read from local files: ImageNet-LT, Places-LT, iNaturalist 2018.

Each loader parses an index (a split list or a JSON annotation file) into
relative paths and integer labels and returns a lazy torch ``Dataset`` over
the image folder together with the labels. Images are opened with Pillow only
when an item is read. Nothing is downloaded.
"""

import json
from pathlib import Path

import numpy as np
import torch.utils.data

__all__ = ["ImageListDataset", "load_imagenet_lt", "load_inaturalist", "load_split_list"]


def _require_pil():
    try:
        import PIL.Image  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "Reading images needs Pillow, which is not installed: `pip install pillow`, "
            "or pass loader=<a function from a file path to an image>."
        ) from exc


def pil_loader(path):
    """Open an image file with Pillow as an RGB ``PIL.Image`` (as the LT codebases do)."""
    from PIL import Image

    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


class ImageListDataset(torch.utils.data.Dataset):
    """A lazy torch ``Dataset`` of ``(image, label)`` over image files under ``root``.

    Built by :func:`load_split_list`, :func:`load_imagenet_lt` and
    :func:`load_inaturalist`; nothing is read until an item is asked for.

    Parameters
    ----------
    root : str or Path
        Folder the relative paths start from.
    paths : sequence of str
        Relative image paths, one per sample.
    targets : array-like of int of shape (n_samples,)
        Labels.
    transform : callable, default=None
        Applied to each loaded image (for instance torchvision transforms
        ending in ``ToTensor()``). Without one an item's image is what
        ``loader`` returns (a ``PIL.Image``), which a ``DataLoader`` cannot
        batch.
    target_transform : callable, default=None
        Applied to each label.
    loader : callable, default=None
        ``loader(path) -> image``; default :func:`pil_loader` (needs Pillow).
    categories : dict, default=None
        Label -> class name, when the index file has names.
    origins : tuple (str, sequence of str), default=None
        Where each sample was listed (index file, location per sample), quoted
        when an image is missing.

    Attributes
    ----------
    root : Path
    paths : list of str
    targets : ndarray of shape (n_samples,), int64
    categories : dict or None
    """

    def __init__(
        self,
        root,
        paths,
        targets,
        *,
        transform=None,
        target_transform=None,
        loader=None,
        categories=None,
        origins=None,
    ):
        if loader is None:
            _require_pil()
            loader = pil_loader
        self.root = Path(root)
        self.paths = list(paths)
        self.targets = np.asarray(targets, dtype=np.int64)
        if len(self.paths) != len(self.targets):
            raise ValueError(
                f"paths and targets differ in length: {len(self.paths)} and {len(self.targets)}."
            )
        self.transform = transform
        self.target_transform = target_transform
        self.loader = loader
        self.categories = categories
        self._origins = origins

    def __len__(self):
        return len(self.paths)

    def _where(self, index):
        if self._origins is None:
            return f"sample {index}"
        source, locations = self._origins
        return f"{source}, {locations[index]}"

    def missing_files(self):
        """Indices of the samples whose image file does not exist."""
        return [i for i, p in enumerate(self.paths) if not (self.root / p).is_file()]

    def __getitem__(self, index):
        file = self.root / self.paths[index]
        if not file.is_file():
            raise FileNotFoundError(f"Image '{file}' (listed at {self._where(index)}) not found.")
        image = self.loader(file)
        target = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


def _check_root(root):
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Image root '{root}' is not an existing directory.")
    return root


def _check_index_file(file):
    file = Path(file)
    if not file.is_file():
        raise FileNotFoundError(f"No such file: '{file}'.")
    return file


def _make_dataset(root, paths, labels, origins, check_files, **dataset_params):
    dataset = ImageListDataset(root, paths, labels, origins=origins, **dataset_params)
    if check_files:
        missing = dataset.missing_files()
        if missing:
            shown = "; ".join(f"'{dataset.paths[i]}' ({dataset._where(i)})" for i in missing[:5])
            raise FileNotFoundError(
                f"{len(missing)} of {len(dataset)} images are missing under '{dataset.root}': "
                f"{shown}{' ...' if len(missing) > 5 else ''}"
            )
    return dataset, dataset.targets


def _parse_split_list(file):
    paths, labels, lines = [], [], []
    with open(file, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                raise ValueError(f"{file}, line {number}: not UTF-8 text ({exc}).") from None
            if not line:
                continue
            parts = line.rsplit(None, 1)
            if len(parts) != 2:
                raise ValueError(f"{file}, line {number}: expected '<path> <label>', got {line!r}.")
            path, label = parts
            try:
                labels.append(int(label))
            except ValueError:
                raise ValueError(
                    f"{file}, line {number}: the label {label!r} is not an integer "
                    "(expected '<path> <label>')."
                ) from None
            paths.append(path)
            lines.append(f"line {number}")
    if not paths:
        raise ValueError(f"{file}: no '<path> <label>' line in the file.")
    return paths, labels, lines


def load_split_list(
    root, list_file, *, transform=None, target_transform=None, loader=None, check_files=False
):
    """Load a split list (``relative/path label`` per line) over an image folder.

    The format of ImageNet-LT's and Places-LT's ``*_train.txt``, ``*_val.txt``
    and ``*_test.txt`` (OLTR, classifier-balancing): one image per line, its
    path relative to ``root``, whitespace, an integer label. Blank lines are
    skipped; the label is the last field, so paths may contain spaces.

    Parameters
    ----------
    root : str or Path
        The image folder the paths are relative to.
    list_file : str or Path
        The split list.
    transform, target_transform, loader
        See :class:`ImageListDataset`.
    check_files : bool, default=False
        Check now that every listed image exists (one ``stat`` per image)
        instead of when it is read.

    Returns
    -------
    dataset : ImageListDataset
        Lazy ``(image, label)`` pairs in the order of the list.
    labels : ndarray of shape (n_samples,), int64
        The labels (also ``dataset.targets``).

    Raises
    ------
    FileNotFoundError
        ``root`` or ``list_file`` does not exist, or (``check_files=True``)
        listed images are missing: the message names them and their lines.
    ValueError
        A malformed line, reported as ``"<list_file>, line <n>: ..."``.
    ImportError
        Pillow is not installed and no ``loader`` is given.
    """
    root = _check_root(root)
    list_file = _check_index_file(list_file)
    paths, labels, lines = _parse_split_list(list_file)
    return _make_dataset(
        root,
        paths,
        labels,
        (str(list_file), lines),
        check_files,
        transform=transform,
        target_transform=target_transform,
        loader=loader,
    )


def load_imagenet_lt(root, split_file, **kwargs):
    """Load ImageNet-LT (or Places-LT) from its split list over the image folder.

    ``split_file`` is one of OLTR's lists (``ImageNet_LT_train.txt``,
    ``ImageNet_LT_val.txt``, ``ImageNet_LT_test.txt``, or the
    ``Places_LT_*.txt`` ones), ``root`` the ImageNet (Places-365) folder the
    listed paths start from (``train/n01440764/n01440764_190.JPEG``). The
    training list is already long-tailed (1000 classes, 1280 down to 5 images
    each); its test list is balanced (50 per class). Same as
    :func:`load_split_list`, whose parameters ``kwargs`` takes.

    Returns
    -------
    dataset : ImageListDataset
    labels : ndarray of shape (n_samples,), int64
    """
    return load_split_list(root, split_file, **kwargs)


def _json_error(file, where, message):
    return ValueError(f"{file}, {where}: {message}")


def _field(entry, key, file, where):
    if not isinstance(entry, dict) or key not in entry:
        raise _json_error(file, where, f"expected an object with a {key!r} field, got {entry!r}.")
    return entry[key]


def _parse_inaturalist(file):
    with open(file, "rb") as f:
        try:
            content = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{file}, line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})."
            ) from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{file}: not UTF-8 JSON ({exc}).") from None
    for key in ("images", "annotations"):
        if not isinstance(content, dict) or not isinstance(content.get(key), list):
            hint = " (iNaturalist's test2018.json has no labels)" if key == "annotations" else ""
            raise ValueError(f"{file}: expected a top-level {key!r} list{hint}.")

    category_ids = None
    if isinstance(content.get("categories"), list):
        category_ids = {
            _field(c, "id", file, f"categories[{k}]") for k, c in enumerate(content["categories"])
        }

    label_of = {}
    for k, annotation in enumerate(content["annotations"]):
        where = f"annotations[{k}]"
        image_id = _field(annotation, "image_id", file, where)
        category = _field(annotation, "category_id", file, where)
        if not isinstance(category, int) or isinstance(category, bool):
            raise _json_error(file, where, f"category_id {category!r} is not an integer.")
        if category_ids is not None and category not in category_ids:
            raise _json_error(file, where, f"category_id {category} is not in 'categories'.")
        if image_id in label_of:
            raise _json_error(file, where, f"image {image_id!r} has a second annotation.")
        label_of[image_id] = category

    paths, labels, locations = [], [], []
    for k, image in enumerate(content["images"]):
        where = f"images[{k}]"
        image_id = _field(image, "id", file, where)
        path = _field(image, "file_name", file, where)
        if image_id not in label_of:
            raise _json_error(file, where, f"image {image_id!r} ('{path}') has no annotation.")
        paths.append(path)
        labels.append(label_of.pop(image_id))
        locations.append(where)
    if label_of:
        orphan = next(iter(label_of))
        raise ValueError(f"{file}: an annotation refers to image {orphan!r}, not in 'images'.")
    if not paths:
        raise ValueError(f"{file}: no image in 'images'.")
    names = {
        c["id"]: c["name"]
        for c in content.get("categories") or []
        if isinstance(c, dict) and "name" in c
    }
    return paths, labels, locations, names


def load_inaturalist(
    root,
    annotation_json,
    *,
    transform=None,
    target_transform=None,
    loader=None,
    check_files=False,
):
    """Load iNaturalist 2018 (or any COCO-style classification JSON) over its image folder.

    ``annotation_json`` is ``train2018.json`` or ``val2018.json``: ``"images"``
    (``"id"``, ``"file_name"`` relative to ``root``), ``"annotations"``
    (``"image_id"``, ``"category_id"``; one per image) and ``"categories"``
    (``"id"``, ``"name"``, ...). The label of an image is its
    ``category_id`` as given (0 .. 8141 for iNaturalist 2018); samples follow
    the order of ``"images"``.

    Parameters
    ----------
    root : str or Path
        The folder ``file_name`` starts from (the one holding ``train_val2018/``).
    annotation_json : str or Path
    transform, target_transform, loader
        See :class:`ImageListDataset`.
    check_files : bool, default=False
        Check now that every image exists instead of when it is read.

    Returns
    -------
    dataset : ImageListDataset
        Lazy ``(image, label)`` pairs; ``dataset.categories`` maps category
        ids to names (empty when the file has none).
    labels : ndarray of shape (n_samples,), int64

    Raises
    ------
    FileNotFoundError
        ``root`` or the JSON file does not exist, or (``check_files=True``)
        images are missing.
    ValueError
        Invalid JSON (with its line and column), a missing field, an image
        without annotation or with two, an unknown category; the message
        names the file and the entry (``"annotations[3]"``).
    ImportError
        Pillow is not installed and no ``loader`` is given.
    """
    root = _check_root(root)
    annotation_json = _check_index_file(annotation_json)
    paths, labels, locations, names = _parse_inaturalist(annotation_json)
    return _make_dataset(
        root,
        paths,
        labels,
        (str(annotation_json), locations),
        check_files,
        transform=transform,
        target_transform=target_transform,
        loader=loader,
        categories=names,
    )
