"""Prometheus metrics: requests by service family and status class, their latency, render slots in use, jobs by
state (read from the job store when /metrics is read).

With several HTTP worker processes (``kartenn serve --workers N``) each process counts in its own files under
``PROMETHEUS_MULTIPROC_DIR``, which serving.serve_workers sets before the workers start, and /metrics adds up
every process's counts. With one process the counts are that process's own.

>>> family("/ows", b"SERVICE=WMS&REQUEST=GetMap")
'wms'
>>> family("/ogc/collections/roads/items", b"")
'ogc-features'
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric

from kartenn.domain import JobState

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
FAMILIES = ("wms", "wmts", "wfs", "csw", "wcs", "ows", "ogc-features", "ogc-tiles", "ogc-maps", "ogc-records",
            "ogc-edr", "ogc", "api", "auth", "portal", "static", "ops")
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
OWS_PATHS = {"/wms": "wms", "/wmts": "wmts", "/wfs": "wfs", "/csw": "csw", "/wcs": "wcs", "/ows": "ows"}
EDR_QUERIES = {"position", "area", "cube", "radius", "locations", "trajectory", "corridor"}
SERVICE = re.compile(rb"(?:^|&)service=([a-z]+)", re.IGNORECASE)

REQUESTS = Counter("kartenn_http_requests", "HTTP requests answered, by service family and status class",
                   ["family", "status"])
LATENCY = Histogram("kartenn_http_request_duration_seconds", "Time from a request to the last byte of its answer",
                    ["family"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
RENDER_SLOTS = Gauge("kartenn_render_slots", "Maps the processes may draw at once", multiprocess_mode="livesum")
RENDER_BUSY = Gauge("kartenn_render_slots_busy", "Maps being drawn now", multiprocess_mode="livesum")

# One child per label pair, made once: the hot path neither takes the metric's lock nor builds label tuples.
_COUNTERS = {(f, s): REQUESTS.labels(f, s) for f in FAMILIES for s in STATUS_CLASSES}
_LATENCIES = {f: LATENCY.labels(f) for f in FAMILIES}


def family(path: str, query: bytes) -> str:
    """The service family a request belongs to, from its path (and SERVICE= on /ows)."""
    if path in OWS_PATHS:
        found = OWS_PATHS[path]
        if found == "ows" and (match := SERVICE.search(query)):
            name = match.group(1).decode().lower()
            return name if name in OWS_PATHS.values() else "ows"
        return found
    if path.startswith("/ogc"):
        parts = path.split("/")  # "", "ogc", "collections", id, what, ...
        if len(parts) > 2 and parts[2] in ("tiles", "tileMatrixSets"):
            return "ogc-tiles"
        if len(parts) > 4 and parts[2] == "collections":
            if parts[3] == "catalog":
                return "ogc-records"
            what = parts[4]
            if what == "tiles":
                return "ogc-tiles"
            if what in ("map", "styles"):
                return "ogc-maps"
            if what in EDR_QUERIES:
                return "ogc-edr"
            return "ogc-features"
        return "ogc"
    first = path.split("/", 2)[1] if path.count("/") >= 1 else ""
    if first == "api":
        return "api"
    if first == "auth":
        return "auth"
    if first == "static":
        return "static"
    if path in ("/healthz", "/readyz", "/metrics"):
        return "ops"
    return "portal"


def observe(path: str, query: bytes, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    name = family(path, query)
    _COUNTERS[(name, STATUS_CLASSES[min(max(status // 100, 1), 5) - 1])].inc()
    _LATENCIES[name].observe(seconds)


class JobsCollector:
    """Jobs by state, counted in the job store when the metrics are read."""

    def __init__(self, count_jobs: Callable[[], dict[JobState, int]]) -> None:
        self.count_jobs = count_jobs

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("kartenn_jobs", "Jobs in the job store, by state", labels=["state"])
        for state, n in self.count_jobs().items():
            gauge.add_metric([state.value], n)
        yield gauge


def exposition(count_jobs: Callable[[], dict[JobState, int]]) -> bytes:
    """The metrics in Prometheus' text format: every worker process's counts, then the job store's."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counts = generate_latest(registry)
    else:
        counts = generate_latest(REGISTRY)
    jobs = CollectorRegistry()
    jobs.register(JobsCollector(count_jobs))
    return counts + generate_latest(jobs)
