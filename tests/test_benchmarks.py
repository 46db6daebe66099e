"""The benchmarks run end to end (quick sizes) and write the rows they promise.

No timing is asserted here (speed is the benchmarks' job); this catches a
benchmark module that no longer runs against the package, and checks the
rows: a ratio is the two median times divided, every goal says whether it
was met, every row has the peak memory of both calls, and the machine record
names the commit.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyperf")  # the `bench` extra

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmarks_run_and_write_consistent_rows(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--threads", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["errors"] == []
    modules = sorted(p.stem[len("bench_") :] for p in (ROOT / "benchmarks").glob("bench_*.py"))
    assert sorted(result["seconds_per_module"]) == modules
    assert {r["module"] for r in result["rows"]} == set(modules)
    commit = result["machine"]["commit"]
    assert commit is None or len(commit) >= 7
    for r in result["rows"]:
        assert r["benchmark"] and r["baseline"] and r["size"], r
        assert r["seconds"] > 0 and r["baseline_seconds"] > 0, r
        assert r["ratio"] == pytest.approx(r["seconds"] / r["baseline_seconds"], rel=1e-9)
        assert r["peak_mb"] >= 0 and r["baseline_peak_mb"] >= 0, r
        if "goal" in r:
            assert r["met"] is (r["ratio"] <= r["goal"]), r
        if "max_peak_mb" in r:
            assert r["peak_met"] is (r["peak_mb"] <= r["max_peak_mb"]), r
    assert any("goal" in r for r in result["rows"])
    assert any("max_peak_mb" in r for r in result["rows"])
