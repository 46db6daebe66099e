"""Run the benchmarks under pyperf, print one table of ratios and goals, write it as JSON.

From the repository root::

    python -m benchmarks.run                      # every bench_*.py, CPU
    python -m benchmarks.run --quick              # smallest sizes, one value each: a smoke run
    python -m benchmarks.run --device cuda --out results-cuda.json
    python -m benchmarks.run --only heads,ncm --threads 1 --clock cpu
    python -m benchmarks.run -- --rigorous        # options after -- go to pyperf

Each ``benchmarks/bench_<name>.py`` is a pyperf script (see ``_harness.py``),
run here as a subprocess; a module that fails is reported and the others
still run (the exit status is then 1). Each module runs twice: for the times,
then for the peak memory (one call per fresh process; see ``MEMORY_RUN``). A
row per case: the candidate's and the baseline's median times, their ratio,
the goal and whether it was met, and the peak memory of each (MiB above what
the process held before the call).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyperf

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("benchmark", "size", "seconds", "baseline", "baseline_seconds", "ratio", "goal",
           "met", "peak_mb", "baseline_peak_mb", "max_peak_mb", "peak_met")

# Peak memory is measured in a second pyperf run of each module (as pyperf's own
# --track-memory is), one call per fresh process, with the peak_memory hook of
# _harness.py. There glibc's mmap threshold is fixed at 1 MiB: its dynamic
# threshold keeps freed blocks of up to 32 MiB on the heap, where they fragment
# it (a loop over 25 MiB blocks of logits then holds 130-210 MiB resident for 33
# MiB live, depending on the address layout); fixed, every block of 1 MiB or
# more is mapped on allocation and returned on free, and the figure is the peak
# of live memory. The timing run keeps the default allocator: the fixed
# threshold costs page faults on every 1 MiB chunk.
MEMORY_RUN = ["--hook", "peak_memory", "--processes", "1", "--values", "1", "--warmups", "0",
              "--loops", "1"]
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "1048576"}


def discover():
    """Names (``heads``, ``ncm``...) of the ``bench_*.py`` modules, sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in (ROOT / "benchmarks").glob("bench_*.py"))


def rows_from_pyperf(timing, memory, module, device):
    """One row per case from a module's two pyperf runs (see ``_harness.Case.metadata``)."""
    peak_key = "peak_cuda_mb" if device.startswith("cuda") else "peak_rss_mb"
    peaks = {}
    for bench in memory.get_benchmarks():
        meta = bench.get_metadata()
        values = [run.get_metadata().get(peak_key) for run in bench.get_runs()]
        peaks[meta["case"], meta["role"]] = max((v for v in values if v is not None), default=None)
    cases = {}
    for bench in timing.get_benchmarks():
        meta = bench.get_metadata()
        cases.setdefault(meta["case"], {})[meta["role"]] = bench
    rows = []
    for case, roles in cases.items():
        bench, base = roles["candidate"], roles["baseline"]
        row = json.loads(case)
        row.update(module=module, device=device, seconds=bench.median(),
                   baseline_seconds=base.median(), peak_mb=peaks.get((case, "candidate")),
                   baseline_peak_mb=peaks.get((case, "baseline")), values=bench.get_nvalue(),
                   baseline_values=base.get_nvalue())
        row["ratio"] = row["seconds"] / row["baseline_seconds"]
        if "goal" in row:
            row["met"] = row["ratio"] <= row["goal"]
        if "max_peak_mb" in row and row["peak_mb"] is not None:
            row["peak_met"] = row["peak_mb"] <= row["max_peak_mb"]
        rows.append(row)
    return rows


