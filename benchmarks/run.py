"""Run the benchmarks, print one table and write the rows as JSON.

From the repository root::

    python -m benchmarks.run                      # every bench_*.py, full sizes, CPU
    python -m benchmarks.run --quick              # smallest sizes: a smoke run
    python -m benchmarks.run --device cuda --out results-cuda.json
    python -m benchmarks.run --only heads --only ncm
    python benchmarks/run.py --quick              # the same, as a script

Each ``benchmarks/bench_<name>.py`` exposes ``run(quick=False)`` returning a
list of rows (see ``benchmarks/_common.py``); a ``run`` that also takes
``device`` gets the ``--device`` value, and every module can read it from
``_common.current_device()``. A module that fails is reported and the others
still run; the exit status is then 1.
"""

import argparse
import importlib
import inspect
import json
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks import _common  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent


def discover():
    """Names (``heads``, ``ncm``...) of the ``bench_*.py`` modules, sorted."""
    return sorted(p.stem[len("bench_") :] for p in BENCH_DIR.glob("bench_*.py"))


def _normalise(name):
    name = Path(name).stem
    return name[len("bench_") :] if name.startswith("bench_") else name


def run_module(name, *, quick, device):
    """Import ``benchmarks.bench_<name>`` and return its rows."""
    module = importlib.import_module(f"benchmarks.bench_{name}")
    kwargs = {"quick": quick}
    if "device" in inspect.signature(module.run).parameters:
        kwargs["device"] = device
    rows = module.run(**kwargs)
    for r in rows:
        r.setdefault("module", name)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smallest sizes, few repeats")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run bench_NAME.py only (repeatable; 'heads' or 'bench_heads')",
    )
    parser.add_argument("--out", metavar="FILE", help="write the rows and the machine as JSON")
    parser.add_argument(
        "--threads",
        type=int,
        help="threads of torch and of numpy's BLAS/OpenMP (default: the libraries' own)",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: elapsed time (default); cpu: process CPU time, steadier on a shared "
        "machine (use with --threads 1); CUDA always uses wall time",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print the table in Markdown (for the docs)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    names = available
    if args.only:
        names = [_normalise(n) for part in args.only for n in part.split(",") if n]
        unknown = sorted(set(names) - set(available))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; available: {available}")

    if args.threads:
        # torch's threads and those of numpy's/scipy's BLAS and OpenMP
        # (scikit-learn's baselines), so that candidates and baselines get the
        # same cores. threadpoolctl limits the libraries loaded so far: load
        # scikit-learn (and with it scipy's BLAS) first.
        import sklearn.neighbors  # noqa: F401

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    _common.set_device(args.device)
    _common.set_clock(args.clock)
    device = _common.current_device()
    machine = _common.machine_info(device)
    print(
        "machine: " + ", ".join(f"{k}={v}" for k, v in machine.items() if k not in ("platform",)),
        flush=True,
    )

    rows, errors, durations = [], [], {}
    started = time.perf_counter()
    for name in names:
        print(f"--- bench_{name} ({'quick' if args.quick else 'full'}) ...", flush=True)
        t0 = time.perf_counter()
        try:
            module_rows = run_module(name, quick=args.quick, device=device)
        except Exception:  # report, keep going with the other modules
            errors.append({"module": name, "traceback": traceback.format_exc()})
            print(traceback.format_exc(), file=sys.stderr, flush=True)
            module_rows = []
        durations[name] = time.perf_counter() - t0
        rows.extend(module_rows)
        if module_rows:
            print(_common.format_table(module_rows), flush=True)
        print(f"    bench_{name}: {durations[name]:.1f} s", flush=True)
    total = time.perf_counter() - started

    print(f"\n=== all benchmarks ({total:.0f} s) ===")
    print(_common.format_table(rows, markdown=args.markdown))
    missed = [r for r in rows if r.get("met") is False]
    if missed:
        print(f"\n{len(missed)} goal(s) missed:")
        for r in missed:
            if r.get("ratio") is not None:
                measured = f"{r['ratio']:.2f}x"
            elif r.get("peak_mb") is not None:
                measured = f"{r['peak_mb']:.0f} MiB"
            else:
                measured = r.get("note", "")
            print(f"  {r['benchmark']} [{r['size']}]: {measured} (goal {r['goal']})")
    if args.out:
        result = {
            "command": "python -m benchmarks.run "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "quick": args.quick,
            "machine": machine,
            "seconds_total": total,
            "seconds_per_module": durations,
            "rows": rows,
            "errors": errors,
        }
        Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
