"""Long-tailed construction, digits-LT and the local-file loaders (on files in the real formats)."""

import json
import pickle
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sklearn_lt.datasets import (
    ImageListDataset,
    load_cifar_lt,
    load_digits_lt,
    load_imagenet_lt,
    load_inaturalist,
    load_split_list,
    log_thirds_thresholds,
    long_tailed_counts,
    make_long_tailed,
)


def reference_counts(n_max, n_classes, imbalance_ratio, profile="exponential"):
    """Plain numpy version of the published formulas."""
    i = np.arange(n_classes)
    if profile == "exponential":
        return np.floor(n_max * (1 / imbalance_ratio) ** (i / (n_classes - 1))).astype(int)
    return np.where(i < n_classes // 2, n_max, np.floor(n_max / imbalance_ratio)).astype(int)


def interleaved_labels(n_classes, n_per_class, seed=0):
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(n_classes), n_per_class))


# --------------------------------------------------------------------- counts


@pytest.mark.parametrize(
    "n_max, n_classes, ratio",
    [(5000, 10, 100), (5000, 10, 10), (500, 100, 100), (500, 100, 50), (124, 10, 50), (7, 3, 2)],
)
def test_exponential_counts_match_formula(n_max, n_classes, ratio):
    counts = long_tailed_counts(n_max, n_classes, ratio)
    np.testing.assert_array_equal(counts, reference_counts(n_max, n_classes, ratio))
    assert counts[0] == n_max and counts[-1] == n_max // ratio
    assert np.all(np.diff(counts) <= 0)


def test_published_totals():
    # CIFAR-100-LT and CIFAR-10-LT at IR 100 and IR 10 (LDAM-DRW, DESIGN.md)
    assert long_tailed_counts(500, 100, 100).sum() == 10847
    assert long_tailed_counts(5000, 10, 100).sum() == 12406
    assert long_tailed_counts(5000, 10, 10).sum() == 20431
    assert long_tailed_counts(500, 100, 10).sum() == 19573


@pytest.mark.parametrize("n_classes", [10, 7])
def test_step_counts(n_classes):
    counts = long_tailed_counts(500, n_classes, 10, profile="step")
    np.testing.assert_array_equal(counts, reference_counts(500, n_classes, 10, "step"))
    assert (counts == 500).sum() == n_classes // 2
    assert (counts == 50).sum() == n_classes - n_classes // 2


def test_counts_that_empty_a_class_are_refused():
    with pytest.raises(ValueError, match="without any sample"):
        long_tailed_counts(50, 10, 100)


def test_log_thirds_thresholds():
    # the standard 100/20 sit at the log-thirds of CIFAR-100-LT's 500..5
    assert log_thirds_thresholds(long_tailed_counts(500, 100, 100)) == (108, 23)
    assert log_thirds_thresholds([8, 1]) == (4, 2)
    with pytest.raises(ValueError, match="positive counts"):
        log_thirds_thresholds([10, 0])


# ------------------------------------------------------------ make_long_tailed


def test_cifar100_lt_total_from_labels():
    y = interleaved_labels(100, 500)
    lt = make_long_tailed(None, y, imbalance_ratio=100)
    assert len(lt.indices) == 10847 and lt.X is None
    np.testing.assert_array_equal(np.bincount(lt.y, minlength=100), reference_counts(500, 100, 100))
    np.testing.assert_array_equal(lt.class_counts, reference_counts(500, 100, 100))


def test_first_n_selection_and_layout():
    y = interleaved_labels(5, 20)
    X = np.arange(100 * 3).reshape(100, 3)
    lt = make_long_tailed(X, y, imbalance_ratio=10)
    np.testing.assert_array_equal(lt.class_order, np.arange(5))
    start = 0
    for label, n in zip(lt.class_order, lt.class_counts):
        block = lt.indices[start : start + n]
        np.testing.assert_array_equal(block, np.flatnonzero(y == label)[:n])
        start += n
    np.testing.assert_array_equal(lt.X, X[lt.indices])
    np.testing.assert_array_equal(lt.y, y[lt.indices])
    assert (lt.n_max, lt.imbalance_ratio, lt.profile) == (20, 10, "exponential")


def test_random_selection_is_deterministic_and_matches_ldam_drw():
    y = interleaved_labels(10, 50)
    a = make_long_tailed(None, y, imbalance_ratio=10, random_state=0)
    b = make_long_tailed(None, y, imbalance_ratio=10, random_state=0)
    c = make_long_tailed(None, y, imbalance_ratio=10, random_state=1)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)
    np.testing.assert_array_equal(a.class_counts, c.class_counts)

    # LDAM-DRW's gen_imbalanced_data: np.random.seed(0), shuffle each class's indices
    # (the legacy global generator on purpose: it is the reference)
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(0)  # noqa: NPY002
        expected = []
        for label, n in zip(np.unique(y), reference_counts(50, 10, 10)):
            idx = np.where(y == label)[0]
            np.random.shuffle(idx)  # noqa: NPY002
            expected.append(idx[:n])
    finally:
        np.random.set_state(state)  # noqa: NPY002
    np.testing.assert_array_equal(a.indices, np.concatenate(expected))


