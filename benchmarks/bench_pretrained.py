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
  ``cache_dir`` (file keys, features written to disk batch by batch).
  Goal: within 1.1x of the same hand-written loop.
* ``second run reads the cache``: the same call again, against the first
  run (ratio = second / first; goal: at most a tenth).
* ``peak memory``: the first run with a cache at 1e3 and 1e4 images (1e2
  and 200 with ``--quick``), each in a fresh process: the peak must not grow
  with the number of images (goal: the larger at most the smaller + 16 MiB).

``run(quick=False)`` returns the rows; ``python benchmarks/bench_pretrained.py``
prints them.
"""

import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (  # noqa: E402
    compare,
    current_device,
    format_table,
    peak_memory_many,
    row,
    timeit,
)
from sklearn_lt.backbone import EfficientNetLite0, PretrainedEmbedder  # noqa: E402
from sklearn_lt.backbone._pretrained_models import resize_size  # noqa: E402

GOAL = 1.1
REPEAT = 3
MEMORY_SLACK_MB = 16


def write_images(folder, n_images):
    """``n_images`` PNG files of scikit-learn's digits, 32x32 RGB; their paths."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits().images
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_images):
        pixels = (digits[i % len(digits)] * (255 / 16)).astype(np.uint8)
        image = Image.fromarray(pixels).resize((32, 32), Image.Resampling.BICUBIC)
        path = folder / f"{i:05d}.png"
        if not path.is_file():
            image.convert("RGB").save(path)
        paths.append(str(path))
    return paths


def _network():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return EfficientNetLite0(num_classes=0)


def _embedder(size, batch_size, workers, device, cache_dir=None):
    return PretrainedEmbedder(
        _network(), preprocessing={"input_size": size}, batch_size=batch_size,
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
    parts = [net(x.to(device)).float().cpu() for x in loader]
    return torch.cat(parts).numpy()


def memory_case(folder, n_images, size, batch_size, device="cpu"):
    """Peak-memory case: the first run with a fresh cache over ``n_images`` files."""
    folder = Path(tempfile.mkdtemp(dir=folder))
    paths = write_images(folder / "images", n_images)
    embedder = _embedder(size, batch_size, 0, device, cache_dir=folder / "cache")
    return lambda: embedder.transform(paths)


def _speed_rows(device, quick, work):
    if quick:
        cases = [(32, 32, 16, 0)]
    elif device.type == "cuda":
        cases = [(224, 2048, 128, 4), (64, 4096, 256, 4)]
    else:
        # No worker processes: their CPU time would escape ``--clock cpu``.
        cases = [(224, 64, 32, 0), (64, 256, 64, 0)]
    rows, fresh = [], itertools.count()
    for size, n_images, batch_size, workers in cases:
        paths = write_images(work / "images", n_images)
        embedder = _embedder(size, batch_size, workers, device)
        net, cfg = embedder.module_, embedder.preprocessing_
        label = {"N": n_images, "input": f"{size}x{size}", "batch": batch_size,
                 "workers": workers}

        def ours(embedder=embedder, paths=paths):
            embedder.transform(paths)

        def baseline(net=net, paths=paths, cfg=cfg, batch_size=batch_size, workers=workers):
            hand_written(net, paths, cfg, batch_size, workers, device)

        # A few images through both first: imports, kernel choice, allocator.
        embedder.transform(paths[:batch_size])
        hand_written(net, paths[:batch_size], cfg, batch_size, 0, device)
        ours_t, base_t = compare(ours, baseline, repeat=REPEAT if not quick else 1,
                                 warmup=0, device=device)
        rows.append(row(f"transform ({size}px)", label, ours_t,
                        "hand-written DataLoader + model loop", base_t, goal=GOAL,
                        device=str(device)))

        cached = _embedder(size, batch_size, workers, device, cache_dir=work / "cache")
        def first_run(cached=cached, paths=paths):
            cached.cache_dir = work / "cache" / str(next(fresh))  # an empty cache each time
            cached.transform(paths)

        first_t, base2_t = compare(first_run, baseline, repeat=REPEAT if not quick else 1,
                                   warmup=0, device=device)
        rows.append(row(f"transform, first run with a cache ({size}px)", label, first_t,
                        "hand-written DataLoader + model loop", base2_t, goal=GOAL,
                        device=str(device)))

        def second_run(cached=cached, paths=paths):
            np.asarray(cached.transform(paths)).sum()  # read every feature

        second_t = timeit(second_run, repeat=REPEAT, device=device)
        rows.append(row(f"second run reads the cache ({size}px)", label, second_t,
                        "first run with a cache", first_t, goal=0.1, device=str(device)))
    return rows


def _memory_rows(device, quick, work):
    sizes = (50, 200) if quick else (1000, 10_000)
    size, batch_size = 32, 64
    peaks = peak_memory_many(
        [(memory_case, (str(work), n, size, batch_size)) for n in sizes], device=device, jobs=1
    )
    bound = peaks[0] + MEMORY_SLACK_MB
    return [
        row(
            "transform peak memory, first run with a cache",
            {"N": n, "input": f"{size}x{size}", "batch": batch_size},
            None,
            f"the same at N={sizes[0]:.0e}",
            None,
            peak_mb=peak,
            baseline_peak_mb=peaks[0],
            device=str(device),
            goal=f"<= {bound:.0f} MiB" if n != sizes[0] else None,
            **({"met": bool(peak <= bound)} if n != sizes[0] else {}),
        )
        for n, peak in zip(sizes, peaks)
    ]


def run(quick=False, device=None):
    """Benchmark rows; ``device`` defaults to ``_common.current_device()``."""
    device = torch.device(device) if device is not None else current_device()
    with tempfile.TemporaryDirectory(prefix="bench-pretrained-") as work:
        return _speed_rows(device, quick, Path(work)) + _memory_rows(device, quick, work)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    device = "cuda" if "--cuda" in sys.argv else None
    print(format_table(run(quick=quick, device=device)))
