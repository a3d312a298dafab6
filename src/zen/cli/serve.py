"""``zen serve``: saved models over HTTP (:mod:`zen.runtime.server`)."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zen.cli._shell import app, console, errors, reports_errors
from zen.errors import ConfigError

if TYPE_CHECKING:
    from zen.runtime.engine import InferenceEngine
    from zen.runtime.scheduler import Scheduler


@app.command(
    "serve",
    help="Serve saved models over HTTP: POST /v1/models/{name}/predict, GET /v1/models,"
    " /healthz, /readyz, /metrics and the OpenAPI docs at /docs.\n\n"
    "Models load and warm up in the background; /readyz answers 200 once they are ready. Set"
    " ZEN_API_TOKEN to require 'Authorization: Bearer <token>' on every route but /healthz and"
    " /readyz (probes), /metrics and the docs included unless --public-metrics. Ctrl-C (or"
    " SIGTERM) stops accepting, finishes the requests in flight and exits.",
)
@reports_errors
def serve(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Model or run directories (zen fit, TabularModel/Forecaster/Trainer.save);"
            " each is served under its directory name, or NAME=PATH.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="YAML file with models: and engine settings (see EngineConfig)."
        ),
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            help="auto (fastest measured; $ZEN_ENGINE_BACKEND), torch, torch-compiled, onnx or"
            " onnx-int8."
        ),
    ] = "auto",
    max_batch: Annotated[
        int | None, typer.Option("--max-batch", help="Rows per batch; 1 turns batching off.", min=1)
    ] = None,
    max_wait_ms: Annotated[
        float | None,
        typer.Option("--max-wait-ms", help="How long a batch waits for more requests.", min=0),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Deadline of a request in seconds (X-Zen-Deadline-Ms may cut it).")
    ] = 10.0,
    max_body: Annotated[
        int, typer.Option("--max-body", help="Largest request body in bytes (413 above).", min=1)
    ] = 1 << 20,
    threads: Annotated[
        int,
        typer.Option(
            help="CPU threads per model call (torch and onnxruntime). One suits many small"
            " concurrent requests; more suits few large ones.",
            min=1,
        ),
    ] = 1,
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Run batches on the runtime scheduler's inference tier (its deadline misses"
            " show in /metrics).",
        ),
    ] = True,
    cache_entries: Annotated[
        int | None,
        typer.Option(
            "--cache-entries", help="Result-cache size in entries; 0 turns it off.", min=0
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
    public_metrics: Annotated[
        bool,
        typer.Option(
            "--public-metrics",
            help="With ZEN_API_TOKEN set, still serve /metrics and the docs (/docs, /redoc,"
            " /openapi.json) without the token, e.g. to a Prometheus scraper.",
        ),
    ] = False,
    grace: Annotated[
        int, typer.Option(help="Seconds shutdown waits for requests in flight.", min=1)
    ] = 30,
) -> None:
    """Serve saved models over HTTP: POST /v1/models/{name}/predict, GET /v1/models, /healthz,
    /readyz, /metrics and the OpenAPI docs at /docs.

    Models load and warm up in the background; /readyz answers 200 once they are ready. Set
    ZEN_API_TOKEN to require 'Authorization: Bearer <token>' on every route but /healthz and
    /readyz (probes), /metrics and the docs included unless --public-metrics. Ctrl-C (or
    SIGTERM) stops accepting, finishes the requests in flight and exits.
    """
    from zen.compute import configure_threads
    from zen.runtime.engine import EngineConfig, InferenceEngine, ModelSpec
    from zen.runtime.servables import model_directory
    from zen.runtime.server import TOKEN_ENV_VAR, create_app
    from zen.runtime.server import serve as run_server

    settings = EngineConfig.from_file(config) if config is not None else EngineConfig()
    specs = [ModelSpec.parse(text) for text in paths or ()]
    for spec in specs:
        model_directory(spec.path)  # a wrong path fails now, not in the background
    settings = settings.with_models(*specs)
    if not settings.models:
        raise ConfigError("paths: give at least one model directory (or --config with models:)")
    overrides: dict[str, object] = {"onnx_threads": threads}
    if backend != "auto":
        overrides["backend"] = backend
    if max_batch is not None:
        overrides["max_batch_size"] = max_batch
    if max_wait_ms is not None:
        overrides["max_wait_ms"] = max_wait_ms
    if cache_entries is not None:
        overrides["cache_entries"] = cache_entries
    settings = replace(settings, **overrides)  # type: ignore[arg-type]
    configure_threads(threads)
    engine = InferenceEngine(settings, scheduler=_server_scheduler() if scheduler else None)
    web_app = create_app(
        engine, public_metrics=public_metrics, max_body_bytes=max_body, timeout_s=timeout
    )
    token = bool(os.environ.get(TOKEN_ENV_VAR))
    names = ", ".join(spec.resolved_name for spec in settings.models)
    auth = "none"
    if token:
        open_routes = "/healthz, /readyz" + (", /metrics, docs" if public_metrics else "")
        auth = f"bearer token from {TOKEN_ENV_VAR} (open: {open_routes})"
    console.print(
        f"serving [bold]{escape(names)}[/] on [cyan]http://{host}:{port}[/] (docs: /docs,"
        f" ready: /readyz); auth: {auth}",
        highlight=False,
    )
    threading.Thread(target=_report_when_ready, args=(engine,), daemon=True).start()
    run_server(web_app, host, port, access_log=access_log, grace_s=grace, log_level="warning")


def _server_scheduler() -> Scheduler:
    """A scheduler for a server process: no real-time priority, GIL interval or GC freeze
    (those suit an audio thread, not an HTTP server)."""
    from zen.runtime import Scheduler, SchedulerConfig

    return Scheduler(
        SchedulerConfig(realtime_priority=False, gil_switch_interval_s=None, freeze_gc=False)
    )


def _report_when_ready(engine: InferenceEngine) -> None:
    """Print each model's backend and timings once the prefetch is done."""
    engine.wait_ready()
    table = Table(title="models", title_justify="left")
    for column in ("model", "family", "status", "backend", "batch-1 ms by backend"):
        table.add_column(column)
    failed = False
    for info in engine.models():
        timings = ", ".join(
            f"{name} {by_rows.get(1, float('nan')):.3f}"
            for name, by_rows in info.latency_ms.items()
        )
        status = "[green]ready[/]" if info.status == "ready" else f"[red]{info.status}[/]"
        failed |= info.status == "failed"
        table.add_row(
            info.name,
            info.family or "",
            status,
            info.backend or "",
            escape(timings or (info.error or "")),
        )
    console.print(table)
    if failed:
        errors.print("[bold red]error:[/] some models failed to load; /readyz stays 503")
