"""Image-folder benchmarks read from local files: ImageNet-LT, Places-LT, iNaturalist 2018.

Each loader parses an index (a split list or a JSON annotation file) into
relative paths and integer labels and returns a lazy torch ``Dataset`` over
the image folder together with the labels. Images are opened with Pillow only
when an item is read. Nothing is downloaded.
"""

import json
import os
import re
import reprlib
from pathlib import Path

import numpy as np
import torch.utils.data
from sklearn.utils._param_validation import validate_params

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


_SEPARATORS = tuple(filter(None, (os.sep, os.altsep)))
_PATH_PARTS = re.compile("|".join(map(re.escape, _SEPARATORS)))


def _outside_root(path):
    """Why ``root / path`` may leave ``root`` (lexically, by this OS's path rules), or None."""
    if path.startswith(_SEPARATORS) or os.path.splitdrive(path)[0]:  # the join drops root
        return "it is absolute"
    if ".." in path and ".." in _PATH_PARTS.split(path):
        return "it has a '..' component"
    return None


def _make_dataset(root, paths, labels, origins, check_files, allow_outside_root, **dataset_params):
    if not allow_outside_root:
        source, locations = origins
        for path, location in zip(paths, locations):
            reason = _outside_root(path)
            if reason:
                raise ValueError(
                    f"{source}, {location}: the path {path!r} may point outside the image root "
                    f"({reason}); pass allow_outside_root=True if that is intended."
                )
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


_INT64_MAX = int(np.iinfo(np.int64).max)

