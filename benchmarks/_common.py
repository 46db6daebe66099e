"""Shared machinery of the benchmarks: timing, peak memory, data, result rows.

Every benchmark module ``benchmarks/bench_*.py`` exposes ``run(quick=False)``
returning a list of rows made by :func:`row`; ``benchmarks/run.py`` collects
them into one table and one JSON file. A module may also accept a ``device``
keyword; otherwise it reads :func:`current_device`, which ``run.py`` sets from
``--device``.

Timing
    :func:`timeit` (one callable) and :func:`compare` (a callable and its
    baseline, timed alternately so that both see the same machine state).
    Both warm up first, synchronise CUDA around every call when the device is
    a GPU, and report the best and the median of the repeats; ratios use the
    best (the least disturbed run). The clock is wall time, or this process's
    CPU time after :func:`set_clock` (``run.py --clock cpu``), which a machine
    busy with other work disturbs less.

Peak memory
    :func:`peak_memory_mb`. On CUDA: ``torch.cuda.max_memory_allocated`` above
    what was allocated before the call. On the CPU, torch's allocations are
    invisible to ``tracemalloc``, so the call runs in a fresh Python process
    and the figure is the rise of the process's peak resident set (Linux
    ``VmHWM``, reset just before the call through ``/proc/self/clear_refs``)
    above its resident set at that moment. It counts numpy and torch alike.
    The process runs with ``MALLOC_MMAP_THRESHOLD_`` = 1 MiB, so that what the
    allocator keeps after a free does not blur the figure.
"""

import ctypes
import gc
import importlib
import importlib.util
import inspect
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "REPO_ROOT",
    "compare",
    "current_clock",
    "current_device",
    "format_table",
    "long_tailed_counts",
    "machine_info",
    "make_features",
    "make_labels",
    "matmul_seconds",
    "peak_memory_many",
    "peak_memory_mb",
    "row",
    "set_clock",
    "set_device",
    "sync",
    "timeit",
]

REPO_ROOT = Path(__file__).resolve().parents[1]

_DEVICE = torch.device("cpu")
_CLOCK = "wall"
_CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


# ------------------------------------------------------------------ device
def set_device(device):
    """Set the device the benchmarks run on (``run.py --device``)."""
    global _DEVICE
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device.")
    _DEVICE = device


def set_clock(clock):
    """``"wall"`` (default: elapsed time) or ``"cpu"`` (this process's CPU time).

    CPU time is the steadier figure on a machine shared with other work: time
    spent waiting for a core is not counted. It sums the time of all threads,
    so compare like with like (``--threads 1``). CUDA runs always use wall time.
    """
    global _CLOCK
    if clock not in _CLOCKS:
        raise ValueError(f"clock must be one of {sorted(_CLOCKS)}, got {clock!r}.")
    _CLOCK = clock


def current_clock():
    """The clock set by :func:`set_clock`."""
    return _CLOCK


def _clock(device):
    device = torch.device(device) if device is not None else _DEVICE
    return time.perf_counter if device.type == "cuda" else _CLOCKS[_CLOCK]


def current_device():
    """The device set by :func:`set_device` (CPU unless ``run.py --device cuda``)."""
    return _DEVICE


def sync(device=None):
    """Wait for queued GPU work (no-op on the CPU)."""
    device = torch.device(device) if device is not None else _DEVICE
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------ timing
def _summary(times):
    return {
        "best": min(times),
        "median": statistics.median(times),
        "repeats": len(times),
    }