def test_class_order_puts_head_first():
    y = interleaved_labels(4, 10)
    lt = make_long_tailed(None, y, imbalance_ratio=10, class_order=[3, 1, 0, 2])
    np.testing.assert_array_equal(lt.class_order, [3, 1, 0, 2])
    expected = reference_counts(10, 4, 10)
    np.testing.assert_array_equal(lt.class_counts, expected)
    np.testing.assert_array_equal(np.bincount(lt.y, minlength=4)[[3, 1, 0, 2]], expected)


def test_string_labels_and_step_profile():
    y = np.repeat(np.array(["cat", "dog", "eel", "fox"]), 6)
    lt = make_long_tailed(None, y, imbalance_ratio=3, profile="step")
    np.testing.assert_array_equal(lt.class_order, ["cat", "dog", "eel", "fox"])
    np.testing.assert_array_equal(lt.class_counts, [6, 6, 2, 2])
    np.testing.assert_array_equal(lt.y, ["cat"] * 6 + ["dog"] * 6 + ["eel"] * 2 + ["fox"] * 2)


def test_n_max_default_and_explicit():
    y = np.concatenate([np.zeros(30, int), np.ones(12, int), np.full(20, 2)])
    assert make_long_tailed(None, y, imbalance_ratio=4).n_max == 12
    np.testing.assert_array_equal(make_long_tailed(None, y, imbalance_ratio=1).class_counts, 12)
    lt = make_long_tailed(None, y, imbalance_ratio=4, n_max=25, class_order=[0, 2, 1])
    np.testing.assert_array_equal(lt.class_counts, reference_counts(25, 3, 4))


def test_torch_pandas_dataset_and_return_X_y():
    y = interleaved_labels(3, 8)
    X = np.random.default_rng(0).normal(size=(24, 2, 2)).astype(np.float32)
    reference = make_long_tailed(X, y, imbalance_ratio=4)

    X_t, y_t = make_long_tailed(
        torch.from_numpy(X), torch.from_numpy(y), imbalance_ratio=4, return_X_y=True
    )
    assert isinstance(X_t, torch.Tensor) and isinstance(y_t, torch.Tensor)
    np.testing.assert_array_equal(X_t.numpy(), reference.X)
    np.testing.assert_array_equal(y_t.numpy(), reference.y)

    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X.reshape(24, 4), index=np.arange(100, 124))
    lt = make_long_tailed(frame, pd.Series(y, index=frame.index), imbalance_ratio=4)
    assert isinstance(lt.X, pd.DataFrame) and isinstance(lt.y, pd.Series)
    np.testing.assert_array_equal(lt.X.index, 100 + reference.indices)

    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    subset = make_long_tailed(dataset, y, imbalance_ratio=4).X
    assert isinstance(subset, torch.utils.data.Subset) and len(subset) == len(reference.y)
    assert int(subset[len(subset) - 1][1]) == reference.y[-1]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"imbalance_ratio": 0.5}, "imbalance_ratio"),
        ({"profile": "linear"}, "profile"),
        ({"n_max": 0}, "n_max"),
        ({"imbalance_ratio": 100}, "without any sample"),
        ({"n_max": 11}, r"Class 0 \(position 0 .*has 10 samples.*asks for 11"),
        ({"class_order": [0, 1, 1]}, "more than once"),
        ({"class_order": [0, 1, 5]}, r"missing from class_order: \[2\], not in y: \[5\]"),
    ],
)
def test_make_long_tailed_errors(params, message):
    y = np.repeat([0, 1, 2], 10)
    with pytest.raises(ValueError, match=message):
        make_long_tailed(None, y, **{"imbalance_ratio": 2, **params})


def test_short_class_is_named():
    y = np.concatenate([np.full(5, 7), np.full(50, 3)])
    with pytest.raises(ValueError, match=r"Class 7 \(position 0.*has 5 samples.*asks for 20"):
        make_long_tailed(None, y, imbalance_ratio=2, n_max=20, class_order=[7, 3])


