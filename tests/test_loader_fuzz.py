"""Fuzzing of the file loaders (hypothesis): a list, JSON or CIFAR file is either read exactly
as written or refused with a ValueError that names the file; never another exception, never a
sample lost or misread.

Each property checks the loader's result against the documented rules (docstrings of
``load_split_list`` and ``load_inaturalist``, docs/user_guide/refusals.rst) written out here
independently, not against the loader's own parser.
"""

import json
import os
import pickle
import re
import unicodedata
from pathlib import PurePath

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sklearn_lt.datasets import load_cifar_lt, load_inaturalist, load_split_list

INT64_MAX = 2**63 - 1
LINE_ENDS = ["\n", "\r\n", "\r"]
BOM = "\ufeff"
fuzz = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def allowed_characters(path):
    """No control character (tab apart), line or paragraph separator, or byte-order mark."""
    return all(
        char == "\t" or (unicodedata.category(char) not in ("Cc", "Zl", "Zp") and char != BOM)
        for char in path
    )


def well_formed_path(path):
    """The rules every path follows (a list file's paths follow more: check_list_path_rules)."""
    pure = PurePath(path)
    return bool(path) and not pure.anchor and ".." not in pure.parts and allowed_characters(path)


def check_path_rules(path):
    assert isinstance(path, str) and well_formed_path(path), path


def check_each_image_once(paths):
    """No image listed twice (issue #24.18), however its path is spelt (``a/./b``, ``a//b``)."""
    assert len({os.path.normpath(p) for p in paths}) == len(paths), paths


def ends_in_a_number(path):
    words = re.split(r"[ \t]+", path)
    return len(words) > 1 and re.fullmatch(r"[0-9]+", words[-1]) is not None


def check_list_path_rules(path):
    check_path_rules(path)
    assert path[0] not in " \t" and path[-1] not in " \t", path
    assert not ends_in_a_number(path), path


def load(loader, file, **params):
    """The loader's (paths, labels), or None when it refused the file with a ValueError."""
    try:
        dataset, labels = loader(file.parent, file, loader=str, **params)
    except ValueError as exc:
        assert str(exc).startswith(str(file)), exc  # the message names the file first
        event("refused", re.sub(r"[^a-z ]", "", str(exc)[len(str(file)) :])[:30])
        return None
    event("read")
    assert labels.dtype == np.int64 and len(labels) == len(dataset.paths) > 0
    np.testing.assert_array_equal(labels, dataset.targets)
    return dataset.paths, labels.tolist()


# ----------------------------------------------------------------- split lists

# Letters of several scripts, digits, punctuation seen in file names, a no-break space (not a
# separator) and the two separators.
PATH_CHARS = "ab.Z_-/09 \t\xe9\u65e5\xa0()"
EDGE_CHARS = PATH_CHARS.replace(" ", "").replace("\t", "").replace("/", "")


paths = (
    st.sampled_from(EDGE_CHARS)
    | st.builds(
        lambda first, middle, last: first + middle + last,
        st.sampled_from(EDGE_CHARS),
        st.text(PATH_CHARS, max_size=18),
        st.sampled_from(EDGE_CHARS),
    )
).filter(lambda p: well_formed_path(p) and not ends_in_a_number(p))


@st.composite
def list_files(draw):
    """(text, paths, labels) of a well-formed list in any of the accepted layouts."""
    records = draw(
        st.lists(
            st.tuples(paths, st.integers(0, INT64_MAX)),
            min_size=1,
            max_size=8,
            unique_by=lambda record: os.path.normpath(record[0]),
        )
    )
    text = BOM if draw(st.booleans()) else ""
    for path, label in records:
        if draw(st.booleans()):
            text += draw(st.text(" \t", max_size=2)) + draw(st.sampled_from(LINE_ENDS))
        text += (
            path
            + draw(st.text(" \t", min_size=1, max_size=3))
            + "0" * draw(st.integers(0, 2))
            + str(label)
            + draw(st.text(" \t", max_size=2))
            + draw(st.sampled_from(LINE_ENDS))
        )
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    return text, [p for p, _ in records], [label for _, label in records]


@fuzz
@given(case=list_files())
def test_well_formed_lists_are_read_exactly(tmp_path, case):
    text, expected_paths, expected_labels = case
    file = tmp_path / "list.txt"
    file.write_bytes(text.encode())
    assert load(load_split_list, file) == (expected_paths, expected_labels)


TRICKY = [
    " ", "\t", "\n", "\r", "\r\n", BOM, "..", "/", "./", "\x00", "\x0b", "\x0c", "\x1c",
    "\x85", "\x7f", "\u2028", "\xa0", "\u3000", "\xe9",
]  # fmt: skip
ODD_PATHS = ["../x.png", "/abs.png", "a/../b.png", "a.png 5", "a b.png 5\t6"]
ODD_LABELS = ["+3", "-1", "1_0", "1.0", "\uff17", "\u0663", "0x1", "9223372036854775808"]


def mostly(common, rare):
    """``common`` but one time in twenty: odd pieces everywhere would leave no line readable."""
    return st.integers(0, 19).flatmap(lambda k: rare if k == 0 else common)


