"""Prometheus metrics: defined once here, recorded where things happen, served by /metrics.

Under gunicorn each worker is a process of its own: with PROMETHEUS_MULTIPROC_DIR set (by
gunicorn.conf.py) they write their values to files there and `render` sums them at scrape time,
so a scrape answered by any one worker tells about all of them.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

__all__ = ["CONTENT_TYPE_LATEST", "render"]

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LONG = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)

REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by route", ["route", "method", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request (streams excluded), by route",
    ["route", "method"],
    buckets=_LATENCY,
)
OPEN_STREAMS = Gauge(
    "open_streams", "SSE and WebSocket streams open now", ["kind"], multiprocess_mode="livesum"
)
STREAM_SECONDS = Histogram(
    "stream_duration_seconds",
    "How long streams lasted, by how they ended",
    ["kind", "ended"],
    buckets=_LONG,
)
FIRST_TOKEN = Histogram(
    "answer_first_token_seconds",
    "From the question to the first token of its answer",
    buckets=_LATENCY + (20, 30, 60),
)
ANSWER_SECONDS = Histogram(
    "answer_duration_seconds",
    "Answers from question to end, by outcome",
    ["outcome"],
    buckets=_LONG,
)
ANSWER_ERRORS = Counter("answer_errors_total", "Answers ended by an error, by code", ["code"])
CACHE = Counter("cache_lookups_total", "Cache lookups by cache and result", ["cache", "result"])
POOL = Gauge(
    "db_pool_connections",
    "Database pool connections per worker",
    ["state"],
    multiprocess_mode="liveall",
)
# Admission (app/infra/admission.py) and the causes of 503s: overload is not an outage.
ASKS_STARTING = Gauge(
    "asks_starting", "Asks admitted and not yet past retrieval", multiprocess_mode="livesum"
)
ASK_QUEUE = Gauge("ask_queue_depth", "Asks waiting to start", multiprocess_mode="livesum")
ASK_QUEUE_PEAK = Gauge(
    "ask_queue_peak", "The most asks that waited at once, per worker", multiprocess_mode="liveall"
)
ASK_WAIT = Histogram(
    "ask_queue_wait_seconds",
    "How long admitted asks waited to start",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
ASKS_REFUSED = Counter(
    "asks_refused_total", "Asks refused as overloaded, by why", ["reason"]
)  # queue_full, waited_too_long
DB_POOL_TIMEOUTS = Counter(
    "db_pool_timeouts_total", "Pool acquires that timed out with every connection busy"
)
DB_UNAVAILABLE = Counter(
    "db_unavailable_total", "Requests and answers that found the database out of reach"
)
RSS = Gauge(
    "worker_resident_memory_bytes",
    "Resident memory of each web worker",
    multiprocess_mode="liveall",
)

SAMPLE_SECONDS = 5.0
_PAGE = os.sysconf("SC_PAGE_SIZE")


class AnswerTimer:
    """Time to first token and duration of one answer; call `end` once, whatever happened."""

    __slots__ = ("started", "first")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first = False

    def token(self) -> None:
        if not self.first:
            self.first = True
            FIRST_TOKEN.observe(time.perf_counter() - self.started)

    def end(self, outcome: str, code: str | None = None) -> None:
        ANSWER_SECONDS.labels(outcome).observe(time.perf_counter() - self.started)
        if code is not None:
            ANSWER_ERRORS.labels(code).inc()


def cache_lookup(key: str, hit: bool) -> None:
    CACHE.labels(key.partition(":")[0][:24], "hit" if hit else "miss").inc()


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # not Linux: the peak is the best there is
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def start_sampler(pool: Any) -> asyncio.Task[None]:
    """Every few seconds, record this worker's memory and its database pool's use."""

    async def sample() -> None:
        while True:
            RSS.set(rss_bytes())
            size, idle = pool.get_size(), pool.get_idle_size()
            POOL.labels("in_use").set(size - idle)
            POOL.labels("idle").set(idle)
            POOL.labels("max").set(pool.get_max_size())
            await asyncio.sleep(SAMPLE_SECONDS)

    return asyncio.get_running_loop().create_task(sample(), name="metrics-sampler")


def render(gauges: Iterable[tuple[str, str, str, dict[str, float]]] = ()) -> bytes:
    """The exposition text: every process's metrics, then `gauges` measured just now, each as
    (name, help, label name, {label value: value})."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    text = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(_Now(list(gauges)))
    return text + generate_latest(extra)


class _Now:
    def __init__(self, gauges: list[tuple[str, str, str, dict[str, float]]]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, help_text, label, values in self.gauges:
            family = GaugeMetricFamily(name, help_text, labels=[label] if label else [])
            for key, value in values.items():
                family.add_metric([key] if label else [], value)
            yield family


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit hook: a dead worker's live gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
