"""What a benchmark case is, and how pyperf runs it.

A module ``benchmarks/bench_<name>.py`` defines ``cases(quick, device)``, a
list of :class:`Case`, and ends with ``if __name__ == "__main__": main(cases)``:
it is then a pyperf script. pyperf times each case's candidate and its
baseline as two benchmarks, each in fresh worker processes (loops calibrated,
warm-ups dropped, several values per process); ``benchmarks/run.py`` reads
pyperf's results and makes one row per case: the ratio of the two median
times, the goal and the peak memory of both.

A worker builds the inputs of its own case only (``Case.setup``), before
pyperf starts timing. Peak memory comes from the :class:`PeakMemory` hook
(``--hook peak_memory``), which ``run.py`` turns on in a second run of the
module, one call per fresh process.
"""

import ctypes
import gc
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyperf
import torch

__all__ = ["Case", "PeakMemory", "main", "make_features", "make_labels"]

ROLES = ("candidate", "baseline")
# pyperf's defaults (20 processes) would take hours here: 2 processes of 3
# values each, after a warm-up; `--rigorous` doubles the processes.
RUNNER_DEFAULTS = {"processes": 2, "values": 3, "warmups": 1}


@dataclass(frozen=True)
class Case:
    """One comparison: a candidate against a named baseline, on the same inputs.

    Parameters
    ----------
    name : str
        What the candidate is, e.g. ``"predict SoftmaxClassifier (numpy)"``.
    size : dict
        The problem size, e.g. ``{"N": 10_000, "d": 512}``.
    baseline : str
        What the baseline is, e.g. ``"X @ W.T + b + argmax"``.
    setup : callable
        ``setup() -> (candidate, baseline)``: builds the inputs (not timed)
        and returns two callables of no argument, timed by pyperf.
    goal : float, default=None
        Largest acceptable ratio of the candidate's time to the baseline's.
    max_peak_mb : float, default=None
        Largest acceptable peak memory of one candidate call (MiB above what
        the process held when the call started).
    extra : dict
        Other facts for the row (``note``...), JSON-serialisable.
    """

    name: str
    size: dict
    baseline: str
    setup: Callable
    goal: float | None = None
    max_peak_mb: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def label(self):
        return f"{self.name} [{size_label(self.size)}] vs {self.baseline}"

    def metadata(self, role):
        """pyperf metadata from which ``run.py`` rebuilds the row: the facts as one JSON string."""
        facts = {"benchmark": self.name, "size": size_label(self.size),
                 "baseline": self.baseline, "goal": self.goal, "max_peak_mb": self.max_peak_mb,
                 **self.extra}
        facts = {k: v for k, v in facts.items() if v is not None}
        return {"case": json.dumps(facts), "role": role}


def size_label(size):
    """``{"N": 100000, "d": 512}`` -> ``"N=1e5 d=512"``."""

    def fmt(v):
        if isinstance(v, int) and v >= 10_000 and v == 10 ** (len(str(v)) - 1):
            return f"1e{len(str(v)) - 1}"
        return str(v)

    return " ".join(f"{k}={fmt(v)}" for k, v in size.items())


# -------------------------------------------------------------- peak memory
def _status_kb(field_name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def _release_freed_memory():
    """Hand freed heap pages back to the OS, so that a call cannot reuse them unseen."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class PeakMemory:
    """pyperf hook: peak memory of the timed calls above what was held when each started.

    CPU: the rise of the kernel's high-water mark of the resident set
    (``VmHWM``, reset through ``/proc/self/clear_refs``, Linux >= 4.0) over
    the resident set at the start of the call, freed heap pages being handed
    back first. It counts numpy's and torch's buffers alike, which
    ``tracemalloc`` does not, and no sample can miss a short peak (pyperf's
    ``--track-memory`` polls the whole process's memory every 10 ms, inputs
    included). CUDA: ``torch.cuda.max_memory_allocated`` above what was
    allocated. The largest call of a run is recorded as its ``peak_rss_mb``
    (and ``peak_cuda_mb``) metadata. Handing freed pages back before each
    call costs the call page faults: keep it out of timing runs.
    """

    name = "peak_memory"

    @classmethod
    def load(cls):  # pyperf loads hooks as entry points
        return cls

    def __init__(self):
        self.peaks = {}

    def __enter__(self):
        _release_freed_memory()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.rss_kb = _status_kb("VmRSS")
        except OSError:  # not Linux: no host figure
            self.rss_kb = None
        self.cuda = torch.cuda.is_initialized()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.cuda_bytes = torch.cuda.memory_allocated()

    def __exit__(self, *exc):
        rises = {}
        if self.rss_kb is not None:
            rises["peak_rss_mb"] = (_status_kb("VmHWM") - self.rss_kb) / 1024
        if self.cuda:
            torch.cuda.synchronize()
            rises["peak_cuda_mb"] = (torch.cuda.max_memory_allocated() - self.cuda_bytes) / 2**20
        for key, mb in rises.items():
            self.peaks[key] = max(self.peaks.get(key, 0.0), mb)

    def teardown(self, metadata):
        # Called once for the warm-ups and once for the values: keep the larger.
        for key, mb in self.peaks.items():
            metadata[key] = max(metadata.get(key, 0.0), mb)


# -------------------------------------------------------------------- pyperf
def _timed(loops, fn, clock, device):
    """pyperf's time function: ``loops`` calls of ``fn``, CUDA synchronised around them."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
    start = clock()
    for _ in range(loops):
        fn()
    if cuda:
        torch.cuda.synchronize(device)
    return clock() - start


def _add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="smallest sizes (a smoke run)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument(
        "--threads", type=int, help="threads of torch and of numpy's BLAS/OpenMP (threadpoolctl)"
    )
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="cpu: the process's CPU time, steadier on a shared machine (CUDA: always wall)",
    )