tricky = st.sampled_from(TRICKY) | st.text(max_size=3)
path_fields = mostly(paths, st.sampled_from(ODD_PATHS) | tricky)
label_fields = mostly(
    st.sampled_from(["0", "7", "007", "9223372036854775807"]) | st.integers(0).map(str),
    st.sampled_from(ODD_LABELS) | tricky,
)
separators = mostly(st.text(" \t", min_size=1, max_size=2), tricky)


@st.composite
def list_texts(draw):
    """Lines of odd pieces; now and then a line repeats an earlier path (#24.18)."""
    text = draw(list_pieces())
    lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip(" \t")]
    if lines and draw(st.integers(0, 4)) == 0:
        path = re.split(r"[ \t]+", lines[draw(st.integers(0, len(lines) - 1))].strip(" \t"))[0]
        spelling = draw(st.sampled_from(["", "./", ".//"]))  # the same image, spelt otherwise
        text += f"\n{spelling}{path} {draw(st.integers(0, 3))}\n"
    return text


@st.composite
def list_pieces(draw):
    """Lines '<path> <label>', mostly as lists are written, with odd pieces mixed in."""
    text = BOM if draw(st.integers(0, 4)) == 0 else ""
    for _ in range(draw(st.integers(0, 4))):
        fields = [draw(path_fields), *draw(mostly(st.just([]), st.lists(label_fields, max_size=2)))]
        if draw(st.integers(0, 19)):  # else a lone field
            fields.append(draw(label_fields))
        line = draw(mostly(st.just(""), separators)) + fields[0]
        for field in fields[1:]:
            line += draw(separators) + field
        line += draw(mostly(st.text(" \t", max_size=1), tricky))
        text += line + draw(mostly(st.sampled_from(LINE_ENDS), tricky))
    return text


@settings(fuzz, max_examples=400)
@given(text=list_texts(), data=st.data())
def test_any_list_is_read_as_written_or_refused(tmp_path, text, data):
    file = tmp_path / "list.txt"
    if data.draw(st.integers(0, 9)) == 0:  # sometimes bytes, mostly not UTF-8
        file.write_bytes(data.draw(st.binary(max_size=40)))
    else:
        file.write_bytes(text.encode("utf-8", "surrogatepass"))
    result = load(load_split_list, file)
    if result is None:
        return
    text = file.read_bytes().decode("utf-8")  # it was read, so it is UTF-8
    text = text.removeprefix(BOM)
    lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip(" \t")]
    assert len(lines) == len(result[0])  # one sample per non-blank line, none lost
    check_each_image_once(result[0])
    for line, path, label in zip(lines, *result):
        check_list_path_rules(path)
        assert 0 <= label <= INT64_MAX
        assert re.fullmatch(re.escape(path) + rf"[ \t]+0*{label}[ \t]*", line), (line, path)


# ----------------------------------------------------------------- JSON (COCO / iNaturalist)

image_ids = st.integers(-(2**70), 2**70) | st.text(max_size=4)
file_names = st.text(min_size=1, max_size=12).filter(well_formed_path)
category_ids = st.integers(0, INT64_MAX)


@st.composite
def inat_contents(draw):
    """A well-formed annotation file: (content, file names, labels in image order)."""
    ids = draw(st.lists(image_ids, min_size=1, max_size=6, unique=True))
    names = draw(
        st.lists(file_names, min_size=len(ids), max_size=len(ids), unique_by=os.path.normpath)
    )
    labels = draw(st.lists(category_ids, min_size=len(ids), max_size=len(ids)))
    annotations = [
        {"id": k, "image_id": i, "category_id": c} for k, (i, c) in enumerate(zip(ids, labels))
    ]
    content = {
        "images": [{"id": i, "file_name": n} for i, n in zip(ids, names)],
        "annotations": draw(st.permutations(annotations)),
    }
    if draw(st.booleans()):
        content["categories"] = [{"id": c, "name": f"class {c}"} for c in sorted(set(labels))]
    return content, names, labels


def json_text(content, draw):
    text = json.dumps(
        content, indent=draw(st.sampled_from([None, 0, 2])), ensure_ascii=draw(st.booleans())
    )
    return (BOM if draw(st.booleans()) else "") + text


@fuzz
@given(case=inat_contents(), data=st.data())
def test_well_formed_json_is_read_exactly(tmp_path, case, data):
    content, names, labels = case
    file = tmp_path / "train.json"
    file.write_text(json_text(content, data.draw), encoding="utf-8")
    assert load(load_inaturalist, file) == (names, labels)


def deep(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.integers(-(2**70), 2**70),
    st.sampled_from(["", "..", "../x.png", "/abs.png", "a/../../b", "7", BOM + "a.png"]),
    # characters a split list cannot hold either (#24.19)
    st.sampled_from(["a\x00.png", "a\n.png", "a\r", "b\u2028.png", "\x85", "c\x1f.jpg"]),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.integers(1, 50).map(deep),
)
KEYS = ["images", "annotations", "categories"]