def timeit(fn, *, repeat=5, warmup=1, budget=None, device=None):
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``repeat`` timed ones.

    Parameters
    ----------
    fn : callable
        Called without arguments; its result is dropped after each call.
    repeat : int
        Timed calls (at least 1).
    warmup : int
        Untimed calls first (kernel selection, lazy initialisation, caches).
    budget : float, default=None
        Stop repeating once the timed calls have taken this many seconds
        (after at least one).
    device : torch.device, default=None
        CUDA devices are synchronised before and after every call; ``None``
        means :func:`current_device`. Times are taken on the clock set by
        :func:`set_clock` (wall time on CUDA).

    Returns
    -------
    dict with ``best``, ``median`` (seconds) and ``repeats``.
    """
    clock = _clock(device)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeat)):
        sync(device)
        start = clock()
        fn()
        sync(device)
        times.append(clock() - start)
        if budget is not None and sum(times) >= budget:
            break
    return _summary(times)


def compare(fn, baseline, *, repeat=5, warmup=1, budget=None, device=None):
    """Time ``fn`` and ``baseline`` alternately; see :func:`timeit`.

    Alternating (A B A B ...) exposes both to the same drift in clock speed,
    cache and memory state, which matters for ratios on a shared machine.
    ``budget`` bounds the timed seconds of both together.

    Returns
    -------
    (timing of fn, timing of baseline) : tuple of dict
    """
    clock = _clock(device)
    for _ in range(warmup):
        fn()
        baseline()
    times_fn, times_base = [], []
    for _ in range(max(1, repeat)):
        for f, times in ((fn, times_fn), (baseline, times_base)):
            sync(device)
            start = clock()
            f()
            sync(device)
            times.append(clock() - start)
        if budget is not None and sum(times_fn) + sum(times_base) >= budget:
            break
    return _summary(times_fn), _summary(times_base)


def matmul_seconds(m, k, n, *, device=None, dtype=torch.float32, repeat=5):
    """Best time of one ``(m, k) @ (k, n)`` product on ``device``: the hardware's rate there.

    Used to turn an algorithm's matrix products into its arithmetic limit.
    """
    device = torch.device(device) if device is not None else _DEVICE
    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    out = torch.empty(m, n, device=device, dtype=dtype)
    return timeit(lambda: torch.mm(a, b, out=out), repeat=repeat, warmup=2, device=device)["best"]


# ------------------------------------------------------------ peak memory
def _proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _release_freed_memory():
    """Return freed heap pages to the OS, so the next call must touch new pages."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss():
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _cpu_peak_in_this_process(fn):
    """Peak RSS rise (MiB) of ``fn()``; meant for a fresh process (see the module doc)."""
    _release_freed_memory()
    start_kb = _proc_status_kb("VmRSS")
    exact = _reset_peak_rss()
    if not exact:
        # ru_maxrss cannot be reset: right only when fn's peak is the process's peak.
        start_kb = max(start_kb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    result = fn()
    peak_kb = (
        _proc_status_kb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    )
    del result
    return max(peak_kb - start_kb, 0) / 1024


def _cuda_peak(fn, device):
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    start = torch.cuda.memory_allocated(device)
    result = fn()
    sync(device)
    peak = torch.cuda.max_memory_allocated(device) - start
    del result
    return peak / 2**20


def _module_ref(case):
    module = inspect.getmodule(case)
    ref = {"path": str(Path(inspect.getfile(case)).resolve())}
    if module is not None and module.__name__ != "__main__":
        ref["module"] = module.__name__
    return ref


def _load(ref):
    if "module" in ref:
        try:
            return importlib.import_module(ref["module"])
        except ImportError:
            pass
    sys.path.insert(0, str(Path(ref["path"]).parent))
    spec = importlib.util.spec_from_file_location("_bench_case_module", ref["path"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak_memory_mb(case, *args, device=None, timeout=600, **kwargs):
    """Peak memory (MiB) of one call of the callable ``case(*args, device=..., **kwargs)`` returns.

    ``case`` builds the inputs (not measured) and returns a callable of no
    argument (measured, without warm-up: the figure is what a user's first
    call costs). ``case`` must be a module-level function and its arguments
    JSON-serialisable, because on the CPU it runs in a fresh process. Several
    cases: :func:`peak_memory_many` (one process for all of them).

    Returns
    -------
    float
        MiB above what was allocated (CUDA) or resident (CPU) when the call
        started; what the call returns counts.
    """
    return peak_memory_many([(case, args, kwargs)], device=device, timeout=timeout)[0]


def peak_memory_many(calls, *, device=None, fresh=True, jobs=2, timeout=900):
    """:func:`peak_memory_mb` of several cases.

    Parameters
    ----------
    calls : list of tuple
        ``(case, args)`` or ``(case, args, kwargs)``.
    fresh : bool, default=True
        CPU: one fresh process per case (the allocator's state then depends on
        the case alone, so the figure is reproducible). ``False`` measures the
        cases one after the other in one process (faster to start; each
        case's inputs are freed, the heap trimmed and the peak reset before
        the next, but the allocator's history can still shift a figure).
    jobs : int, default=2
        Fresh processes run at once (memory figures do not depend on timing).

    Returns
    -------
    list of float
        MiB, in the order of ``calls``.
    """
    device = torch.device(device) if device is not None else _DEVICE
    calls = [(c[0], tuple(c[1]), dict(c[2]) if len(c) > 2 else {}) for c in calls]
    if device.type == "cuda":
        results = []
        for case, args, kwargs in calls:
            fn = case(*args, device=str(device), **kwargs)
            results.append(_cuda_peak(fn, device))
            del fn
            gc.collect()
            torch.cuda.empty_cache()
        return results
    if not fresh:
        return _spawn(calls, device, timeout)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_spawn, [call], device, timeout) for call in calls]
        return [f.result()[0] for f in futures]


def _spawn(calls, device, timeout):
    """Measure ``calls`` in one fresh Python process (see :func:`_child`)."""
    payload = {
        "calls": [
            {
                "ref": _module_ref(case),
                "name": case.__name__,
                "args": list(args),
                "kwargs": {**kwargs, "device": str(device)},
            }
            for case, args, kwargs in calls
        ],
        "threads": torch.get_num_threads(),
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    # A fixed mmap threshold turns off glibc's dynamic one, under which freed
    # blocks of a few MiB may stay on the heap or not depending on the address
    # layout (the same call then peaks tens of MiB apart from run to run).
    # Every block of 1 MiB or more is then mapped on allocation and returned
    # on free: the figure is the peak of live memory.
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(2**20))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._common", json.dumps(payload)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        names = [f"{case.__name__}{args}" for case, args, _ in calls]
        raise RuntimeError(f"peak-memory child for {names} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"]


def _child(payload):
    torch.set_num_threads(payload["threads"])
    results = []
    for call in payload["calls"]:
        module = _load(call["ref"])
        fn = getattr(module, call["name"])(*call["args"], **call["kwargs"])
        results.append(_cpu_peak_in_this_process(fn))
        del fn
    print(json.dumps({"peak_mb": results}))


# -------------------------------------------------------------------- data
def long_tailed_counts(n_samples, n_classes, imbalance=100):
    """Class counts ``n_j ~ n_max * imbalance**(-j / (C - 1))`` summing to ``n_samples``.

    The CIFAR-LT profile (head class ``imbalance`` times the tail class);
    every class keeps at least one sample.
    """
    profile = float(imbalance) ** (-np.arange(n_classes) / max(n_classes - 1, 1))
    counts = np.maximum(np.floor(profile / profile.sum() * n_samples), 1).astype(np.int64)
    counts[0] += n_samples - counts.sum()
    return counts


def make_labels(n_samples, n_classes, *, imbalance=100, seed=0):
    """Shuffled long-tailed labels (int64 numpy array) following :func:`long_tailed_counts`."""
    counts = long_tailed_counts(n_samples, n_classes, imbalance)
    y = np.repeat(np.arange(n_classes), counts)
    return np.random.default_rng(seed).permutation(y)


def make_features(
    n_samples,
    n_features,
    n_classes,
    *,
    imbalance=100,
    device="cpu",
    dtype=torch.float32,
    seed=0,
    unique_rows=100_000,
):
    """Long-tailed features and labels: ``(X, y)`` with ``X`` a tensor on ``device``.

    Rows are a class mean plus unit Gaussian noise. At most ``unique_rows``
    rows are drawn, then tiled: drawing 1e6 x 2048 normals would cost more
    than the benchmarks it feeds, and speed does not depend on the values.
    ``y`` is an int64 numpy array.
    """
    y = make_labels(n_samples, n_classes, imbalance=imbalance, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(n_classes, n_features, generator=gen, dtype=dtype)
    n_unique = min(n_samples, unique_rows)
    noise = torch.randn(n_unique, n_features, generator=gen, dtype=dtype)
    X = torch.empty(n_samples, n_features, dtype=dtype)
    labels = torch.from_numpy(y)
    for start in range(0, n_samples, n_unique):  # block by block: no N x d temporary
        stop = min(start + n_unique, n_samples)
        torch.add(noise[: stop - start], means[labels[start:stop]], out=X[start:stop])
    return X.to(device), y


# ------------------------------------------------------------------- rows
def _fmt_size(value):
    if isinstance(value, (int, np.integer)) and value >= 10_000:
        exponent = int(math.log10(value))
        if value == 10**exponent:
            return f"1e{exponent}"
    return str(value)


def size_label(**dims):
    """``size_label(N=100000, d=512)`` -> ``"N=1e5 d=512"``."""
    return " ".join(f"{k}={_fmt_size(v)}" for k, v in dims.items())


def row(
    benchmark,
    size,
    seconds,
    baseline,
    baseline_seconds,
    *,
    peak_mb=None,
    goal=None,
    device=None,
    **extra,
):
    """One result row.

    Parameters
    ----------
    benchmark : str
        What is measured, e.g. ``"predict SoftmaxClassifier"``.
    size : str or dict
        Problem size; a dict goes through :func:`size_label`.
    seconds, baseline_seconds : dict, float or None
        Times of the candidate and of the baseline, same run: the summaries
        that :func:`compare` returns (their best time is the row's, their
        median is kept as ``seconds_median`` / ``baseline_seconds_median``)
        or plain seconds.
    baseline : str
        What the baseline is.
    peak_mb : float, default=None
    goal : float, default=None
        Largest acceptable ``ratio = seconds / baseline_seconds``; the row
        gets ``met`` (bool) when both are known.
    device : str, default=None
        Defaults to :func:`current_device`.
    **extra
        Any other JSON-serialisable keys (``note``...).
    """
    if isinstance(size, dict):
        size = size_label(**size)
    seconds, seconds_median = _best_and_median(seconds)
    baseline_seconds, baseline_median = _best_and_median(baseline_seconds)
    ratio = None
    if seconds is not None and baseline_seconds:
        ratio = seconds / baseline_seconds
    out = {
        "benchmark": benchmark,
        "size": size,
        "seconds": seconds,
        "baseline": baseline,
        "baseline_seconds": baseline_seconds,
        "ratio": ratio,
        "peak_mb": peak_mb,
        "device": str(device if device is not None else _DEVICE),
        "goal": goal,
    }
    if goal is not None and ratio is not None:
        out["met"] = bool(ratio <= goal)
    if seconds_median is not None:
        out["seconds_median"] = seconds_median
    if baseline_median is not None:
        out["baseline_seconds_median"] = baseline_median
    out.update(extra)
    return out


def _best_and_median(timing):
    """``(best, median)`` of a :func:`timeit` summary; ``(timing, None)`` for plain seconds."""
    if isinstance(timing, dict):
        return timing["best"], timing["median"]
    return timing, None


def _cell(value, key):
    if value is None:
        return ""
    if key == "goal":
        return f"<={value:g}x" if isinstance(value, (int, float)) else str(value)
    if key == "met":
        return "yes" if value else "NO"
    if key == "ratio":
        return f"{value:.2f}x"
    if key in ("seconds", "baseline_seconds"):
        return f"{value:.4f}" if value < 10 else f"{value:.1f}"
    if key in ("peak_mb", "baseline_peak_mb"):
        return f"{value:.0f}"
    return str(value)


TABLE_COLUMNS = (
    "benchmark",
    "size",
    "seconds",
    "baseline",
    "baseline_seconds",
    "ratio",
    "goal",
    "met",
    "peak_mb",
    "baseline_peak_mb",
)


def format_table(rows, *, markdown=False, columns=TABLE_COLUMNS):
    """Rows as an aligned text table (or a Markdown table); empty columns are left out."""
    columns = [c for c in columns if any(r.get(c) is not None for r in rows)]
    cells = [[_cell(r.get(c), c) for c in columns] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(line) + " |" for line in cells]
        return "\n".join(lines)
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in cells]
    return "\n".join(lines)


def _git_commit():
    """Short hash of the checkout that ran (``+dirty`` with local changes), or None."""
    root = Path(__file__).resolve().parents[1]
    try:
        run = partial(subprocess.run, cwd=root, capture_output=True, text=True, timeout=10)
        commit = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ("+dirty" if dirty else "")) or None


def machine_info(device=None):
    """CPU model, core and thread counts, library versions and GPU name, for the results."""
    import sklearn

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    device = torch.device(device) if device is not None else _DEVICE
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "clock": "wall" if device.type == "cuda" else _CLOCK,
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    info["commit"] = _git_commit()
    try:
        from threadpoolctl import threadpool_info

        info["blas_threads"] = {
            Path(pool["filepath"]).name: pool["num_threads"] for pool in threadpool_info()
        }
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
