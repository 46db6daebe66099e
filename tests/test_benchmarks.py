"""The benchmark harness runs end to end (quick sizes) and writes what it promises.

No timing is asserted here (speed is the benchmarks' job); this catches a
benchmark module that no longer runs against the package, and checks the
result rows: a ratio is the two times divided, every goal row says whether it
was met, and the machine record names the commit.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (ROOT / "benchmarks" / "run.py").exists(), reason="no benchmarks/")
def test_quick_benchmarks_run_and_write_consistent_rows(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--threads", "1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["errors"] == []
    modules = sorted(p.stem[len("bench_") :] for p in (ROOT / "benchmarks").glob("bench_*.py"))
    assert sorted(result["seconds_per_module"]) == modules
    assert {r["module"] for r in result["rows"]} == set(modules)
    assert result["machine"]["commit"] is None or len(result["machine"]["commit"]) >= 7
    for r in result["rows"]:
        assert r["benchmark"] and r["baseline"], r
        if r.get("seconds") is not None and r.get("baseline_seconds") is not None:
            assert r["seconds"] > 0 and r["baseline_seconds"] > 0, r
            assert r["ratio"] == pytest.approx(r["seconds"] / r["baseline_seconds"], rel=1e-6)
        else:
            assert r.get("peak_mb") is not None, r  # a memory row
        if r.get("goal") is not None:
            assert isinstance(r["met"], bool), r