# The split-list grammar (see load_split_list): lines end with LF, CRLF or a lone CR; a line is
# "<path><spaces or tabs><label>", optionally followed by spaces or tabs; the path is everything
# before the last field, so it may hold spaces but neither starts nor ends with one.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LIST_LINE = re.compile(r"(?P<path>[^ \t](?:.*[^ \t])?)[ \t]+(?P<label>[^ \t]+)[ \t]*")
_ENDS_IN_NUMBER = re.compile(r"[ \t]([0-9]+)\Z")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: no sign, underscore, or digits of other scripts
# Never part of a path or a label: control characters other than tab (str.splitlines breaks
# lines on some of them), Unicode line/paragraph separators, and U+FEFF past the start of the
# file (a byte-order mark of a second file concatenated onto the first).
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _decode_utf8(data, file, what):
    """``data`` as text, a leading byte-order mark dropped; a decoding error names its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(_LINE_BREAK.findall(data[: exc.start].decode("latin-1"))) + 1
        raise ValueError(f"{file}, line {line}: not UTF-8 {what} ({exc}).") from None


def _read_list_line(line):
    """``(path, label)`` of a non-blank line of a split list, or a ValueError naming the rule."""
    forbidden = _FORBIDDEN.search(line)
    if forbidden:
        char = forbidden.group()
        name = "a byte-order mark" if char == "\ufeff" else "a control character"
        raise ValueError(f"{name} (U+{ord(char):04X}) in {line!r}; no path or label holds one.")
    if line[0] in " \t":
        raise ValueError(f"starts with whitespace ({line!r}); a path cannot start with whitespace.")
    match = _LIST_LINE.fullmatch(line)
    if match is None:
        raise ValueError(f"expected '<path> <label>', got {line!r}.")
    path, label = match.group("path", "label")
    if not _DIGITS.fullmatch(label):
        raise ValueError(
            f"the label {label!r} is not an integer in plain digits 0-9 (no sign, "
            "underscore or other script; expected '<path> <label>')."
        )
    number = _ENDS_IN_NUMBER.search(path)
    if number:
        raise ValueError(
            f"ambiguous line {line!r}: it has more than two fields and the path would end "
            f"in the number {number.group(1)!r} ('<path> <label> <extra>'?). A path may hold "
            "spaces but cannot end in a space-separated number."
        )
    label = int(label)
    if label > _INT64_MAX:
        raise ValueError(f"the label {label} does not fit in int64.")
    return path, label


def _parse_split_list(file):
    text = _decode_utf8(file.read_bytes(), file, "text")
    paths, labels, lines = [], [], []
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if not line.strip(" \t"):
            continue
        try:
            path, label = _read_list_line(line)
        except ValueError as exc:
            raise ValueError(f"{file}, line {number}: {exc}") from None
        paths.append(path)
        labels.append(label)
        lines.append(f"line {number}")
    if not paths:
        raise ValueError(f"{file}: no '<path> <label>' line in the file.")
    return paths, labels, lines


_PATH_PARAMS = {
    "root": [str, os.PathLike],
    "transform": [callable, None],
    "target_transform": [callable, None],
    "loader": [callable, None],
    "check_files": ["boolean"],
    "allow_outside_root": ["boolean"],
}


@validate_params(
    _PATH_PARAMS | {"list_file": [str, os.PathLike]}, prefer_skip_nested_validation=True
)
def load_split_list(
    root,
    list_file,
    *,
    transform=None,
    target_transform=None,
    loader=None,
    check_files=False,
    allow_outside_root=False,
):
    """Load a split list (``relative/path label`` per line) over an image folder.

    The format of ImageNet-LT's and Places-LT's ``*_train.txt``, ``*_val.txt``
    and ``*_test.txt`` (OLTR, classifier-balancing): one image per line, its
    path relative to ``root``, spaces or tabs, an integer label. The rules, so
    that a file is either read as written or refused:

    - UTF-8 text; a byte-order mark at the start is dropped. Lines end with
      LF, CRLF or a lone CR (old Mac files); blank lines are skipped.
    - The label is the last field: ASCII digits ``0-9`` only (``7``, not
      ``+7``, ``1_0``, ``-1`` or full-width ``７``), at most int64's maximum.
    - The path is everything before it, so it may contain spaces, but it
      cannot start with whitespace nor end in a space-separated number: a line
      ``a.png 3 5`` may be ``<path> <label> <extra>`` and is refused.
    - No control character (tab apart) and no byte-order mark inside a line.
    - The path is relative to ``root`` without a ``..`` component, unless
      ``allow_outside_root=True``.

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
    allow_outside_root : bool, default=False
        Accept absolute paths and paths with ``..``, which may read files
        outside ``root``. By default they are refused: a list file should not
        reach beyond the folder it indexes.

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
        A line that breaks the rules above, reported as
        ``"<list_file>, line <n>: ..."``.
    ImportError
        Pillow is not installed and no ``loader`` is given.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_lt.datasets import load_split_list
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "train.txt").write_bytes(b"train/a.png 3\\r\\ntrain/my b.png\\t0\\r\\n")
    >>> dataset, labels = load_split_list(root, root / "train.txt", loader=str)
    >>> dataset.paths, labels
    (['train/a.png', 'train/my b.png'], array([3, 0]))
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
        allow_outside_root,
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
    :func:`load_split_list` (and its rules on the file), whose parameters
    ``kwargs`` takes.

    Returns
    -------
    dataset : ImageListDataset
    labels : ndarray of shape (n_samples,), int64
    """
    return load_split_list(root, split_file, **kwargs)


# Quote JSON values in messages briefly: an entry may be huge or deeply nested.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60
_JSON_LITERALS = {None: "null", True: "true", False: "false"}


def _quote(value):
    if value is None or isinstance(value, bool):
        return _JSON_LITERALS[value]
    return _SHORT.repr(value)


def _json_error(file, where, message):
    return ValueError(f"{file}, {where}: {message}")


def _field(entry, key, file, where):
    if not isinstance(entry, dict) or key not in entry:
        raise _json_error(
            file, where, f"expected an object with a {key!r} field, got {_quote(entry)}."
        )
    return entry[key]


def _id(entry, key, file, where):
    """An image id: an integer or a string (COCO uses integers)."""
    value = _field(entry, key, file, where)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _json_error(file, where, f"{key} {_quote(value)} is not an integer or a string.")
    return value


def _label(entry, key, file, where):
    """A category id: a non-negative integer that fits in int64 (as a list file's label)."""
    value = _field(entry, key, file, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _json_error(file, where, f"{key} {_quote(value)} is not an integer.")
    if not 0 <= value <= _INT64_MAX:
        raise _json_error(
            file, where, f"{key} {value} is not in 0 .. 2**63 - 1 (a non-negative int64)."
        )
    return value


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs):
    """``json`` keeps the last of two equal keys silently; refuse them instead."""
    content = dict(pairs)
    if len(content) < len(pairs):
        seen = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKeyError(
            f"an object has the key {key!r} twice ({_SHORT.repr(content)}); a JSON "
            "reader would silently keep only the last value."
        )
    return content


def _read_json(file):
    text = _decode_utf8(file.read_bytes(), file, "JSON")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{file}, line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})."
        ) from None
    except _DuplicateKeyError as exc:
        raise ValueError(f"{file}: {exc}") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise ValueError(f"{file}: invalid JSON ({exc}).") from None
    except RecursionError:
        raise ValueError(
            f"{file}: the JSON is nested too deeply to read (an annotation file is a few "
            "levels deep)."
        ) from None