def _forward_arguments(cmd, args):
    """Our options, passed on to pyperf's worker processes."""
    cmd += ["--device", args.device, "--clock", args.clock]
    cmd += ["--quick"] if args.quick else []
    cmd += ["--threads", str(args.threads)] if args.threads else []


def main(cases, **runner_options):
    """Run a module's ``cases(quick, device)`` under pyperf; see the module docstring.

    ``runner_options`` override :data:`RUNNER_DEFAULTS` (``pyperf.Runner``'s
    ``processes``, ``values``, ``warmups``, ``loops``, ``min_time``).
    """
    runner = pyperf.Runner(
        **{**RUNNER_DEFAULTS, **runner_options},
        hooks=[PeakMemory],
        program_args=("-m", sys.modules["__main__"].__spec__.name),
        add_cmdline_args=_forward_arguments,
    )
    _add_arguments(runner.argparser)
    args = runner.parse_args()
    if args.threads:
        # scikit-learn's import loads scipy's BLAS: limit it too.
        import sklearn.neighbors  # noqa: F401
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device.")
    cpu_clock = args.clock == "cpu" and device.type != "cuda"
    clock = time.process_time if cpu_clock else time.perf_counter

    task = 0  # pyperf numbers the benchmarks in the order they are declared
    for case in cases(quick=args.quick, device=device):
        built = None
        for index, role in enumerate(ROLES):
            # Only the process that times this benchmark builds its inputs.
            here = args.in_process or (args.worker and args.worker_task in (None, task))
            if here and built is None:
                built = case.setup()
                _release_freed_memory()
            fn = built[index] if here else None
            runner.bench_time_func(
                f"{case.label} {role}", _timed, fn, clock, device, metadata=case.metadata(role)
            )
            task += 1
        del built


# --------------------------------------------------------------------- data
def make_labels(n_samples, n_classes, *, imbalance=100, seed=0):
    """Shuffled long-tailed labels (CIFAR-LT profile: ``n_j ~ imbalance**(-j / (C - 1))``).

    Every class keeps at least one sample; int64 numpy array.
    """
    profile = float(imbalance) ** (-np.arange(n_classes) / max(n_classes - 1, 1))
    counts = np.maximum(np.floor(profile / profile.sum() * n_samples), 1).astype(np.int64)
    counts[0] += n_samples - counts.sum()
    y = np.repeat(np.arange(n_classes), counts)
    return np.random.default_rng(seed).permutation(y)


def make_features(
    n_samples, n_features, n_classes, *, device="cpu", seed=0, unique_rows=100_000, y=None
):
    """Long-tailed float32 features (a class mean plus unit noise) and labels: ``(X, y)``.

    ``X`` is a tensor on ``device``, ``y`` an int64 numpy array (the labels
    given, else :func:`make_labels`'s of ``n_samples`` and ``n_classes``). At most
    ``unique_rows`` noise rows are drawn, then tiled: speed does not depend
    on the values, and drawing 1e6 x 512 normals would cost more than the
    benchmarks they feed.
    """
    y = make_labels(n_samples, n_classes, seed=seed) if y is None else y
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(n_classes, n_features, generator=gen)
    noise = torch.randn(min(n_samples, unique_rows), n_features, generator=gen)
    X = torch.empty(n_samples, n_features)
    labels = torch.from_numpy(y)
    for start in range(0, n_samples, len(noise)):  # block by block: no N x d temporary
        stop = min(start + len(noise), n_samples)
        torch.add(noise[: stop - start], means[labels[start:stop]], out=X[start:stop])
    return X.to(device), y
