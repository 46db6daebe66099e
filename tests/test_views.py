"""Augmented feature views for stage two (issue #25 item 8): ``transform_views``.

Both embedders give ``n_views`` augmented features per image, image-major,
with the group of each row; BatchNorm frozen or in train mode with its running
statistics restored. The references are plain loops over the same
augmentation and network.
"""

import copy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, GroupKFold
from torch import nn

from sklearn_lt import CRTClassifier, SoftmaxClassifier, TauNormClassifierCV
from sklearn_lt.backbone import BackboneEmbedder, EfficientNetLite0, PretrainedEmbedder
from sklearn_lt.backbone._callbacks import run_seed
from sklearn_lt.backbone._data import augment_batch
from sklearn_lt.backbone._pretrained_data import (
    TRAIN_AUGMENT,
    AugmentedImagePreprocessor,
    Normalizer,
    random_resized_crop_box,
)
from sklearn_lt.datasets import pil_loader

Image = pytest.importorskip("PIL.Image")

K = 3


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:120] / 16).astype(np.float32), y[:120]


@pytest.fixture(scope="module")
def embedder(digits):
    X, y = digits
    return BackboneEmbedder(input_shape=(1, 8, 8), max_epochs=1, random_state=0).fit(X, y)


def _buffers(module):
    return [b.detach().clone() for b in module.buffers()]


def _reference_views(net, X, n_views, random_state, options, batchnorm="eval"):
    """A plain loop: one batch of every image, one augmentation per view, seeded."""
    net = copy.deepcopy(net).eval()
    if batchnorm == "train":
        for layer in net.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.train()
    images = torch.as_tensor(X).reshape(-1, 1, 8, 8)
    generator = torch.Generator().manual_seed(run_seed(random_state))
    with torch.no_grad():
        views = [
            net.features(augment_batch(images, **options, generator=generator))
            for _ in range(n_views)
        ]
    return torch.stack(views, dim=1).reshape(len(X) * n_views, -1).numpy()


# ------------------------------------------------------------ BackboneEmbedder
@pytest.mark.parametrize("batchnorm", ["eval", "train"])
def test_backbone_views_are_the_augmented_images_through_the_network(digits, embedder, batchnorm):
    X, _ = digits
    embedder = copy.deepcopy(embedder).set_params(batch_size=-1)  # one batch, as the reference
    F, groups = embedder.transform_views(X, n_views=K, random_state=7, batchnorm=batchnorm)
    assert F.shape == (len(X) * K, embedder.feature_dim_) and F.dtype == np.float32
    np.testing.assert_array_equal(groups, np.repeat(np.arange(len(X)), K))
    # The embedder trained without augmentation: the standard one (pad 1 on 8x8, flip).
    expected = _reference_views(
        embedder._joint_net(), X, K, 7, {"padding": 1, "flip": True}, batchnorm
    )
    np.testing.assert_allclose(F, expected, rtol=1e-5, atol=1e-5)


def test_backbone_views_are_image_major(digits, embedder):
    X, _ = digits
    symmetric = (X.reshape(-1, 8, 8) + X.reshape(-1, 8, 8)[:, :, ::-1]).reshape(len(X), -1)
    # No crop, flips of left-right symmetric images: every view is the image itself.
    F, groups = embedder.transform_views(
        symmetric, n_views=K, augment={"padding": 0}, random_state=0
    )
    np.testing.assert_allclose(F, embedder.transform(symmetric)[groups], rtol=1e-5, atol=1e-6)


def test_backbone_views_are_reproducible_differ_and_are_all_augmented(digits, embedder):
    X, _ = digits
    F, _ = embedder.transform_views(X, n_views=K, random_state=0)
    again, _ = embedder.transform_views(X, n_views=K, random_state=0)
    other, _ = embedder.transform_views(X, n_views=K, random_state=1)
    np.testing.assert_array_equal(F, again)
    assert not np.allclose(F, other)
    views = F.reshape(len(X), K, -1)
    centre = embedder.transform(X)
    # 18 equally likely (offset, flip) pairs, one of them the identity: a view is
    # transform's feature about 1 time in 18, the first view no more than the others.
    for k in range(K):
        same = np.isclose(views[:, k], centre, atol=1e-6).all(axis=1)
        assert same.mean() < 0.2, k
    assert (~np.isclose(views[:, 0], views[:, 1], atol=1e-6).all(axis=1)).mean() > 0.8


