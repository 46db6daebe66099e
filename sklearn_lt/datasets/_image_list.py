"""Image-folder benchmarks read from split lists: ImageNet-LT and Places-LT.

Each loader parses an index (a split list; iNaturalist's JSON in :mod:`._inaturalist`) into
relative paths and integer labels and returns a lazy torch ``Dataset`` over
the image folder together with the labels. Images are opened with Pillow only
when an item is read. Nothing is downloaded.
"""

import os
import re
from pathlib import Path

import numpy as np
import torch.utils.data
from sklearn.utils._param_validation import validate_params

__all__ = ["ImageListDataset", "load_imagenet_lt", "load_split_list"]


def _require_pil():
    try:
        import PIL.Image  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "Reading images needs Pillow, which is not installed: `pip install pillow`, "
            "or pass loader=<a function from a file path to an image>."
        ) from exc


def _to_8bit(image, path):
    """16-bit and float pixels as 8-bit ``L``, scaled by their mode's range, not clipped.

    Pillow's ``convert`` clips them: 16-bit PNGs came out white, float TIFFs
    black. 16-bit integers (``I;16*``, and ``I`` holding 0..65535, as Pillow
    reads 16-bit PNGs) are divided by 257 (65535 -> 255); floats (``F``) are
    intensities in [0, 1], the convention of float images.
    """
    from PIL import Image

    pixels = np.asarray(image)
    if image.mode == "F":
        low, high = (float(pixels.min()), float(pixels.max())) if pixels.size else (0, 0)
        if not (0 <= low and high <= 1):  # NaN fails too
            raise ValueError(
                f"Image '{path}' has float pixels (mode F) in [{low}, {high}]; float images "
                "are read as intensities in [0, 1]: rescale it to [0, 1], or save it as 8-bit."
            )
        scaled = pixels * 255.0
    else:
        if image.mode == "I" and pixels.size and not 0 <= pixels.min() <= pixels.max() <= 65535:
            raise ValueError(
                f"Image '{path}' has 32-bit integer pixels (mode I) in [{pixels.min()}, "
                f"{pixels.max()}]; integer images are read as 16-bit (0 to 65535): "
                "save it as 8- or 16-bit."
            )
        scaled = pixels / 257.0
    return Image.fromarray(np.rint(scaled).astype(np.uint8))  # 2-D uint8: mode L


def pil_loader(path):
    """Read an image file with Pillow as an 8-bit RGB ``PIL.Image``; any failure names the file.

    As the LT codebases do (``Image.open(path).convert("RGB")``), except that
    16-bit and float images are scaled by their range instead of clipped.

    Parameters
    ----------
    path : str or Path
        The image file.

    Returns
    -------
    image : PIL.Image.Image
        The image in mode ``"RGB"``.

    Raises
    ------
    ValueError
        The file is not an image Pillow can read (truncated, corrupt, an
        unknown format), or its pixels are out of range; the message names
        the file and the cause.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
    except Exception as exc:  # Pillow raises OSError, SyntaxError, EOFError, zlib.error...
        raise ValueError(f"Cannot read image '{path}': {exc}") from exc
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _to_8bit(image, path)
    return image.convert("RGB")


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
        """Indices of the samples whose image file does not exist.

        Returns
        -------
        indices : list of int
            Positions in the list, in its order.
        """
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


def _forbidden_character(text):
    """Why ``text`` (a path, or a whole list line) cannot hold a path, or None.

    The character rule of every index reader: no control character (tab
    apart), Unicode line separator or byte-order mark (see ``_FORBIDDEN``).
    """
    forbidden = _FORBIDDEN.search(text)
    if forbidden is None:
        return None
    char = forbidden.group()
    name = "a byte-order mark" if char == "\ufeff" else "a control character"
    return f"{name} (U+{ord(char):04X}) in {text!r}; no path or label holds one."


def _check_paths(paths, labels, origins, allow_outside_root):
    """The rules on the image paths that every index reader (list, JSON) applies.

    Each path holds no forbidden character, stays under the root (unless
    ``allow_outside_root``), and names an image no other entry names: the
    same image twice, with two labels or with one, is refused (a second
    label contradicts the first; a repeat counts the image twice in every
    class count and sampler). Paths are compared after ``os.path.normpath``
    (``a/./b.png`` is ``a/b.png``).
    """
    source, locations = origins
    first = {}  # normalised path -> index of its first entry
    for k, (path, location) in enumerate(zip(paths, locations)):
        problem = _forbidden_character(path)
        if problem is None and not allow_outside_root:
            reason = _outside_root(path)
            if reason:
                problem = (
                    f"the path {path!r} may point outside the image root ({reason}); pass "
                    "allow_outside_root=True if that is intended."
                )
        if problem is not None:
            raise ValueError(f"{source}, {location}: {problem}")
        j = first.setdefault(os.path.normpath(path), k)
        if j != k:
            same = f" (as {paths[j]!r})" if paths[j] != path else ""
            if labels[j] == labels[k]:
                what = f"with the same label {labels[k]}: it would be counted twice"
            else:
                what = f"with the label {labels[k]} where the first gives {labels[j]}"
            raise ValueError(
                f"{source}, {location}: the image {path!r} is listed a second time{same}, "
                f"first at {locations[j]}, {what}. List each image once (to repeat images, "
                "use a sampler of sklearn_lt.sampling)."
            )


def _make_dataset(root, paths, labels, origins, check_files, allow_outside_root, **dataset_params):
    _check_paths(paths, labels, origins, allow_outside_root)
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
_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _decode_utf8(data, file, what):
    """``data`` as text, a leading byte-order mark dropped; a decoding error names its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(_LINE_BREAK.findall(data[: exc.start].decode("latin-1"))) + 1
        raise ValueError(f"{file}, line {line}: not UTF-8 {what} ({exc}).") from None


def _read_list_line(line):
    """``(path, label)`` of a non-blank line of a split list, or a ValueError naming the rule."""
    problem = _forbidden_character(line)
    if problem:
        raise ValueError(problem)
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
    - Each image is listed once: a path listed twice (compared after
      ``os.path.normpath``) is refused, with two labels or with one, naming
      both lines (a repeat would count the image twice; repeat images with a
      sampler of :mod:`sklearn_lt.sampling` instead).

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
        ``"<list_file>, line <n>: ..."`` (a repeated image also names the
        line of its first listing).
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
    :func:`load_split_list` (and its rules on the file).

    Parameters
    ----------
    root : str or Path
        The ImageNet (Places-365) image folder.
    split_file : str or Path
        The split list.
    **kwargs
        The other parameters of :func:`load_split_list` (``transform``,
        ``check_files``, ...).

    Returns
    -------
    dataset : ImageListDataset
    labels : ndarray of shape (n_samples,), int64
    """
    return load_split_list(root, split_file, **kwargs)
