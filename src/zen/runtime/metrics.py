"""Prometheus metrics of the model server: requests, latency, batches, cache, deadlines.

Each :class:`ServingMetrics` has its own registry (several apps in one process, as in tests,
do not collide). Request counts and latencies are observed by the server as they happen;
batch sizes and batch latencies by a listener on the engine; everything the engine and its
scheduler count already (cache hits and misses, deadline rejections and misses, queue depth,
the scheduler's per-tier deadline misses) is read at scrape time by a custom collector, so the
engine keeps no Prometheus objects and works without ``prometheus-client``.

================================================  =========================================
metric                                            labels
================================================  =========================================
``zen_http_requests_total``                       method, route, status
``zen_http_request_duration_seconds``             method, route (histogram)
``zen_predict_requests_total``                    model, status
``zen_predict_duration_seconds``                  model (histogram)
``zen_batch_size_rows``                           model (histogram of rows per batch)
``zen_batch_duration_seconds``                    model, backend (histogram)
``zen_cache_hits_total`` / ``_misses_total``      model
``zen_cache_entries``, ``zen_cache_bytes``,
``zen_cache_evictions_total``
``zen_engine_deadline_rejections_total``          model (turned away before running)
``zen_engine_deadline_misses_total``              model (ran, finished late)
``zen_engine_overloaded_total``                   model
``zen_engine_backend_fallbacks_total``            model
``zen_engine_queue_depth``                        model
``zen_model_ready``                               model (1 ready, 0 not)
``zen_model_backend_info``                        model, backend (1 for the backend in use)
``zen_scheduler_deadline_misses_total``           tier (when a scheduler is attached)
``zen_scheduler_jobs_total``,
``zen_scheduler_skipped_total``                   tier
``zen_scheduler_under_pressure``
================================================  =========================================
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from zen.runtime.engine import InferenceEngine

__all__ = ["LATENCY_BUCKETS_S", "ServingMetrics"]

#: Latency buckets from 0.5 ms to 10 s: small models answer in well under a millisecond.
LATENCY_BUCKETS_S = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The metrics of one server around ``engine`` (see the module docstring).

    Args:
        engine: the engine whose counters are exported (a batch listener is added to it).
        registry: where the metrics live; a new one by default.
    """

    def __init__(self, engine: InferenceEngine, registry: CollectorRegistry | None = None) -> None:
        self.engine = engine
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "zen_http_requests",
            "HTTP requests answered, by route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "zen_http_request_duration_seconds",
            "Time from the request's arrival to its response, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.predictions = Counter(
            "zen_predict_requests",
            "Prediction requests, by model and HTTP status code.",
            ["model", "status"],
            registry=self.registry,
        )
        self.predict_latency = Histogram(
            "zen_predict_duration_seconds",
            "Prediction latency in the server (validation, queue, batch, response), by model.",
            ["model"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "zen_batch_size_rows",
            "Rows (samples, windows or nodes) per batch a model ran.",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_latency = Histogram(
            "zen_batch_duration_seconds",
            "Time to run one batch on its backend, by model and backend.",
            ["model", "backend"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(engine))
        self._remove_listener = engine.add_batch_listener(self._on_batch)

    def _on_batch(self, model: str, backend: str, rows: int, seconds: float) -> None:
        self.batch_size.labels(model).observe(rows)
        self.batch_latency.labels(model, backend).observe(seconds)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one HTTP response (``route`` is the template, never the raw path)."""
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)

    def observe_prediction(self, model: str, status: int, seconds: float) -> None:
        """Count one prediction request of a known ``model``."""
        self.predictions.labels(model, str(status)).inc()
        self.predict_latency.labels(model).observe(seconds)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition (text format, or OpenMetrics if ``accept`` asks for it) and its
        content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type

    def close(self) -> None:
        """Stop listening to the engine's batches."""
        self._remove_listener()


class _EngineCollector(Collector):
    """Reads the engine's (and its scheduler's) counters at scrape time."""

    def __init__(self, engine: InferenceEngine) -> None:
        self.engine = engine

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on what is attached; collect() says at scrape time

    def collect(self) -> Iterator[Metric]:
        stats = self.engine.stats()
        models = self.engine.models()
        per_model = {
            "cache_hits": ("zen_cache_hits", "Result-cache hits."),
            "cache_misses": ("zen_cache_misses", "Result-cache misses."),
            "deadline_rejections": (
                "zen_engine_deadline_rejections",
                "Requests turned away before running because they could not meet their deadline.",
            ),
            "deadline_misses": (
                "zen_engine_deadline_misses",
                "Requests that ran and finished after their deadline.",
            ),
            "overloaded": ("zen_engine_overloaded", "Requests turned away for lack of capacity."),
            "fallbacks": (
                "zen_engine_backend_fallbacks",
                "Backends dropped after failing where the next one worked.",
            ),
        }
        for field_name, (name, documentation) in per_model.items():
            family = CounterMetricFamily(name, documentation, labels=["model"])
            for model, counters in stats.items():
                family.add_metric([model], getattr(counters, field_name))
            yield family
        cache = self.engine.cache_stats()
        yield GaugeMetricFamily("zen_cache_entries", "Entries in the result cache.", cache.entries)
        yield GaugeMetricFamily("zen_cache_bytes", "Array bytes in the result cache.", cache.bytes)
        yield CounterMetricFamily(
            "zen_cache_evictions", "Entries evicted from the result cache.", cache.evictions
        )
        depth = GaugeMetricFamily(
            "zen_engine_queue_depth", "Requests waiting for a batch.", labels=["model"]
        )
        ready = GaugeMetricFamily("zen_model_ready", "1 when the model serves.", labels=["model"])
        backend = GaugeMetricFamily(
            "zen_model_backend_info",
            "The backend a model runs on (1).",
            labels=["model", "backend"],
        )
        for info in models:
            depth.add_metric([info.name], info.queue_depth)
            ready.add_metric([info.name], 1.0 if info.status == "ready" else 0.0)
            if info.backend is not None:
                backend.add_metric([info.name, info.backend], 1.0)
        yield depth
        yield ready
        yield backend
        yield from _scheduler_metrics(self.engine)


def _scheduler_metrics(engine: InferenceEngine) -> Iterator[Metric]:
    scheduler = engine.scheduler
    if scheduler is None:
        return
    from zen.runtime.scheduler import Tier

    snapshot = scheduler.stats
    misses = CounterMetricFamily(
        "zen_scheduler_deadline_misses",
        "Scheduler jobs that finished after their deadline (or were dropped late), by tier.",
        labels=["tier"],
    )
    jobs = CounterMetricFamily("zen_scheduler_jobs", "Scheduler jobs, by tier.", labels=["tier"])
    skipped = CounterMetricFamily(
        "zen_scheduler_skipped", "Scheduler jobs dropped without running, by tier.", labels=["tier"]
    )
    for tier in Tier:
        counters = snapshot.tier(tier)
        misses.add_metric([tier.value], counters.deadline_misses)
        jobs.add_metric([tier.value], counters.jobs)
        skipped.add_metric([tier.value], counters.skipped)
    yield misses
    yield jobs
    yield skipped
    yield GaugeMetricFamily(
        "zen_scheduler_under_pressure",
        "1 while real-time work is at risk and lower tiers are degraded.",
        1.0 if snapshot.under_pressure else 0.0,
    )