def test_backbone_views_use_the_embedders_own_augmentation(digits):
    X, y = digits
    embedder = BackboneEmbedder(
        input_shape=(1, 8, 8), max_epochs=1, random_state=0, batch_size=-1,
        augment={"padding": 2, "flip": False},
    ).fit(X, y)
    F, _ = embedder.transform_views(X, n_views=2, random_state=3)
    expected = _reference_views(
        embedder._joint_net(), X, 2, 3, {"padding": 2, "flip": False}
    )
    np.testing.assert_allclose(F, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batchnorm", ["eval", "train"])
def test_backbone_batchnorm_is_left_in_eval_with_its_running_statistics(
    digits, embedder, batchnorm
):
    X, _ = digits
    net = embedder._joint_net()
    before = _buffers(net)
    centre = embedder.transform(X)
    embedder.transform_views(X, n_views=2, random_state=0, batchnorm=batchnorm)
    assert not any(m.training for m in net.modules())
    for old, new in zip(before, net.buffers()):
        torch.testing.assert_close(old, new, rtol=0, atol=0)
    np.testing.assert_array_equal(embedder.transform(X), centre)


def test_backbone_batchnorm_train_uses_the_batch_statistics(digits, embedder):
    X, _ = digits
    frozen, _ = embedder.transform_views(X, n_views=2, random_state=0)
    batch, _ = embedder.transform_views(X, n_views=2, random_state=0, batchnorm="train")
    assert not np.allclose(frozen, batch, atol=1e-3)


def test_backbone_views_in_torch(digits, embedder):
    X, _ = digits
    F, groups = embedder.transform_views(torch.as_tensor(X), n_views=2, random_state=0)
    assert isinstance(F, torch.Tensor) and isinstance(groups, np.ndarray)
    np.testing.assert_array_equal(
        F.numpy(), embedder.transform_views(X, n_views=2, random_state=0)[0]
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_views": 0}, "n_views must be a positive int"),
        ({"n_views": -2}, "n_views must be a positive int"),
        ({"n_views": 2.0}, "n_views must be a positive int"),
        ({"n_views": True}, "n_views must be a positive int"),
        ({"batchnorm": "frozen"}, "batchnorm must be 'eval' or 'train'"),
        ({"augment": False}, "augment must be True, a dict or None"),
        ({"augment": {"scale": (0.5, 1)}}, "augment accepts the keys"),
    ],
)
def test_backbone_views_refuse_bad_arguments(digits, embedder, params, match):
    X, _ = digits
    with pytest.raises(ValueError, match=match):
        embedder.transform_views(X, **params)


def test_unfitted_embedders_refuse_views(digits):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        BackboneEmbedder(input_shape=(1, 8, 8)).transform_views(digits[0])
    with pytest.raises(NotFittedError):
        PretrainedEmbedder().transform_views(["a.png"])


# ------------------------------------------------------------------- groups
def test_group_k_fold_keeps_an_images_views_in_one_fold(digits, embedder):
    X, y = digits
    F, groups = embedder.transform_views(X, n_views=K, random_state=0)
    for train, test in GroupKFold(n_splits=4).split(F, y[groups], groups):
        assert not set(groups[train]) & set(groups[test])
        assert set(groups[test]) == set(np.unique(groups[test]))
        assert np.bincount(groups[test]).max() == K  # whole images
    search = GridSearchCV(
        SoftmaxClassifier(), {"weight_decay": [1e-4, 1e-2]}, cv=GroupKFold(n_splits=3)
    ).fit(F, y[groups], groups=groups)
    assert search.best_params_["weight_decay"] in (1e-4, 1e-2)
    assert search.predict(embedder.transform(X[:4])).shape == (4,)


