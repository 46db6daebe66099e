"""Pretrained stage one: PretrainedEmbedder on image files against a hand-written loop.

Image files: scikit-learn's 8x8 digits, upscaled to 32x32 RGB PNG files
(real pictures, no download). The network: EfficientNet-Lite0 (random
weights: speed does not depend on them) at the input size of each row.

* ``transform``: ``PretrainedEmbedder(cache_dir=None).transform(paths)``
  against the loop one writes by hand: a ``Dataset`` that opens each file
  with Pillow, resizes, centre-crops and normalises it to a float tensor
  (torchvision's ``Resize -> CenterCrop -> ToTensor -> Normalize``), a
  ``DataLoader`` with the same batch size and workers, the same network
  under ``torch.no_grad``, the batches concatenated. Goal: within 1.1x.
* ``transform, first run with a cache``: the same with a fresh
  ``cache_dir`` at each call (file keys, features written to disk batch by
  batch), against the same loop. Goal: within 1.1x; at 200 and 2000 images
  (32 px) also a peak memory of at most 48 MiB: one batch, whatever the
  number of images (the features come back memory-mapped).
* ``second run reads the cache``: the same call again, against the first
  run (goal: at most a tenth).

No worker processes on the CPU: their time would escape ``--clock cpu``.
"""

import itertools
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks._harness import Case, main
from sklearn_lt.backbone import EfficientNetLite0, PretrainedEmbedder
from sklearn_lt.backbone._pretrained_models import resize_size

_WORK_DIR = tempfile.TemporaryDirectory(prefix="bench-pretrained-")  # removed at exit
WORK = Path(_WORK_DIR.name)


def write_images(folder, n_images):
    """``n_images`` PNG files of scikit-learn's digits, 32x32 RGB; their paths."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits().images
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_images):
        path = folder / f"{i:05d}.png"
        if not path.is_file():
            pixels = (digits[i % len(digits)] * (255 / 16)).astype(np.uint8)
            image = Image.fromarray(pixels).resize((32, 32), Image.Resampling.BICUBIC)
            image.convert("RGB").save(path)
        paths.append(str(path))
    return paths


def _embedder(size, batch_size, workers, device, cache_dir=None):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        network = EfficientNetLite0(num_classes=0)
    return PretrainedEmbedder(
        network, preprocessing={"input_size": size}, batch_size=batch_size,
        num_workers=workers, device=device, cache_dir=cache_dir, verbose=0,
    ).fit([])


class HandDataset(torch.utils.data.Dataset):
    """Open, resize, centre-crop, normalise: torchvision's evaluation transform, by hand."""

    def __init__(self, files, preprocessing):
        from PIL import Image

        self.files = files
        self.resize = resize_size(preprocessing)
        self.crop = preprocessing["input_size"][1]
        self.resample = getattr(Image.Resampling, preprocessing["interpolation"].upper())
        self.mean = torch.tensor(preprocessing["mean"]).view(3, 1, 1)
        self.std = torch.tensor(preprocessing["std"]).view(3, 1, 1)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        from PIL import Image

        with open(self.files[index], "rb") as f:
            image = Image.open(f).convert("RGB")
        w, h = image.size
        scale = self.resize / min(w, h)
        image = image.resize((int(w * scale), int(h * scale)), self.resample)
        w, h = image.size
        left, top = (w - self.crop) // 2, (h - self.crop) // 2
        image = image.crop((left, top, left + self.crop, top + self.crop))
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)
        return (x - self.mean) / self.std


@torch.no_grad()
def hand_written(net, files, preprocessing, batch_size, workers, device):
    """Features by a plain DataLoader + model loop, concatenated."""
    loader = torch.utils.data.DataLoader(
        HandDataset(files, preprocessing), batch_size=batch_size, num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    net.eval()
    return torch.cat([net(x.to(device)).float().cpu() for x in loader]).numpy()


def _setup(which, size, n_images, batch_size, workers, device):
    paths = write_images(WORK / "images", n_images)
    embedder = _embedder(size, batch_size, workers, device)
    net, cfg = embedder.module_, embedder.preprocessing_
    cached = _embedder(size, batch_size, workers, device, cache_dir=WORK / "cache")
    fresh = itertools.count()

    def loop():
        return hand_written(net, paths, cfg, batch_size, workers, device)

    def first_run():
        cached.cache_dir = WORK / "cache" / str(next(fresh))  # an empty cache at each call
        return cached.transform(paths)

    def second_run():
        return np.asarray(cached.transform(paths)).sum()  # read every feature

    # A few images through both first: imports, kernel choice, allocator.
    embedder.transform(paths[:batch_size])
    hand_written(net, paths[:batch_size], cfg, batch_size, 0, device)
    if which == "transform":
        return lambda: embedder.transform(paths), loop
    if which == "first":
        return first_run, loop
    first_run()
    return second_run, first_run


def cases(quick, device):
    if quick:
        speed, memory = [(32, 32, 16, 0)], (50, 200)
    elif device.type == "cuda":
        speed, memory = [(224, 2048, 128, 4), (64, 4096, 256, 4)], (200, 2000)
    else:
        speed, memory = [(224, 64, 32, 0), (64, 256, 64, 0)], (200, 2000)
    out = []
    for size, n, batch, workers in speed:
        label = {"N": n, "input": f"{size}x{size}", "batch": batch, "workers": workers}
        for which, name, baseline, goal in [
            ("transform", "transform", "hand-written DataLoader + model loop", 1.1),
            ("first", "transform, first run with a cache", "hand-written DataLoader + model loop",
             1.1),
            ("second", "second run reads the cache", "first run with a cache", 0.1),
        ]:
            out.append(Case(f"{name} ({size}px)", label, baseline,
                            lambda a=(which, size, n, batch, workers): _setup(*a, device),
                            goal=goal))
    for n in memory:
        out.append(Case("transform, first run with a cache (32px)",
                        {"N": n, "input": "32x32", "batch": 64, "workers": 0},
                        "hand-written DataLoader + model loop",
                        lambda n=n: _setup("first", 32, n, 64, 0, device), goal=1.1,
                        max_peak_mb=48))
    return out


if __name__ == "__main__":
    main(cases, processes=1, values=2, warmups=1, loops=1)
