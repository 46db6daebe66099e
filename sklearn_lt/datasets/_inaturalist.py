"""iNaturalist 2018 (any COCO-style classification JSON) read from its annotation file.

The JSON is read as written or refused with the entry that breaks it; the
image folder is served lazily by :class:`~sklearn_lt.datasets.ImageListDataset`.
"""

import json
import os
import reprlib

from sklearn.utils._param_validation import validate_params

from ._image_list import (
    _INT64_MAX,
    _PATH_PARAMS,
    _check_index_file,
    _check_root,
    _decode_utf8,
    _make_dataset,
)

__all__ = ["load_inaturalist"]


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
    ``..`` (unless ``allow_outside_root=True``), under the same rules as a
    split list's paths (:func:`load_split_list`): no control character (tab
    apart), line separator or byte-order mark, and no image listed twice
    under two ids (two ``file_name`` equal after ``os.path.normpath``).

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
        with two, an unknown category, a file name listed twice or holding a
        forbidden character. The message names the file and the entry
        (``"annotations[3]"``; both entries of a repeated file name).
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
