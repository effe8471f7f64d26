"""Every benchmark still runs: `python bench/NAME.py --smoke` exits 0 and ends with a JSON line."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name != "smoke.py")


def test_every_benchmark_is_smoke_tested() -> None:
    assert {p.stem for p in BENCHMARKS} >= {"auth", "faults", "ingest", "load", "search"}


def smoke_run(script: Path, *arguments: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run = subprocess.run(
        [sys.executable, str(script), *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = (run.stdout[-3000:] + "\n--- stderr ---\n" + run.stderr[-3000:]).strip()
    command = f"{script.name} {shlex.join(arguments)}"
    assert run.returncode == 0, f"{command} exited {run.returncode}:\n{tail}"
    lines = run.stdout.strip().splitlines()
    assert lines, f"{command} printed nothing:\n{tail}"
    result = json.loads(lines[-1])
    assert isinstance(result, dict) and result, f"last line is not a JSON object:\n{tail}"
    return result


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_smoke_run_prints_json(script: Path) -> None:
    smoke_run(script, "--smoke")


def test_an_interrupted_reindex_bench_reports_what_it_did() -> None:
    """--stop-after, for a corpus whose reindex outlasts the time at hand (1M chunks)."""
    result = smoke_run(ROOT / "bench" / "reindex.py", "--chunks", "3000", "--stop-after", "3")
    assert result["stopped_after_seconds"] >= 3
    assert 0 <= result["reembedded"] < 3000
    assert result["searches_during"] > 0