def test_a_cv_head_splits_the_views_by_image(digits, embedder):
    X, y = digits
    F, groups = embedder.transform_views(X, n_views=K, random_state=0)
    y_views = y[groups]
    by_groups = TauNormClassifierCV(cv=GroupKFold(n_splits=3), random_state=0)
    by_groups.fit(F, y_views, groups=groups)
    folds = list(GroupKFold(n_splits=3).split(F, y_views, groups))
    by_folds = TauNormClassifierCV(cv=folds, random_state=0).fit(F, y_views)
    np.testing.assert_array_equal(
        by_groups.cv_results_["mean_test_score"], by_folds.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(by_groups.coef_, by_folds.coef_)
    with pytest.raises(ValueError, match="groups"):  # GroupKFold without the groups
        TauNormClassifierCV(cv=GroupKFold(n_splits=3)).fit(F, y_views)


def test_a_head_trains_on_the_views(digits, embedder):
    X, y = digits
    F, groups = embedder.transform_views(X, n_views=K, random_state=0)
    head = CRTClassifier(random_state=0).fit(F, y[groups])
    np.testing.assert_array_equal(head.class_counts_, K * np.bincount(y))
    assert head.score(embedder.transform(X), y) > 0.3  # chance: 0.1


def test_a_head_trains_on_one_view_per_image_and_epoch(digits, embedder):
    # fit(..., groups=groups): the image counts, and each SGD epoch reads one
    # view of every image (tests/test_view_groups.py records the rows).
    X, y = digits
    F, groups = embedder.transform_views(X, n_views=K, random_state=0)
    head = CRTClassifier(solver="sgd", n_epochs=100, random_state=0)
    head.fit(F, y[groups], groups=groups)
    np.testing.assert_array_equal(head.class_counts_, np.bincount(y))
    assert head.score(embedder.transform(X), y) > 0.3


# -------------------------------------------------------------- PretrainedEmbedder
def _write_images(folder, n, seed=0):
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        size = (30 + 3 * i, 40 - 2 * i)  # (W, H): every aspect ratio differs
        pixels = rng.randint(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        paths.append(str(folder / f"img{i:02d}.png"))
        Image.fromarray(pixels).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return _write_images(tmp_path_factory.mktemp("views"), 6)


@pytest.fixture(scope="module")
def pretrained(files):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = EfficientNetLite0(num_classes=0)
    return PretrainedEmbedder(
        net, preprocessing={"input_size": 32}, verbose=0, batch_size=64
    ).fit(files)


def _reference_pretrained_views(embedder, files, n_views, random_state, batchnorm="eval"):
    """Each image's crops and flips drawn from ``(seed, view, index)``, one batch per view."""
    cfg, seed = embedder.preprocessing_, run_seed(random_state)
    augment = AugmentedImagePreprocessor(cfg, TRAIN_AUGMENT)
    net = copy.deepcopy(embedder.module_).eval()
    if batchnorm == "train":
        for layer in net.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.train()
    views = []
    with torch.no_grad():
        for view in range(n_views):
            pixels = torch.stack([
                augment(pil_loader(f), np.random.default_rng([seed, view, i]))
                for i, f in enumerate(files)
            ])
            views.append(net(Normalizer(cfg)(pixels)))
    return torch.stack(views, dim=1).reshape(len(files) * n_views, -1).numpy()


@pytest.mark.parametrize("batchnorm", ["eval", "train"])
def test_pretrained_views_are_the_augmented_images_through_the_network(
    pretrained, files, batchnorm
):
    F, groups = pretrained.transform_views(files, n_views=K, random_state=5, batchnorm=batchnorm)
    assert F.shape == (len(files) * K, pretrained.feature_dim_) and F.dtype == np.float32
    np.testing.assert_array_equal(groups, np.repeat(np.arange(len(files)), K))
    expected = _reference_pretrained_views(pretrained, files, K, 5, batchnorm)
    np.testing.assert_allclose(F, expected, rtol=1e-4, atol=1e-4)


def test_pretrained_views_are_reproducible_whatever_the_batches_and_all_augmented(
    pretrained, files
):
    F, _ = pretrained.transform_views(files, n_views=K, random_state=0)
    small = clone_with(pretrained, batch_size=2)
    np.testing.assert_allclose(
        small.transform_views(files, n_views=K, random_state=0)[0], F, rtol=1e-5, atol=1e-5
    )
    other, _ = pretrained.transform_views(files, n_views=K, random_state=1)
    assert not np.allclose(F, other, atol=1e-3)
    views, centre = F.reshape(len(files), K, -1), pretrained.transform(files)
    for k in range(K):
        assert not np.isclose(views[:, k], centre, atol=1e-4).all(axis=1).any(), k
    assert not np.isclose(views[:, 0], views[:, 1], atol=1e-4).all(axis=1).any()


def clone_with(embedder, **params):
    return copy.deepcopy(embedder).set_params(**params)


@pytest.mark.parametrize("batchnorm", ["eval", "train"])
def test_pretrained_batchnorm_is_left_in_eval_with_its_running_statistics(
    pretrained, files, batchnorm
):
    before = _buffers(pretrained.module_)
    centre = pretrained.transform(files)
    F, _ = pretrained.transform_views(files, n_views=2, random_state=0, batchnorm=batchnorm)
    assert not any(m.training for m in pretrained.module_.modules())
    for old, new in zip(before, pretrained.module_.buffers()):
        torch.testing.assert_close(old, new, rtol=0, atol=0)
    np.testing.assert_array_equal(pretrained.transform(files), centre)
    if batchnorm == "train":
        frozen, _ = pretrained.transform_views(files, n_views=2, random_state=0)
        assert not np.allclose(F, frozen, atol=1e-3)


def test_pretrained_views_are_not_cached(files, tmp_path):
    embedder = PretrainedEmbedder(
        "efficientnet_lite0", weights=None, preprocessing={"input_size": 32}, verbose=0,
        cache_dir=tmp_path,
    ).fit(files)
    embedder.transform(files)
    stored = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    embedder.transform_views(files, n_views=2, random_state=0)
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == stored


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_views": 0}, "n_views must be a positive int"),
        ({"n_views": 1.5}, "n_views must be a positive int"),
        ({"batchnorm": None}, "batchnorm must be 'eval' or 'train'"),
        ({"augment": True}, "augment must be None or a dict"),
        ({"augment": {"padding": 4}}, "augment accepts the keys"),
        ({"augment": {"scale": (0.5, 0.2)}}, r"augment\['scale'\] must be a pair"),
        ({"augment": {"scale": (0.5, 2.0)}}, r"augment\['scale'\] must lie in"),
        ({"augment": {"ratio": (0, 1)}}, r"augment\['ratio'\] must be a pair"),
        ({"augment": {"hflip": 2}}, r"augment\['hflip'\] must be a probability"),
    ],
)
def test_pretrained_views_refuse_bad_arguments(pretrained, files, params, match):
    with pytest.raises(ValueError, match=match):
        pretrained.transform_views(files, **params)