def _parse_categories(content, file):
    """``{id: name}`` of the ``"categories"`` list (None when there is no such key)."""
    if "categories" not in content:
        return None
    categories = content["categories"]
    if not isinstance(categories, list):
        raise ValueError(
            f"{file}: 'categories' must be an array of objects with an 'id', got "
            f"{_quote(categories)}."
        )
    names = {}
    for k, category in enumerate(categories):
        where = f"categories[{k}]"
        category_id = _label(category, "id", file, where)
        if category_id in names:
            raise _json_error(file, where, f"category {category_id} is listed twice.")
        name = category.get("name")
        if name is not None and not isinstance(name, str):
            raise _json_error(file, where, f"name {_quote(name)} is not a string.")
        names[category_id] = name
    return names


def _parse_inaturalist(file):
    content = _read_json(file)
    for key in ("images", "annotations"):
        if not isinstance(content, dict) or not isinstance(content.get(key), list):
            hint = " (iNaturalist's test2018.json has no labels)" if key == "annotations" else ""
            raise ValueError(f"{file}: expected a top-level {key!r} list{hint}.")
    categories = _parse_categories(content, file)

    label_of = {}  # image id -> (category, annotation index)
    for k, annotation in enumerate(content["annotations"]):
        where = f"annotations[{k}]"
        image_id = _id(annotation, "image_id", file, where)
        category = _label(annotation, "category_id", file, where)
        if categories is not None and category not in categories:
            raise _json_error(file, where, f"category_id {category} is not in 'categories'.")
        if image_id in label_of:
            raise _json_error(
                file,
                where,
                f"image {image_id!r} has a second annotation "
                f"(the first is annotations[{label_of[image_id][1]}]).",
            )
        label_of[image_id] = category, k

    paths, labels, locations, listed = [], [], [], {}
    for k, image in enumerate(content["images"]):
        where = f"images[{k}]"
        image_id = _id(image, "id", file, where)
        path = _field(image, "file_name", file, where)
        if not isinstance(path, str) or not path:
            raise _json_error(file, where, f"file_name {_quote(path)} is not a non-empty string.")
        if image_id in listed:
            raise _json_error(
                file, where, f"image {image_id!r} is listed twice (first at {listed[image_id]})."
            )
        if image_id not in label_of:
            raise _json_error(file, where, f"image {image_id!r} ('{path}') has no annotation.")
        listed[image_id] = where
        paths.append(path)
        labels.append(label_of.pop(image_id)[0])
        locations.append(where)
    if label_of:
        orphan, (_, k) = next(iter(label_of.items()))
        raise ValueError(
            f"{file}: an annotation refers to image {orphan!r}, not in 'images' (annotations[{k}])."
        )
    if not paths:
        raise ValueError(f"{file}: no image in 'images'.")
    names = {i: name for i, name in (categories or {}).items() if name is not None}
    return paths, labels, locations, names


@validate_params(
    _PATH_PARAMS | {"annotation_json": [str, os.PathLike]}, prefer_skip_nested_validation=True
)
def load_inaturalist(
    root,
    annotation_json,
    *,
    transform=None,
    target_transform=None,
    loader=None,
    check_files=False,
    allow_outside_root=False,
):
    """Load iNaturalist 2018 (or any COCO-style classification JSON) over its image folder.

    ``annotation_json`` is ``train2018.json`` or ``val2018.json``: ``"images"``
    (``"id"``, ``"file_name"`` relative to ``root``), ``"annotations"``
    (``"image_id"``, ``"category_id"``; one per image) and ``"categories"``
    (``"id"``, ``"name"``, ...). The label of an image is its
    ``category_id`` as given (0 .. 8141 for iNaturalist 2018); samples follow
    the order of ``"images"``.

    The file is read as written or refused: UTF-8 (a leading byte-order mark
    is dropped), no object with a key twice, image ids integers or strings,
    each listed once and annotated once, ``category_id`` and category ``id``
    non-negative integers within int64, ``"categories"`` (when present) a
    list, ``file_name`` a non-empty string relative to ``root`` without
    ``..`` (unless ``allow_outside_root=True``).

    Parameters
    ----------
    root : str or Path
        The folder ``file_name`` starts from (the one holding ``train_val2018/``).
    annotation_json : str or Path
    transform, target_transform, loader
        See :class:`ImageListDataset`.
    check_files : bool, default=False
        Check now that every image exists instead of when it is read.
    allow_outside_root : bool, default=False
        Accept absolute ``file_name`` and ones with ``..``, which may read
        files outside ``root``; refused by default.

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
        A file that breaks the rules above: invalid JSON (with its line and
        column), a missing or mistyped field, an image without annotation or
        with two, an unknown category. The message names the file and the
        entry (``"annotations[3]"``).
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
        allow_outside_root,
        transform=transform,
        target_transform=target_transform,
        loader=loader,
        categories=names,
    )