def run_module(name, options, env, out):
    """Run ``bench_<name>.py`` under pyperf; its results, or the tail of its stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.bench_{name}", *options, "-o", str(out)],
        cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True,
    )
    if proc.returncode != 0 or not out.exists():
        print(proc.stderr[-4000:], file=sys.stderr, flush=True)
        return proc.stderr[-4000:]
    return pyperf.BenchmarkSuite.load(str(out))


def _cell(value, key):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if key in ("ratio", "goal"):
        return ("<=" if key == "goal" else "") + f"{value:.2f}x"
    if key.endswith("seconds"):
        return f"{value:.4f}" if value < 10 else f"{value:.1f}"
    if key.endswith("_mb"):
        return f"{value:.0f}"
    return str(value)


def format_table(rows, *, markdown=False):
    """Rows as an aligned text table (or Markdown); empty columns are left out."""
    columns = [c for c in COLUMNS if any(r.get(c) is not None for r in rows)]
    cells = [[_cell(r.get(c), c) for c in columns] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        return "\n".join(lines + ["| " + " | ".join(line) + " |" for line in cells])
    widths = [max(map(len, [c] + [line[i] for line in cells])) for i, c in enumerate(columns)]
    lines = [[c.ljust(w) for c, w in zip(columns, widths)], ["-" * w for w in widths]]
    lines += [[v.ljust(w) for v, w in zip(line, widths)] for line in cells]
    return "\n".join("  ".join(line) for line in lines)


def git_commit():
    """Short hash of the checkout (``+dirty`` with uncommitted changes to tracked files)."""

    def git(*cmd):
        proc = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True)
        return proc.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or None
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    return commit


def machine_info(args, suite, commit):
    """The checkout, the libraries and pyperf's record of the machine (from the first run)."""
    import numpy
    import sklearn
    import torch

    info = {"commit": commit, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "scikit-learn": sklearn.__version__,
            "pyperf": pyperf.__version__, "device": args.device, "clock": args.clock,
            "threads": args.threads}
    if suite is not None:
        pyperf_meta = suite.get_benchmarks()[0].get_runs()[0].get_metadata()
        for key in ("cpu_model_name", "cpu_count", "platform", "load_avg_1min"):
            info[key] = pyperf_meta.get(key)
    if args.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(args.device))
    return info


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    pyperf_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smallest sizes, one value of each benchmark, in one process")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run bench_NAME.py only (repeatable or comma-separated)")
    parser.add_argument("--out", metavar="FILE", help="write the rows and the machine as JSON")
    parser.add_argument("--threads", type=int,
                        help="threads of torch and of numpy's BLAS/OpenMP (default: theirs)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: process CPU time, steadier on a shared machine (with "
                        "--threads 1); CUDA always uses wall time")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    names = available
    if args.only:
        names = [n.removeprefix("bench_") for part in args.only for n in part.split(",") if n]
        if unknown := sorted(set(names) - set(available)):
            parser.error(f"unknown benchmark(s) {unknown}; available: {available}")

    options = ["--device", args.device, "--clock", args.clock, "--copy-env", "--quiet"]
    options += ["--threads", str(args.threads)] if args.threads else []
    options += ["--quick", "--in-process", "--debug-single-value"] if args.quick else []
    rows, errors, durations, first_suite = [], [], {}, None
    commit = git_commit()  # at the start: the code that ran
    with tempfile.TemporaryDirectory(prefix="sklearn-lt-bench-") as tmp:
        for name in names:
            print(f"--- bench_{name} ({'quick' if args.quick else 'full'}) ...", flush=True)
            started = time.perf_counter()
            timing = run_module(name, options + pyperf_args, {}, Path(tmp) / f"{name}.json")
            memory = timing if isinstance(timing, str) else run_module(
                name, options + MEMORY_RUN, MEMORY_ENV, Path(tmp) / f"{name}-memory.json")
            durations[name] = time.perf_counter() - started
            if isinstance(memory, str):
                errors.append({"module": name, "stderr": memory})
                continue
            first_suite = first_suite or timing
            module_rows = rows_from_pyperf(timing, memory, name, args.device)
            rows += module_rows
            print(format_table(module_rows), f"\n    bench_{name}: {durations[name]:.0f} s",
                  flush=True)

    print(f"\n=== all benchmarks ({sum(durations.values()):.0f} s) ===")
    print(format_table(rows, markdown=args.markdown))
    missed = [r for r in rows if r.get("met") is False or r.get("peak_met") is False]
    if missed:
        print(f"\n{len(missed)} row(s) miss a goal:")
        for r in missed:
            misses = []
            if r.get("met") is False:
                misses.append(f"ratio {r['ratio']:.2f}x (goal <= {r['goal']}x)")
            if r.get("peak_met") is False:
                misses.append(f"peak {r['peak_mb']:.0f} MiB (goal <= {r['max_peak_mb']:.0f} MiB)")
            print(f"  {r['benchmark']} [{r['size']}]: " + ", ".join(misses))
    if args.out:
        result = {"command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
                  "quick": args.quick, "machine": machine_info(args, first_suite, commit),
                  "seconds_per_module": durations, "rows": rows, "errors": errors}
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
