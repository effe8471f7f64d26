"""Garbage-collector settings for a long-lived web process."""

from __future__ import annotations

import gc


def tune_collector() -> None:
    """Keep the cyclic garbage collector off the answer streams' path.

    What startup loaded (the model, the libraries) lives as long as the process: frozen, a
    collection scans only what requests made. And a young collection every 700 allocations
    (the default) ran dozens of times a second under thousands of token streams, each also
    moving the streams' short-lived objects into older generations that take a full scan of
    every stream to clear. The threshold took one worker from about 1,120 to about 1,450
    streams (`python bench/stream.py --levels 2000 --tokens 600`, separate runs).
    """
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
