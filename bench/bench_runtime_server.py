"""The model server under load: ``zen serve`` vs a naive FastAPI endpoint, same machine, same run.

Two models: a small MLP (16-64-64-4) and N-HiTS (h=24, input_size=96). For each, servers in
their own process on loopback, one after another:

- ``zen serve, batching``: the engine with its defaults (max batch 32, max wait 2 ms, backend
  chosen by measured latency, batches on the runtime scheduler's inference tier);
- ``zen serve, batching, no scheduler`` (MLP only): the same, batches on the engine's own
  thread, to show what the scheduler hop costs;
- ``zen serve, no batching``: ``--max-batch 1`` (one request per model call);
- ``naive FastAPI``: a ``def predict`` endpoint that calls the PyTorch module directly, the
  way one writes it without a serving library (pydantic body, ``torch.no_grad``, default
  threads).

The result cache is off (``--cache-entries 0``) and every request carries different inputs,
so each one runs the model. Both servers take the same ``{"inputs": [[...]]}`` body (for
N-HiTS a history of 96 values).

The load comes from a second process: an open-loop asyncio client on raw keep-alive
connections that sends at a fixed rate (500 requests/s by default) whatever the answers do,
and measures each request's latency from its *scheduled* send time, so a slow server cannot
hide its queueing (no coordinated omission). The first second is warm-up and not counted.
A pooled connection that the server closed while it sat idle (uvicorn closes keep-alive
connections after 5 s) fails before any byte of an answer; like any HTTP client, the load
sends that request again on a new connection, within the same latency clock ("resent").
Reported: achieved send rate, throughput (answers/s), p50/p99/max latency, errors (non-200 or
no answer within 10 s, by exception in the JSON), resent requests, the server's mean batch
size and CPU use.

Also, in this process: the engine's backend latency table, every backend per model family at
batch 1 and 32 (median of 200 calls, one thread), as ``zen serve`` measures them to choose.

Target: p99 <= 20 ms at 500 requests/s for the MLP on ``zen serve`` with its defaults, with no
errors; the exit code is 1 when it is missed.

Usage::

    python bench/bench_runtime_server.py              # 20 s per server, about 4 minutes
    python bench/bench_runtime_server.py --quick      # 3 s per server, lower rate
    python bench/bench_runtime_server.py --rate 1000 --seconds 30

Results go to ``bench/results/runtime_server.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from pydantic import BaseModel

from _common import BUILD_DIR, console, machine_info, print_machine, print_table, write_result

WORK_DIR = BUILD_DIR / "runtime_server"
TARGET_P99_MS = 20.0
MLP_SIZES = (16, 64, 64, 4)
NHITS_H, NHITS_INPUT = 24, 96
REQUEST_TIMEOUT_S = 10.0
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
MAX_CONNECTIONS = 128


# ---------------------------------------------------------------------------------- models
def build_models(folder: Path) -> dict[str, Path]:
    """Train and save the benchmark's models (a few seconds; always fresh)."""
    import pandas as pd
    import torch

    from zen.forecasting import NHITS, Forecaster
    from zen.graph import GCN, NodeLoader
    from zen.graph.datasets.karate import karate_club
    from zen.neural import MLP, Trainer
    from zen.tabular import TabularModel

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    paths = {name: folder / name for name in ("mlp", "nhits", "tabular", "gcn")}

    X = rng.normal(size=(2000, MLP_SIZES[0])).astype(np.float32)
    y = np.stack([np.sin(X[:, i]) + X[:, i + 1] for i in range(MLP_SIZES[-1])], axis=1)
    trainer = Trainer(max_epochs=5, seed=0)
    trainer.fit(MLP(list(MLP_SIZES)), X, y.astype(np.float32))
    trainer.save(paths["mlp"])

    length = 24 * 60
    steps = np.arange(length)
    frames = [
        pd.DataFrame(
            {
                "unique_id": f"s{k}",
                "ds": pd.date_range("2024-01-01", periods=length, freq="h"),
                "y": 100 + 10 * np.sin(2 * np.pi * steps / 24 + k) + rng.normal(size=length),
            }
        )
        for k in range(8)
    ]
    nhits = NHITS(h=NHITS_H, input_size=NHITS_INPUT, max_steps=100, random_seed=0)
    Forecaster([nhits], freq="h").fit(pd.concat(frames)).save(paths["nhits"])

    table = pd.DataFrame(rng.normal(size=(1000, 12)), columns=[f"f{i}" for i in range(12)])
    table["kind"] = rng.choice(["a", "b", "c"], size=1000)
    table["label"] = np.where(table["f0"] + table["f1"] > 0, "yes", "no")
    TabularModel(max_epochs=5).fit(table, "label").save(paths["tabular"])

    graph = karate_club()
    gcn = GCN(graph.num_features, 16, 2, int(graph.y.max()) + 1)
    mask = torch.zeros(graph.num_nodes, dtype=torch.bool)
    mask[::2] = True
    graph_trainer = Trainer(max_epochs=20, optimizer="adam", lr=0.01, loss="cross_entropy")
    graph_trainer.fit(gcn, NodeLoader(graph, mask))
    graph_trainer.save(paths["gcn"])
    return paths