def test_shape_errors():
    with pytest.raises(ValueError, match="inconsistent numbers of samples: 3 and 4"):
        make_long_tailed(np.zeros((3, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="2 or more classes"):
        make_long_tailed(None, [1, 1, 1])
    with pytest.raises(ValueError, match="1-D"):
        make_long_tailed(None, np.zeros((4, 2)))


# -------------------------------------------------------------------- digits-LT


def test_digits_lt_defaults():
    d = load_digits_lt()
    expected = reference_counts(124, 10, 50)  # 174 in the smallest class, 50 to test
    np.testing.assert_array_equal(d.class_counts, expected)
    np.testing.assert_array_equal(d.class_order, np.arange(10))
    np.testing.assert_array_equal(np.bincount(d.y_train), expected)
    np.testing.assert_array_equal(np.bincount(d.y_test), np.full(10, 50))
    assert d.X_train.shape == (expected.sum(), 64) and d.X_test.shape == (500, 64)
    assert d.X_train.dtype == np.float32 and 0 <= d.X_train.min() and d.X_train.max() == 1
    assert not set(d.train_indices) & set(d.test_indices)

    digits = load_digits()
    np.testing.assert_allclose(d.X_train, digits.data[d.train_indices] / 16)
    np.testing.assert_array_equal(d.y_test, digits.target[d.test_indices])
    # no randomness: each class's last 50 images are the test set
    for c in range(10):
        np.testing.assert_array_equal(
            d.test_indices[d.y_test == c], np.flatnonzero(digits.target == c)[-50:]
        )

    many, few = d.shot_thresholds
    assert (many, few) == log_thirds_thresholds(expected) == (31, 8)
    sizes = [
        (expected > many).sum(),
        ((expected >= few) & (expected <= many)).sum(),
        (expected < few).sum(),
    ]
    assert sizes == [4, 3, 3]
    assert "digits-LT" in d.DESCR and "fewer than 8" in d.DESCR


def test_digits_lt_random_state_images_and_return_X_y():
    a = load_digits_lt(random_state=0, as_images=True)
    b = load_digits_lt(random_state=0, as_images=True)
    c = load_digits_lt(random_state=1)
    np.testing.assert_array_equal(a.train_indices, b.train_indices)
    np.testing.assert_array_equal(a.test_indices, b.test_indices)
    assert not np.array_equal(a.test_indices, c.test_indices)
    assert a.X_train.shape[1:] == a.images_shape == (1, 8, 8)
    np.testing.assert_allclose(a.X_test.reshape(-1, 64), load_digits().data[a.test_indices] / 16)
    X_train, y_train, X_test, y_test = load_digits_lt(
        imbalance_ratio=10, n_test_per_class=30, profile="step", return_X_y=True
    )
    np.testing.assert_array_equal(np.bincount(y_train), reference_counts(144, 10, 10, "step"))
    assert X_test.shape == (300, 64) and len(X_train) == len(y_train)


def test_digits_lt_too_many_test_images():
    with pytest.raises(ValueError, match="at most 173"):
        load_digits_lt(n_test_per_class=174)


# ------------------------------------------------------------------------ CIFAR


def _write_pickle(file, content):
    with open(file, "wb") as f:
        pickle.dump(content, f, protocol=2)


def write_cifar10(folder, n_per_class=20, n_test_per_class=3, seed=0):
    """The cifar-10-batches-py layout: five training batches, a test batch, batches.meta."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    y = interleaved_labels(10, n_per_class, seed)
    data = rng.integers(0, 256, size=(len(y), 3072), dtype=np.uint8)
    for k, (rows, labels) in enumerate(zip(np.array_split(data, 5), np.array_split(y, 5)), 1):
        _write_pickle(
            folder / f"data_batch_{k}",
            {b"batch_label": b"training batch", b"labels": labels.tolist(), b"data": rows},
        )
    y_test = np.repeat(np.arange(10), n_test_per_class)
    _write_pickle(
        folder / "test_batch",
        {b"labels": y_test.tolist(), b"data": rng.integers(0, 256, (len(y_test), 3072), np.uint8)},
    )
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    _write_pickle(folder / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    return data, y


def test_cifar10_lt_round_trip(tmp_path):
    data, y = write_cifar10(tmp_path / "cifar-10-batches-py")
    d = load_cifar_lt(tmp_path, imbalance_ratio=10)  # the parent folder is found too
    expected = reference_counts(20, 10, 10)
    np.testing.assert_array_equal(d.class_counts, expected)
    np.testing.assert_array_equal(np.bincount(d.y_train), expected)
    assert d.X_train.shape == (expected.sum(), 3, 32, 32) and d.X_train.dtype == np.uint8
    # first n_i images of each class, in file order, as (3, 32, 32) planes
    for c, n in enumerate(expected):
        np.testing.assert_array_equal(d.train_indices[d.y_train == c], np.flatnonzero(y == c)[:n])
    np.testing.assert_array_equal(d.X_train[5], data[d.train_indices[5]].reshape(3, 32, 32))
    assert d.X_train[5, 1, 0, 0] == data[d.train_indices[5], 1024]
    np.testing.assert_array_equal(np.bincount(d.y_test), np.full(10, 3))
    assert d.target_names[3] == "cat" and d.shot_thresholds == (100, 20)

    again = load_cifar_lt(tmp_path / "cifar-10-batches-py", imbalance_ratio=10, as_float=True)
    np.testing.assert_allclose(again.X_train, d.X_train / 255, atol=1e-7)
    assert again.X_test.dtype == np.float32

    X_train, y_train, X_test, y_test = load_cifar_lt(
        tmp_path, imbalance_ratio=10, random_state=0, return_X_y=True
    )
    np.testing.assert_array_equal(np.bincount(y_train), expected)
    assert X_test.shape == (30, 3, 32, 32)


def test_cifar100_lt_round_trip(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    y = interleaved_labels(100, 5)
    data = rng.integers(0, 256, size=(500, 3072), dtype=np.uint8)
    _write_pickle(
        folder / "train",
        {
            b"filenames": [b"x.png"] * 500,
            b"fine_labels": y.tolist(),
            b"coarse_labels": (y // 5).tolist(),
            b"data": data,
        },
    )
    _write_pickle(folder / "test", {b"fine_labels": list(range(100)), b"data": data[:100]})
    d = load_cifar_lt(folder, dataset="cifar100", imbalance_ratio=5)
    np.testing.assert_array_equal(d.class_counts, reference_counts(5, 100, 5))
    np.testing.assert_array_equal(np.bincount(d.y_train, minlength=100), d.class_counts)
    assert d.target_names is None and len(d.y_test) == 100


def test_cifar_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such directory"):
        load_cifar_lt(tmp_path / "nowhere")
    expected_files = "cifar-10-batches-py.*expected the files data_batch_1"
    with pytest.raises(FileNotFoundError, match=expected_files):
        load_cifar_lt(tmp_path)

    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar_lt(tmp_path)

    (folder / "data_batch_3").write_bytes(b"this is not a pickle")
    with pytest.raises(ValueError, match="data_batch_3: not a CIFAR python batch"):
        load_cifar_lt(tmp_path)

    _write_pickle(folder / "data_batch_3", {b"data": np.zeros((4, 3072), np.uint8)})
    with pytest.raises(ValueError, match=r"data_batch_3: no b'labels' key; .*b'data'"):
        load_cifar_lt(tmp_path)

    _write_pickle(
        folder / "data_batch_3", {b"data": np.zeros((4, 1024), np.uint8), b"labels": [0] * 4}
    )
    with pytest.raises(ValueError, match=r"data_batch_3: b'data' must be .*\(4, 1024\)"):
        load_cifar_lt(tmp_path)

    _write_pickle(
        folder / "data_batch_3", {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0] * 3}
    )
    with pytest.raises(ValueError, match="data_batch_3: b'labels' must hold one integer label"):
        load_cifar_lt(tmp_path)

    with pytest.raises(ValueError, match="dataset"):
        load_cifar_lt(tmp_path, dataset="cifar1000")


class _Exploit:
    def __reduce__(self):
        return (sys.exit, ("pickle ran code",))


def test_cifar_pickle_cannot_run_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    _write_pickle(folder / "data_batch_2", {b"data": _Exploit(), b"labels": []})
    with pytest.raises(ValueError, match="data_batch_2: .*references sys.exit"):
        load_cifar_lt(tmp_path)


# -------------------------------------------------- split lists (ImageNet-LT)


def write_images(root, specs):
    """Solid-colour PNGs: specs maps relative path -> (r, g, b)."""
    Image = pytest.importorskip("PIL.Image")
    for path, colour in specs.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((4, 5, 3), colour, dtype=np.uint8)).save(root / path)


IMAGES = {
    "train/n01440764/n01440764_190.JPEG.png": (255, 0, 0),
    "train/n01443537/n01443537_2.png": (0, 255, 0),
    "train/n01443537/with space.png": (0, 0, 255),
}


def test_split_list_round_trip(tmp_path):
    write_images(tmp_path, IMAGES)
    paths = list(IMAGES)
    list_file = tmp_path / "ImageNet_LT_train.txt"
    list_file.write_text(f"{paths[0]} 0\n\n{paths[1]} 1\n{paths[2]}\t7\n")
    dataset, labels = load_imagenet_lt(tmp_path, list_file)
    assert isinstance(dataset, torch.utils.data.Dataset) and len(dataset) == 3
    assert dataset.paths == paths
    np.testing.assert_array_equal(labels, [0, 1, 7])
    assert labels.dtype == np.int64
    image, label = dataset[2]
    assert label == 7 and image.size == (5, 4) and image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image)[0, 0], IMAGES[paths[2]])

    to_tensor = lambda im: torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)  # noqa: E731
    dataset, _ = load_split_list(
        tmp_path,
        list_file,
        transform=to_tensor,
        target_transform=lambda t: t * 10,
        check_files=True,
    )
    X, y = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))
    assert X.shape == (3, 3, 4, 5) and y.tolist() == [0, 10, 70]


@pytest.mark.parametrize(
    "content, message",
    [
        ("a.png 0\nb.png 1\nc.png\n", r"list.txt, line 3: expected '<path> <label>', got 'c.png'"),
        ("a.png 0\n\nb.png one\n", r"list.txt, line 3: the label 'one' is not an integer"),
        ("\n\n", r"list.txt: no '<path> <label>' line"),
        ("a.png 0\n\xe9.png 1\n", r"list.txt, line 2: not UTF-8 text"),
    ],
)
def test_split_list_malformed(tmp_path, content, message):
    (tmp_path / "list.txt").write_bytes(content.encode("latin-1"))
    with pytest.raises(ValueError, match=message):
        load_split_list(tmp_path, tmp_path / "list.txt", loader=str)


def test_split_list_missing_files(tmp_path):
    (tmp_path / "list.txt").write_text("a.png 0\nsub/b.png 1\n")
    with pytest.raises(FileNotFoundError, match="Image root .*nowhere"):
        load_split_list(tmp_path / "nowhere", tmp_path / "list.txt", loader=str)
    with pytest.raises(FileNotFoundError, match="No such file: .*other.txt"):
        load_split_list(tmp_path, tmp_path / "other.txt", loader=str)
    with pytest.raises(
        FileNotFoundError,
        match=r"2 of 2 images are missing.*'sub/b.png' \(.*"
        r"list.txt, line 2\)",
    ):
        load_split_list(tmp_path, tmp_path / "list.txt", loader=str, check_files=True)
    dataset, _ = load_split_list(tmp_path, tmp_path / "list.txt", loader=str)
    with pytest.raises(FileNotFoundError, match=r"b.png' \(listed at .*list.txt, line 2\)"):
        dataset[1]
    (tmp_path / "a.png").write_bytes(b"raw")
    assert dataset[0] == (str(tmp_path / "a.png"), 0)  # a custom loader needs no Pillow


def test_missing_pillow_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "list.txt").write_text("a.png 0\n")
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match="needs Pillow.*pip install pillow.*loader="):
        load_split_list(tmp_path, tmp_path / "list.txt")
    dataset, labels = load_split_list(tmp_path, tmp_path / "list.txt", loader=str)
    assert labels.tolist() == [0]


def test_image_list_dataset_checks_lengths(tmp_path):
    with pytest.raises(ValueError, match="differ in length: 2 and 1"):
        ImageListDataset(tmp_path, ["a", "b"], [0], loader=str)


# ------------------------------------------------------------ iNaturalist 2018


def inat_json(**overrides):
    content = {
        "info": {"year": 2018},
        "images": [
            {"id": 11, "file_name": "train_val2018/Plantae/7477/a.jpg.png", "width": 5},
            {"id": 4, "file_name": "train_val2018/Aves/2/b.jpg.png", "width": 5},
            {"id": 30, "file_name": "train_val2018/Aves/3/c.jpg.png", "width": 5},
        ],
        "annotations": [
            {"id": 0, "image_id": 30, "category_id": 3},
            {"id": 1, "image_id": 11, "category_id": 7477},
            {"id": 2, "image_id": 4, "category_id": 2},
        ],
        "categories": [
            {"id": 2, "name": "Anas", "supercategory": "Aves"},
            {"id": 3, "name": "Aix", "supercategory": "Aves"},
            {"id": 7477, "name": "Quercus", "supercategory": "Plantae"},
        ],
    }
    content.update(overrides)
    return content


def test_inaturalist_round_trip(tmp_path):
    content = inat_json()
    write_images(tmp_path, {im["file_name"]: (9, 8, 7) for im in content["images"]})
    (tmp_path / "train2018.json").write_text(json.dumps(content, indent=2))
    dataset, labels = load_inaturalist(tmp_path, tmp_path / "train2018.json", check_files=True)
    assert dataset.paths == [im["file_name"] for im in content["images"]]
    np.testing.assert_array_equal(labels, [7477, 2, 3])
    assert dataset.categories == {2: "Anas", 3: "Aix", 7477: "Quercus"}
    image, label = dataset[1]
    assert label == 2 and np.asarray(image)[0, 0].tolist() == [9, 8, 7]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"annotations": None}, r": expected a top-level 'annotations' list \(iNaturalist's test"),
        ({"images": [{"id": 11}]}, r", images\[0\]: expected an object with a 'file_name'"),
        (
            {"annotations": [{"image_id": 30, "category_id": 3}, {"image_id": 11}]},
            r", annotations\[1\]: expected an object with a 'category_id'",
        ),
        (
            {
                "annotations": [
                    {"image_id": 30, "category_id": 3},
                    {"image_id": 30, "category_id": 3},
                ]
            },
            r", annotations\[1\]: image 30 has a second annotation",
        ),
        (
            {
                "annotations": [
                    {"image_id": 30, "category_id": 3},
                    {"image_id": 11, "category_id": 3},
                    {"image_id": 4, "category_id": 99},
                ]
            },
            r", annotations\[2\]: category_id 99 is not in 'categories'",
        ),
        (
            {
                "annotations": [
                    {"image_id": 30, "category_id": 3},
                    {"image_id": 11, "category_id": 3},
                ]
            },
            r", images\[1\]: image 4 \('train_val2018/Aves/2/b.jpg.png'\) has no annotation",
        ),
        (
            {
                "annotations": [
                    {"image_id": 30, "category_id": 3},
                    {"image_id": 11, "category_id": 3},
                    {"image_id": 4, "category_id": 2},
                    {"image_id": 5, "category_id": 2},
                ]
            },
            ": an annotation refers to image 5, not in 'images'",
        ),
        (
            {"annotations": [{"image_id": 30, "category_id": "3"}]},
            r", annotations\[0\]: category_id '3' is not an integer",
        ),
    ],
)
def test_inaturalist_malformed(tmp_path, overrides, message):
    (tmp_path / "val2018.json").write_text(json.dumps(inat_json(**overrides), indent=1))
    with pytest.raises(ValueError, match="val2018.json" + message):
        load_inaturalist(tmp_path, tmp_path / "val2018.json", loader=str)


def test_inaturalist_invalid_json_names_the_line(tmp_path):
    (tmp_path / "train2018.json").write_text('{\n  "images": [],\n  "annotations": [,]\n}\n')
    with pytest.raises(ValueError, match=r"train2018.json, line 3, column \d+: invalid JSON"):
        load_inaturalist(tmp_path, tmp_path / "train2018.json", loader=str)


def test_digits_lt_balanced_validation_split_is_disjoint():
    from sklearn_lt.datasets import load_digits_lt

    for seed in (None, 0):
        d = load_digits_lt(n_val_per_class=20, random_state=seed)
        assert np.all(np.bincount(d.y_val) == 20) and np.all(np.bincount(d.y_test) == 50)
        parts = [d.train_indices, d.val_indices, d.test_indices]
        assert len(np.unique(np.concatenate(parts))) == sum(map(len, parts))
        assert d.class_counts[0] == 174 - 70  # n_max shrinks by the held-out images
    with pytest.raises(ValueError, match="n_val_per_class"):
        load_digits_lt(n_val_per_class=130)


# ------------------------------------- list and JSON files: read as written or refused (#18)


@pytest.mark.parametrize(
    "content",
    [
        b"a.png 0\rsub/b c.png 1\r",  # old Mac: CR only
        b"a.png 0\r\nsub/b c.png 1\r\n",
        b"a.png 0\r\n\rsub/b c.png\t1",  # mixed, blank line, no final line end
        b"\xef\xbb\xbfa.png 0\nsub/b c.png 1 \t\n",  # UTF-8 byte-order mark, trailing blanks
    ],
)
def test_split_list_line_ends_and_bom(tmp_path, content):
    (tmp_path / "list.txt").write_bytes(content)
    dataset, labels = load_split_list(tmp_path, tmp_path / "list.txt", loader=str)
    assert dataset.paths == ["a.png", "sub/b c.png"]
    assert labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    "content, message",
    [
        ("a.png 0\nb.png 1 5\n", r"line 2: ambiguous line 'b.png 1 5'"),
        ("my file 2.png 0\nb 7 3\n", r"line 2: ambiguous line 'b 7 3'"),
        ("a b.png 5\t6 0\n", r"line 1: ambiguous line 'a b.png 5\\t6 0'.*number '6'"),
        ("a.png 1_0\n", r"line 1: the label '1_0' is not an integer in plain digits 0-9"),
        ("a.png +3\n", r"line 1: the label '\+3' is not an integer"),
        ("a.png -1\n", r"line 1: the label '-1' is not an integer"),
        ("a.png \uff17\n", r"line 1: the label '\uff17' is not an integer"),
        ("a.png 0x1\n", r"line 1: the label '0x1' is not an integer"),
        ("a.png 9223372036854775808\n", r"line 1: the label 9223372036854775808 does not fit"),
        ("a.png 1\n b.png 2\n", r"line 2: starts with whitespace"),
        ("a.png 1\rb\x00.png 2\n", r"line 2: a control character \(U\+0000\)"),
        ("a.png 1\nb.png\x0b2\n", r"line 2: a control character \(U\+000B\)"),
        ("a.png 1\n\ufeffb.png 2\n", r"line 2: a byte-order mark \(U\+FEFF\)"),
        ("a.png\u30002\n", r"line 1: expected '<path> <label>'"),
    ],
)
def test_split_list_refuses_what_it_cannot_read_as_written(tmp_path, content, message):
    (tmp_path / "list.txt").write_text(content, encoding="utf-8", newline="")
    with pytest.raises(ValueError, match=r"list.txt, " + message):
        load_split_list(tmp_path, tmp_path / "list.txt", loader=str)


def test_split_list_largest_label_and_spaces_in_paths(tmp_path):
    (tmp_path / "list.txt").write_text("a b/c d.png 9223372036854775807\nx 1.png\t007\n")
    dataset, labels = load_split_list(tmp_path, tmp_path / "list.txt", loader=str)
    assert dataset.paths == ["a b/c d.png", "x 1.png"]
    assert labels.tolist() == [2**63 - 1, 7]


@pytest.mark.parametrize(
    "path, reason", [("../outside.png", "'..' component"), ("sub/../../x.png", "'..'")]
)
def test_paths_outside_root_are_refused_unless_allowed(tmp_path, path, reason):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "outside.png").write_bytes(b"secret")
    (root / "list.txt").write_text(f"{path} 1\n")
    content = inat_json(
        images=[{"id": 1, "file_name": path}], annotations=[{"image_id": 1, "category_id": 2}]
    )
    (root / "train.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=rf"list.txt, line 1: the path .*{reason}.*allow_outside"):
        load_split_list(root, root / "list.txt", loader=str)
    with pytest.raises(ValueError, match=rf"train.json, images\[0\]: the path .*{reason}"):
        load_inaturalist(root, root / "train.json", loader=str)
    dataset, _ = load_split_list(root, root / "list.txt", loader=str, allow_outside_root=True)
    assert dataset.paths == [path]
    dataset, _ = load_inaturalist(root, root / "train.json", loader=str, allow_outside_root=True)
    assert dataset.paths == [path]


def test_absolute_paths_are_refused_unless_allowed(tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "list.txt").write_text(f"{outside} 3\n")
    with pytest.raises(ValueError, match=r"list.txt, line 1: .*it is absolute.*allow_outside"):
        load_split_list(root, root / "list.txt", loader=str)
    dataset, _ = load_split_list(root, root / "list.txt", loader=str, allow_outside_root=True)
    assert dataset[0] == (str(outside), 3)


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"images": [{"id": [4], "file_name": "a.png"}]},
            r", images\[0\]: id \[4\] is not an integer or a string",
        ),
        (
            {"annotations": [{"image_id": {"a": 1}, "category_id": 3}]},
            r", annotations\[0\]: image_id \{'a': 1\} is not an integer or a string",
        ),
        ({"images": [{"id": 11, "file_name": None}]}, r", images\[0\]: file_name null is not"),
        ({"images": [{"id": 11, "file_name": 7}]}, r", images\[0\]: file_name 7 is not a non-em"),
        ({"images": [{"id": 11, "file_name": ""}]}, r", images\[0\]: file_name '' is not a non-"),
        (
            {"annotations": [{"image_id": 30, "category_id": 2**64}], "categories": []},
            r", annotations\[0\]: category_id 18446744073709551616 is not in 0 .. 2\*\*63 - 1",
        ),
        (
            {"annotations": [{"image_id": 30, "category_id": -2}], "categories": []},
            r", annotations\[0\]: category_id -2 is not in 0",
        ),
        (
            {"annotations": [{"image_id": 30, "category_id": True}]},
            r", annotations\[0\]: category_id true is not an integer",
        ),
        ({"categories": {"2": "Anas"}}, ": 'categories' must be an array of objects.*'Anas'"),
        ({"categories": None}, ": 'categories' must be an array of objects with an 'id', got null"),
        (
            {"categories": [{"id": 2, "name": "Anas"}, {"id": 2, "name": "Aix"}]},
            r", categories\[1\]: category 2 is listed twice",
        ),
        ({"categories": [{"id": 2, "name": 5}]}, r", categories\[0\]: name 5 is not a string"),
        (
            {
                "images": [{"id": 4, "file_name": "a.png"}, {"id": 4, "file_name": "b.png"}],
                "annotations": [{"image_id": 4, "category_id": 2}],
            },
            r", images\[1\]: image 4 is listed twice \(first at images\[0\]\)",
        ),
    ],
)
def test_inaturalist_refuses_mistyped_entries(tmp_path, overrides, message):
    (tmp_path / "val2018.json").write_text(json.dumps(inat_json(**overrides)))
    with pytest.raises(ValueError, match="val2018.json" + message):
        load_inaturalist(tmp_path, tmp_path / "val2018.json", loader=str)


@pytest.mark.parametrize(
    "text, message",
    [
        (DEEP, ": the JSON is nested too deeply"),
        ('{"images": [], "annotations": [], "images": []}', ": an object has the key 'images' tw"),
        ('{"images": [{"id": 1' + "0" * 5000 + "}]}", r": invalid JSON \(Exceeds the limit"),
        ('{"images": []}\n\xff', r", line 2: not UTF-8 JSON"),
    ],
)
def test_inaturalist_refuses_unreadable_json(tmp_path, text, message):
    (tmp_path / "val2018.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match="val2018.json" + message):
        load_inaturalist(tmp_path, tmp_path / "val2018.json", loader=str)


def test_inaturalist_bom_string_ids_and_orphan_entry(tmp_path):
    content = inat_json(
        images=[{"id": "x7", "file_name": "a.png"}, {"id": 7, "file_name": "b.png"}],
        annotations=[{"image_id": 7, "category_id": 3}, {"image_id": "x7", "category_id": 2}],
    )
    (tmp_path / "a.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(content).encode())
    dataset, labels = load_inaturalist(tmp_path, tmp_path / "a.json", loader=str)
    assert dataset.paths == ["a.png", "b.png"] and labels.tolist() == [2, 3]

    content["annotations"].insert(0, {"image_id": 8, "category_id": 3})
    (tmp_path / "a.json").write_text(json.dumps(content))
    with pytest.raises(
        ValueError, match=r"a.json: .* image 8, not in 'images' \(annotations\[0\]\)"
    ):
        load_inaturalist(tmp_path, tmp_path / "a.json", loader=str)


def test_cifar_labels_outside_the_classes_are_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    labels = [0, 1, 2, 10]
    _write_pickle(
        folder / "test_batch", {b"data": np.zeros((4, 3072), np.uint8), b"labels": labels}
    )
    with pytest.raises(ValueError, match=r"test_batch: b'labels'\[3\] is 10, not one of the 10 cl"):
        load_cifar_lt(tmp_path)
    labels = [-1, 1, 2, 10]
    _write_pickle(
        folder / "test_batch", {b"data": np.zeros((4, 3072), np.uint8), b"labels": labels}
    )
    with pytest.raises(ValueError, match=r"test_batch: b'labels'\[0\] is -1.*\(2 labels outside\)"):
        load_cifar_lt(tmp_path)


def test_cifar_class_without_training_image_and_bad_names(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    _write_pickle(folder / "batches.meta", {b"label_names": [b"cat", b"dog"]})
    with pytest.raises(ValueError, match=r"batches.meta: b'label_names' must be a list of 10"):
        load_cifar_lt(tmp_path, imbalance_ratio=10)
    (folder / "batches.meta").unlink()
    for k in range(1, 6):
        batch = folder / f"data_batch_{k}"
        with open(batch, "rb") as f:
            content = pickle.load(f)
        content[b"labels"] = [label if label != 7 else 6 for label in content[b"labels"]]
        _write_pickle(batch, content)
    with pytest.raises(ValueError, match=r"have no image of class \[7\] \(1 of 10 classes\)"):
        load_cifar_lt(tmp_path, imbalance_ratio=10)


# ------------------------------------------------------ bad and unusual input
@pytest.mark.parametrize("bad", [[np.nan, 5], [np.inf, 5], [500, -np.inf]])
def test_log_thirds_thresholds_non_finite(bad):
    with pytest.raises(ValueError, match="finite positive counts"):
        log_thirds_thresholds(bad)


def test_log_thirds_thresholds_tensors_and_one_class():
    assert log_thirds_thresholds(torch.tensor([500, 5])) == (108, 23)
    assert log_thirds_thresholds(torch.tensor([500.0, 5.0]).half()) == (108, 23)
    assert log_thirds_thresholds([7]) == (7, 7)


def test_make_long_tailed_rows_are_taken_as_they_are():
    X = np.arange(40.0).reshape(20, 2)
    X[0, 0] = np.nan  # rows are selected, never computed with
    y = np.repeat([0, 1, 2, 3], 5)
    lt = make_long_tailed(X, y, imbalance_ratio=5)
    np.testing.assert_array_equal(lt.X, X[lt.indices])
    np.testing.assert_array_equal(lt.class_counts, [5, 2, 1, 1])
    for tensor in (torch.from_numpy(X).half(), torch.from_numpy(X).bfloat16(),
                   torch.from_numpy(X).T.contiguous().T):
        out = make_long_tailed(tensor, torch.from_numpy(y), imbalance_ratio=5)
        assert out.X.dtype == tensor.dtype
        np.testing.assert_array_equal(out.X.float().numpy(),  # NaN where NaN was
                           tensor[torch.from_numpy(lt.indices)].float().numpy())
        np.testing.assert_array_equal(out.y.numpy(), y[lt.indices])


def test_make_long_tailed_bfloat16_labels():
    y = np.repeat([0, 1, 2, 3], 5)
    lt = make_long_tailed(None, torch.from_numpy(y).bfloat16(), imbalance_ratio=5)
    np.testing.assert_array_equal(lt.class_counts, [5, 2, 1, 1])


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((None, []), {}, "2 or more classes"),
        ((None, [0.0, np.nan, 1.0, 1.0]), {}, "NaN"),
        ((None, np.repeat([0, 1], 5)), {"imbalance_ratio": np.nan}, "imbalance_ratio"),
        ((None, np.repeat([0, 1], 5)), {"imbalance_ratio": np.inf}, "imbalance_ratio"),
        ((None, np.repeat([0, 1], 5)), {"n_max": 2.5}, "n_max"),
        ((np.float64(3.0), np.repeat([0, 1], 5)), {}, "'X' parameter"),
        ((None, np.repeat([0, 1], 5)), {"class_order": ["0", "1"]}, "class_order"),
    ],
)
def test_make_long_tailed_refuses_bad_labels_and_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_long_tailed(*args, **kwargs)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: long_tailed_counts(10, 3, np.nan), "imbalance_ratio"),
        (lambda: long_tailed_counts(10, 3, 1e308), "without any sample"),
        (lambda: load_digits_lt(imbalance_ratio=np.inf), "imbalance_ratio"),
        (lambda: load_digits_lt(imbalance_ratio=1e4), "without any sample"),
        (lambda: load_digits_lt(n_val_per_class=-1), "n_val_per_class"),
        (lambda: load_digits_lt(n_test_per_class=100, n_val_per_class=100), "leave no training"),
        (lambda: load_digits_lt(class_order=[9, 8]), "class_order"),
    ],
)
def test_dataset_parameters_out_of_range(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------- issue #24.23: CIFAR class names
def test_cifar_class_names_not_utf8_are_read_as_latin1(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder)
    names = [b"caf\xe9", "na\u00efve".encode(), *[b"class %d" % k for k in range(2, 10)]]
    _write_pickle(folder / "batches.meta", {b"label_names": names})
    bunch = load_cifar_lt(tmp_path, imbalance_ratio=10)
    assert bunch.target_names[:3].tolist() == ["caf\xe9", "na\u00efve", "class 2"]
    assert [n.encode("latin-1") for n in bunch.target_names[:1]] == [b"caf\xe9"]  # lossless


# --------------------- issues #24.18 and #24.19: one set of rules on image paths
@pytest.mark.parametrize(
    "content, message",
    [
        ("a.png 1\nb.png 2\na.png 3\n",
         r"line 3: the image 'a.png' is listed a second time, first at line 1, with the label 3 "
         r"where the first gives 1"),
        ("a.png 1\nb.png 2\n./a.png 1\n",
         r"line 3: the image './a.png' is listed a second time \(as 'a.png'\), first at line 1, "
         r"with the same label 1: it would be counted twice"),
        ("d/a.png 1\nd//a.png 1\n", r"line 2: the image 'd//a.png' is listed a second time"),
    ],
)
def test_split_list_refuses_an_image_listed_twice(tmp_path, content, message):
    (tmp_path / "list.txt").write_text(content)
    with pytest.raises(ValueError, match=r"list.txt, " + message):
        load_split_list(tmp_path, tmp_path / "list.txt", loader=str)


def test_inaturalist_refuses_a_file_name_listed_twice(tmp_path):
    content = inat_json()
    content["images"][2]["file_name"] = content["images"][0]["file_name"]
    (tmp_path / "train.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=r"train.json, images\[2\]: the image "
                       r"'train_val2018/Plantae/7477/a.jpg.png' is listed a second time, first "
                       r"at images\[0\], with the label 3 where the first gives 7477"):
        load_inaturalist(tmp_path, tmp_path / "train.json", loader=str)


@pytest.mark.parametrize(
    "name, message",
    [
        ("a\x00.png", r"a control character \(U\+0000\)"),
        ("a\n.png", r"a control character \(U\+000A\)"),
        ("a\r", r"a control character \(U\+000D\)"),
        ("b\u2028.png", r"a control character \(U\+2028\)"),
        ("\ufeffc.png", r"a byte-order mark \(U\+FEFF\)"),
    ],
)
def test_inaturalist_file_names_follow_the_split_list_rules(tmp_path, name, message):
    content = inat_json()
    content["images"][1]["file_name"] = name
    (tmp_path / "train.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=r"train.json, images\[1\]: " + message):
        load_inaturalist(tmp_path, tmp_path / "train.json", loader=str)
    # the same path in a split list (where it is not a line break or the file's
    # leading byte-order mark): the same refusal
    (tmp_path / "list.txt").write_text(f"x.png 0\n{name} 1\n", newline="")
    if "\n" not in name and "\r" not in name:
        with pytest.raises(ValueError, match=r"list.txt, line 2: " + message):
            load_split_list(tmp_path, tmp_path / "list.txt", loader=str)
