"""`--smoke` for every benchmark: the same code at tiny sizes, so CI proves it still runs.

tests/bench/test_smoke.py runs each `bench/*.py --smoke` and checks its last line is JSON: a
benchmark that no longer runs fails the build instead of waiting for the next person to try it.
"""

from __future__ import annotations

import argparse
from typing import Any


def parse_args(parser: argparse.ArgumentParser, **tiny: Any) -> argparse.Namespace:
    """The parsed arguments; with --smoke, the `tiny` values replace the defaults."""
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes (seconds): checks that it runs"
    )
    args = parser.parse_args()
    if args.smoke:
        for name, value in tiny.items():
            setattr(args, name, value)
    return args