def backend_table(paths: dict[str, Path], cache_dir: Path, runs: int) -> list[dict[str, Any]]:
    """Every backend of every family, timed at batch 1 and 32 as the engine times them.

    INT8 is timed whatever its accuracy (the engine's gate is opened here); the column
    ``rel diff`` says how far each backend's outputs are from PyTorch eager's on 64 example
    rows, and ``engine`` whether the engine would use it (INT8 only within 5 %) and picks it.
    """
    import torch

    from zen.runtime.backends import BACKENDS, BuildSettings, choose_backends, relative_difference
    from zen.runtime.engine import EngineConfig
    from zen.runtime.servables import load_model

    torch.set_num_threads(1)  # as zen serve runs (--threads 1)
    gate = EngineConfig().int8_tolerance
    rows = []
    for family, path in paths.items():
        servable = load_model(path)
        choice = choose_backends(
            servable,
            BACKENDS,
            BuildSettings(cache_dir, threads=1, int8_tolerance=1.0),
            batch_sizes=(1, 32),
            runs=runs,
        )
        feeds = servable.example_feeds(64, np.random.default_rng(1))
        by_name = {backend.name: backend for backend in choice.ranked}
        reference = by_name["torch"].run(feeds)
        usable = [
            name
            for name in choice.latency_s
            if name != "onnx-int8"
            or relative_difference(by_name[name].run(feeds), reference) <= gate
        ]
        fastest = min(usable, key=lambda name: sum(choice.latency_s[name].values()))
        for backend in BACKENDS:
            timings = choice.latency_s.get(backend)
            difference = (
                relative_difference(by_name[backend].run(feeds), reference)
                if backend in by_name
                else None
            )
            rows.append(
                {
                    "family": family,
                    "backend": backend,
                    "batch 1 ms": None if timings is None else timings[1] * 1e3,
                    "batch 32 ms": None if timings is None else timings[32] * 1e3,
                    "rel diff": difference,
                    "engine": "chosen" if backend == fastest else
                    "usable" if backend in usable else "rejected" if timings else "",
                    "note": choice.skipped.get(backend, "")[:80],
                }
            )  # fmt: skip
    return rows


# ---------------------------------------------------------------------------------- servers
class NaiveRequest(BaseModel):
    """The naive endpoint's body (module level: FastAPI resolves the annotation by name)."""

    inputs: list[list[float]]


