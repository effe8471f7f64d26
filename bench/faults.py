"""Faults injected into a running site, one scenario each (tests/faults/scenarios.py): a table
with one row per scenario, then the figures as JSON on the last line.

    python bench/faults.py [--only worker_killed,disk_full]

worker_killed     the ingestion worker SIGKILLed mid-batch; another one takes over
postgres_stopped  Postgres stopped for 10 s under load, then started again
redis_killed      Redis SIGKILLed during answers, then restarted on the same port
disk_full         an upload larger than the free space of the spool's filesystem (a tmpfs)
database_full     an upload whose parts fill the database's disk (a tablespace on a tmpfs)
worker_recycled   gunicorn workers recycled by max_requests while answers stream

Everything runs on loopback: an embedded Postgres, redis-server, a fake LLM, uvicorn or
gunicorn. disk_full and database_full need root (mount -t tmpfs); without it, a row says why it
skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db.embedded import start_embedded  # noqa: E402
from bench.smoke import parse_args  # noqa: E402
from tests.faults.scenarios import SCENARIOS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    # The quickest scenario: proves the harness, the embedded server and the table still work.
    args = parse_args(parser, only="disk_full")
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}: choose from {', '.join(SCENARIOS)}")
    rows: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="faults-") as scratch:
        server = start_embedded(Path(scratch) / "pg")
        try:
            for name in names:
                directory = Path(scratch) / name
                directory.mkdir()
                started = time.monotonic()
                try:
                    figures = asdict(
                        SCENARIOS[name](postgres_url=server.get_uri(), directory=directory)
                    )
                except Exception as exc:  # a scenario that broke: its row says how
                    figures = {"error": f"{type(exc).__name__}: {exc}"}
                figures["seconds"] = round(time.monotonic() - started, 1)
                rows[name] = figures
                print(f"{name}: {figures}", file=sys.stderr, flush=True)
        finally:
            server.cleanup()
    width = max(map(len, rows), default=8)
    print(f"{'scenario':<{width}}  seconds  result")
    for name, figures in rows.items():
        shown = ", ".join(f"{k}={v}" for k, v in figures.items() if k != "seconds")
        print(f"{name:<{width}}  {figures['seconds']:>7}  {shown}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
