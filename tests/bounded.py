"""Run code in a child process under a wall-clock bound: a test of "this finishes fast"
that cannot hang the suite, and that does not measure time inside the process it tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def finishes_within(seconds: float, code: str) -> str:
    """Run `code` in a fresh interpreter; fail the test if it runs longer or raises.

    Returns what it printed. The bound includes the interpreter's start and imports.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=seconds,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"did not finish within {seconds} s:\n{code}") from None
    assert done.returncode == 0, done.stderr
    return done.stdout