def test_pretrained_views_name_missing_files(pretrained, files):
    with pytest.raises(FileNotFoundError, match="1 of 2 images not found"):
        pretrained.transform_views([files[0], files[0] + ".missing"])


# ------------------------------------------------------- the crop, against its definition
@pytest.mark.parametrize("size", [(40, 30), (30, 40), (200, 5)])
def test_random_resized_crop_box_draws_inside_the_ranges(size):
    width, height = size
    rng = np.random.default_rng(0)
    scale, ratio = TRAIN_AUGMENT["scale"], TRAIN_AUGMENT["ratio"]
    for _ in range(300):
        left, top, w, h = random_resized_crop_box(width, height, scale, ratio, rng)
        assert 0 <= left and left + w <= width and 0 <= top and top + h <= height
        assert w >= 1 and h >= 1
    # Square images always fit a draw: area within scale, ratio within ratio (rounding).
    for _ in range(300):
        left, top, w, h = random_resized_crop_box(50, 50, (0.25, 0.5), (0.8, 1.25), rng)
        assert 0.25 * 2500 * 0.9 <= w * h <= 0.5 * 2500 * 1.1
        assert 0.8 * 0.9 <= w / h <= 1.25 * 1.1


def test_random_resized_crop_box_falls_back_to_the_clamped_centre_crop():
    # A strip 200 x 5 can fit no box of ratio at most 4/3 and area >= 0.9: the centre
    # crop of the whole height at the largest ratio, as torchvision's fallback.
    rng = np.random.default_rng(0)
    box = random_resized_crop_box(200, 5, (0.9, 1.0), (3 / 4, 4 / 3), rng)
    assert box == ((200 - 7) // 2, 0, 7, 5)
    assert random_resized_crop_box(20, 20, (2.0, 3.0), (1, 1), rng) == (0, 0, 20, 20)


@pytest.mark.parametrize("hflip", [0.0, 1.0])
def test_augmented_preprocessor_with_the_whole_image_is_a_resize_and_a_flip(hflip):
    rng = np.random.RandomState(0)
    pixels = rng.randint(0, 256, (40, 30, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    cfg = {"input_size": (3, 16, 16), "interpolation": "bilinear"}
    options = {"scale": (1.0, 1.0), "ratio": (30 / 40, 30 / 40), "hflip": hflip}
    out = AugmentedImagePreprocessor(cfg, options)(image, np.random.default_rng(0))
    expected = np.array(image.resize((16, 16), Image.Resampling.BILINEAR))
    expected = expected[:, ::-1] if hflip else expected
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), expected)