def naive_server(family: str, model_dir: Path, port: int) -> None:
    """A FastAPI endpoint that calls the PyTorch module directly (run in its own process)."""
    import torch
    import uvicorn
    from fastapi import FastAPI

    if family == "mlp":
        from zen.neural import Trainer

        module = Trainer.load(model_dir).model.eval()

        def run(x: torch.Tensor) -> torch.Tensor:
            return module(x)

    else:
        from zen.forecasting import Forecaster

        model = Forecaster.load(model_dir).models_[0]
        network, input_size = model.model_.eval(), model.input_size

        def run(x: torch.Tensor) -> torch.Tensor:
            return network(x[:, -input_size:])[..., 0]

    app = FastAPI()

    @app.post("/predict")
    def predict(request: NaiveRequest) -> dict[str, Any]:
        with torch.no_grad():
            outputs = run(torch.tensor(request.inputs, dtype=torch.float32))
        return {"outputs": outputs.tolist()}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(
    kind: str, family: str, model_dir: Path, port: int, home: Path
) -> subprocess.Popen:
    env = {**os.environ, "ZEN_HOME": str(home)}
    env.pop("ZEN_API_TOKEN", None)
    if kind == "naive":
        command = [sys.executable, __file__, "--role", "naive", "--family", family,
                   "--model", str(model_dir), "--port", str(port)]  # fmt: skip
    else:
        command = [sys.executable, "-c", "from zen.cli import main; main()", "serve",
                   f"{family}={model_dir}", "--port", str(port),
                   "--cache-entries", "0"]  # fmt: skip
        if kind == "no batching":
            command += ["--max-batch", "1", "--max-wait-ms", "0"]
        if kind == "batching, no scheduler":
            command += ["--no-scheduler"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_ready(port: int, process: subprocess.Popen, path: str, timeout_s: float = 600) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"server exited early:\n{output[-3000:]}")
            try:
                if client.get(path).status_code in (200, 405):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not ready after {timeout_s} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_batches(port: int) -> float | None:
    """Mean rows per batch from an engine server's /metrics (None for the naive server)."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("zen_batch_size_rows_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("zen_batch_size_rows_count"):
            count += float(line.rsplit(" ", 1)[1])
    return total / count if count else None


# ---------------------------------------------------------------------------------- load
def request_bytes(path: str, family: str, count: int, seed: int) -> list[bytes]:
    """``count`` distinct HTTP/1.1 requests (keep-alive) with random inputs."""
    rng = np.random.default_rng(seed)
    requests = []
    for _ in range(count):
        if family == "mlp":
            row = rng.normal(size=MLP_SIZES[0])
        else:
            phase = rng.uniform(0, 24)
            steps = np.arange(NHITS_INPUT)
            row = 100 + 10 * np.sin(2 * np.pi * (steps + phase) / 24) + rng.normal(size=NHITS_INPUT)
        body = json.dumps({"inputs": [np.round(row, 5).tolist()]}).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    return requests


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def open_loop(
    port: int, requests: list[bytes], rate: float, warmup_s: float
) -> dict[str, Any]:
    """Send ``requests`` at ``rate`` per second on pooled connections; latency from the
    scheduled send time of each request."""
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened = 0
    available = asyncio.Condition()
    latencies: list[tuple[float, float, int]] = []  # (scheduled, latency, status)
    failures: dict[str, int] = {}  # exception name -> requests that got no answer
    retried: dict[str, int] = {}  # why -> requests sent again on a new connection

    async def connection(fresh: bool) -> tuple[Connection, bool]:
        """A pooled connection (and True) or a new one (and False)."""
        nonlocal opened
        async with available:
            while not idle and opened >= MAX_CONNECTIONS:
                await available.wait()
            if idle and not fresh:
                return idle.pop(), True
            if not fresh:
                opened += 1
        return await asyncio.open_connection("127.0.0.1", port), False

    async def release(conn: Connection | None) -> None:
        nonlocal opened
        async with available:
            if conn is None:
                opened -= 1
            else:
                idle.append(conn)
            available.notify()

    async def send(index: int, fresh: bool) -> tuple[Connection | None, int]:
        conn, reused = await asyncio.wait_for(connection(fresh), REQUEST_TIMEOUT_S)
        try:
            conn[1].write(requests[index])
            return conn, await asyncio.wait_for(_read_response(conn[0]), REQUEST_TIMEOUT_S)
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as error:
            conn[1].close()
            # A pooled keep-alive connection the server closed while it sat idle (uvicorn's
            # keep-alive timeout) fails before any byte of an answer: the request was never
            # read, so a client sends it again on a new connection, as HTTP clients do.
            stale = not isinstance(error, asyncio.IncompleteReadError) or not error.partial
            if reused and stale:
                retried["stale keep-alive"] = retried.get("stale keep-alive", 0) + 1
                return await send(index, fresh=True)
            raise
        except BaseException:
            conn[1].close()
            raise

    async def one(index: int, scheduled: float) -> None:
        conn = None
        status = 0
        try:
            conn, status = await send(index, fresh=False)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            kind = type(error).__name__
            failures[kind] = failures.get(kind, 0) + 1
            conn = None
        finally:
            latencies.append((scheduled, loop.time() - scheduled, status))
            await release(conn)

    start = loop.time() + 0.2
    tasks = []
    for index in range(len(requests)):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*tasks)
    sent_s = len(requests) / rate
    measured = [(s, lat, st) for s, lat, st in latencies if s - start >= warmup_s]
    ok = sorted(lat for _, lat, status in measured if status == 200)
    window_s = sent_s - warmup_s
    finished = max(s + lat for s, lat, _ in measured) - (start + warmup_s)
    return {
        "requests": len(measured),
        "ok": len(ok),
        "errors": len(measured) - len(ok),
        "statuses": dict(
            sorted(
                {str(st): sum(1 for *_, x in measured if x == st) for *_, st in measured}.items()
            )
        ),
        "send_rate": len(measured) / window_s,
        "throughput": len(ok) / max(finished, window_s),
        "p50_ms": _percentile(ok, 50) * 1e3 if ok else None,
        "p90_ms": _percentile(ok, 90) * 1e3 if ok else None,
        "p99_ms": _percentile(ok, 99) * 1e3 if ok else None,
        "max_ms": ok[-1] * 1e3 if ok else None,
        "mean_ms": statistics.fmean(ok) * 1e3 if ok else None,
        "connections": opened,
        "failures": failures,
        "retried": retried,
        "resent": sum(retried.values()),
    }


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q, method="higher"))


def run_load(port: int, path: str, family: str, rate: float, seconds: float) -> dict[str, Any]:
    """The open-loop client in a second process; returns its summary."""
    output = WORK_DIR / f"load-{port}.json"
    command = [sys.executable, __file__, "--role", "load", "--port", str(port), "--path", path,
               "--family", family, "--rate", str(rate), "--seconds", str(seconds),
               "--out", str(output)]  # fmt: skip
    subprocess.run(command, check=True, timeout=seconds * 10 + 120)
    return json.loads(output.read_text())


def scenario(
    family: str, kind: str, model_dir: Path, rate: float, seconds: float, home: Path
) -> dict[str, Any]:
    port = _free_port()
    path = "/predict" if kind == "naive" else f"/v1/models/{family}/predict"
    process = start_server(kind, family, model_dir, port, home)
    try:
        wait_ready(port, process, "/docs" if kind == "naive" else "/readyz")
        server = psutil.Process(process.pid)
        children = server.children(recursive=True)
        cpu_before = sum(p.cpu_times().user + p.cpu_times().system for p in [server, *children])
        started = time.perf_counter()
        summary = run_load(port, path, family, rate, seconds)
        elapsed = time.perf_counter() - started
        cpu_after = sum(p.cpu_times().user + p.cpu_times().system for p in [server, *children])
        summary["server_cpu_pct"] = 100 * (cpu_after - cpu_before) / elapsed
        summary["mean_batch"] = None if kind == "naive" else server_batches(port)
    finally:
        stop(process)
    server_name = "naive FastAPI" if kind == "naive" else f"zen serve, {kind}"
    return {"model": family, "server": server_name, **summary}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per server at 200 req/s")
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="load per server")
    parser.add_argument("--role", choices=("main", "naive", "load"), default="main")
    parser.add_argument("--family", default="mlp")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--path")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    if args.role == "naive":
        naive_server(args.family, args.model, args.port)
        return 0
    if args.role == "load":
        warmup_s = min(1.0, args.seconds / 4)
        count = int(args.rate * (args.seconds + warmup_s))
        requests = request_bytes(args.path, args.family, count, seed=args.port)
        summary = asyncio.run(open_loop(args.port, requests, args.rate, warmup_s))
        args.out.write_text(json.dumps(summary))
        return 0

    rate, seconds = (200.0, 3.0) if args.quick else (args.rate, args.seconds)
    info = machine_info()
    print_machine(info)
    console.print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    home = WORK_DIR / "zen-home"
    paths = build_models(WORK_DIR / "models")

    console.print("[bold]engine backends[/] (median of the engine's timing calls, 1 thread)")
    backends = backend_table(paths, home / "cache" / "engine", runs=50 if args.quick else 200)
    print_table(
        "backend latency by family",
        backends,
        ["family", "backend", "batch 1 ms", "batch 32 ms", "rel diff", "engine", "note"],
    )

    plan = [
        ("mlp", "batching"),
        ("mlp", "batching, no scheduler"),
        ("mlp", "no batching"),
        ("mlp", "naive"),
        ("nhits", "batching"),
        ("nhits", "no batching"),
        ("nhits", "naive"),
    ]
    rows = []
    for family, kind in plan:
        console.print(f"[dim]{family}: {kind} at {rate:g} requests/s for {seconds:g} s[/dim]")
        rows.append(scenario(family, kind, paths[family], rate, seconds, home))
    print_table(
        f"open-loop load at {rate:g} requests/s, {seconds:g} s per server (after 1 s warm-up)",
        rows,
        [
            "model",
            "server",
            "send_rate",
            "throughput",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "errors",
            "resent",
            "mean_batch",
            "server_cpu_pct",
        ],
    )
    target = next(r for r in rows if r["model"] == "mlp" and r["server"] == "zen serve, batching")
    met = (
        not args.quick
        and target["p99_ms"] is not None
        and target["p99_ms"] <= TARGET_P99_MS
        and target["errors"] == 0
    )
    verdict = (
        f"target p99 <= {TARGET_P99_MS:g} ms at {rate:g} req/s (MLP, zen serve defaults):"
        f" p99 {target['p99_ms']:.2f} ms, {target['errors']} errors -> "
        + ("met" if met else "not met" if not args.quick else "not checked (--quick)")
    )
    console.print(verdict)
    write_result(
        "runtime_server",
        {
            "machine": info,
            "load_average": os.getloadavg(),
            "rate": rate,
            "seconds": seconds,
            "quick": args.quick,
            "backends": backends,
            "load": rows,
            "target": {"p99_ms": TARGET_P99_MS, "met": met, "verdict": verdict},
        },
    )
    return 0 if met or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
