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


def test_inat_full_mode_runs_each_case_in_its_own_process_and_writes_its_rows(tmp_path):
    # bench_scale.py --inat-full at a tiny shape: N, d, C, largest and smallest class.
    out = tmp_path / "inat.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", "--inat-full",
         "--size", "3000,32,200,100,2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from benchmarks.bench_scale import INAT_CASES

    result = json.loads(out.read_text())
    assert result["errors"] == []
    assert [r["benchmark"] for r in result["rows"]] == list(INAT_CASES)
    for r in result["rows"]:
        largest, smallest = map(int, r["counts"].split(".."))
        assert r["size"] == "N=3000 d=32 C=200" and largest == 100 and smallest >= 2, r
        assert r["baseline_cpu"] > 0 and r["fit_cpu"] > 0 and r["peak_mb"] >= 0, r
        seconds = r["fit_cpu"] + (r["predict_cpu"] or 0.0)
        assert r["ratio"] == pytest.approx(seconds / r["baseline_cpu"], rel=1e-9)
        assert r["per_pass"] == pytest.approx(r["ratio"] / r["passes"], rel=1e-9)
        assert r["passes"] >= 1
        assert r["max_peak_mb"] == pytest.approx(0.5 * 3000 * 32 * 4 / 2**20 + r["state_mb"])
    assert "| NCMClassifier fit+predict | N=3000 d=32 C=200 |" in proc.stdout