@st.composite
def mutated_inat_contents(draw):
    """A well-formed file with up to three entries, fields or parts replaced by odd values."""
    content, _, _ = draw(inat_contents())
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(KEYS))
        part = content.get(key)
        kinds = ["field", "drop", "duplicate", "entry", "part", "rename", "character"]
        kind = draw(st.sampled_from(kinds))
        if kind == "part" or not isinstance(part, list) or not part:
            content[key] = draw(odd_values)
            continue
        k = draw(st.integers(0, len(part) - 1))
        if kind in ("rename", "character"):
            other = part[draw(st.integers(0, len(part) - 1))]
            if isinstance(part[k], dict) and isinstance(other, dict) and "file_name" in other:
                name = str(other["file_name"])
                if kind == "rename":  # another image's name, maybe spelt otherwise (#24.18)
                    name = draw(st.sampled_from(["", "./", ".//"])) + name
                else:  # a character a split list cannot hold (#24.19)
                    at = draw(st.integers(0, len(name)))
                    name = name[:at] + draw(st.sampled_from(TRICKY)) + name[at:]
                part[k]["file_name"] = name
        elif kind == "entry":
            part[k] = draw(odd_values)
        elif kind == "duplicate":
            part.insert(draw(st.integers(0, len(part))), part[k])
        elif isinstance(part[k], dict) and part[k]:
            field = draw(st.sampled_from(sorted(part[k])))
            if kind == "drop":
                del part[k][field]
            else:
                part[k][field] = draw(odd_values)
    return content


def expected_inat(content):
    """What a file that loads must give: every image once, with its one annotation's category."""
    images, annotations = content["images"], content["annotations"]
    assert len(annotations) == len(images)  # no orphan annotation
    known = {c["id"] for c in content["categories"]} if "categories" in content else None
    labels = []
    for image in images:
        (match,) = [a for a in annotations if a["image_id"] == image["id"]]
        assert type(match["image_id"]) is type(image["id"])
        assert known is None or match["category_id"] in known
        labels.append(match["category_id"])
    return [image["file_name"] for image in images], labels


@settings(fuzz, max_examples=400)
@given(content=mutated_inat_contents(), data=st.data())
def test_any_json_is_read_as_written_or_refused(tmp_path, content, data):
    file = tmp_path / "train.json"
    file.write_text(json_text(content, data.draw), encoding="utf-8")
    result = load(load_inaturalist, file)
    if result is None:
        return
    assert result == expected_inat(content)
    check_each_image_once(result[0])
    for path, label in zip(*result):
        check_path_rules(path)
        assert 0 <= label <= INT64_MAX


@fuzz
@given(case=inat_contents(), key=st.sampled_from(["id", "file_name", "image_id", "category_id"]))
def test_json_duplicate_keys_are_refused(tmp_path, case, key):
    # json.loads keeps the last of two equal keys; the loader must not lose the first silently
    text = json.dumps(case[0]).replace(f'"{key}": ', f'"{key}": 0, "{key}": ', 1)
    file = tmp_path / "train.json"
    file.write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"{file}: an object has the key '{key}' twice")):
        load_inaturalist(tmp_path, file, loader=str)


# ----------------------------------------------------------------------------- CIFAR


@pytest.fixture(scope="module")
def cifar_folder(tmp_path_factory):
    """A cifar-10-batches-py with every class in training; the test batch is fuzzed."""
    folder = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    folder.mkdir()
    y = np.tile(np.arange(10), 3)
    for k, labels in enumerate(np.array_split(y, 5), 1):
        with open(folder / f"data_batch_{k}", "wb") as f:
            data = np.zeros((len(labels), 3072), np.uint8)
            pickle.dump({b"data": data, b"labels": labels.tolist()}, f, protocol=2)
    return folder


label_values = mostly(st.integers(0, 9), st.integers(-(2**63), 2**63 - 1))
DTYPES = ["int8", "uint8", "int64", "uint64", "float64", "bool", "object"]
label_arrays = st.one_of(
    # a list, as in the official files (Python ints, unbounded)
    st.lists(mostly(label_values, st.integers(-(2**70), 2**70)), max_size=8),
    st.builds(
        lambda values, dtype: np.array(values, dtype=np.int64).astype(dtype),
        st.lists(label_values, max_size=8),
        st.sampled_from(DTYPES),
    ),
)


@settings(fuzz, max_examples=80)
@given(labels=label_arrays)
def test_cifar_labels_are_read_as_written_or_refused(cifar_folder, labels):
    file = cifar_folder / "test_batch"
    with open(file, "wb") as f:
        pickle.dump({b"data": np.zeros((len(labels), 3072), np.uint8), b"labels": labels}, f)
    try:
        _, _, _, y_test = load_cifar_lt(cifar_folder, imbalance_ratio=1, return_X_y=True)
    except ValueError as exc:
        assert str(exc).startswith(str(file)), exc
        event("refused")
        return
    event("read")
    assert y_test.dtype == np.int64
    assert y_test.tolist() == [int(v) for v in labels]
    assert all(0 <= v < 10 for v in y_test)
