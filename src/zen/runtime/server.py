"""The model server: an :class:`~zen.runtime.InferenceEngine` over HTTP (FastAPI + uvicorn).

>>> from zen.runtime import EngineConfig, ModelSpec, create_app
>>> app = create_app(EngineConfig(models=(ModelSpec("runs/20240601-abc"),)))   # doctest: +SKIP
>>> serve(app, port=8000)                                                       # doctest: +SKIP

=======================================  ===================================================
``POST /v1/models/{name}/predict``       :class:`~zen.runtime.schemas.PredictRequest` ->
                                         ``{"outputs": [...]}``; headers ``X-Zen-Backend``,
                                         ``X-Zen-Cache`` (hit/miss), ``X-Zen-Batch-Rows``
``GET /v1/models``, ``/v1/models/{name}``  the models, their request forms and backends
``GET /healthz``                         200 while the process serves HTTP
``GET /readyz``                          200 once every model is loaded and warm, else 503
``GET /metrics``                         Prometheus (:mod:`zen.runtime.metrics`)
``GET /docs``, ``/redoc``, ``/openapi.json``  the OpenAPI spec
=======================================  ===================================================

With a bearer token (``ZEN_API_TOKEN`` or ``token``) every route needs it except ``/healthz``
and ``/readyz``, which probes call without one; ``public_metrics=True`` opens ``/metrics`` and
the docs too (a Prometheus scraper, a browser on a trusted network).

Errors are ``{"detail": "..."}`` with the status a client can act on: 401 missing or wrong
bearer token, 404 unknown model (the message lists the known ones), 413 body over
``max_body_bytes``, 422 bad JSON or a request the model cannot take (the message names the
shape it expects), 503 model not ready, queue full or a deadline that cannot be met (with
``Retry-After``), 504 no result within the deadline. Each prediction has a deadline:
``timeout_s``, or less with the header ``X-Zen-Deadline-Ms``. No response names a file of the
server (:func:`~zen.runtime.redaction.redact_paths`: model directories, caches, home); the
server's log keeps the full errors.

Shutdown is graceful: uvicorn stops accepting connections and waits for the requests in
flight, then the app's lifespan drains the engine's queues before the process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

import zen
from zen.errors import ConfigError, DataError, ZenError
from zen.runtime.engine import EngineConfig, InferenceEngine, ModelInfo
from zen.runtime.errors import DeadlineExceeded, ModelNotFound, ModelNotReady, Overloaded
from zen.runtime.metrics import ServingMetrics
from zen.runtime.redaction import redact_paths
from zen.runtime.schemas import (
    ErrorResponse,
    HealthResponse,
    ModelResponse,
    ModelsResponse,
    PredictRequest,
    PredictResponse,
    ReadyResponse,
    ValidationErrorResponse,
)

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "TOKEN_ENV_VAR", "create_app", "serve", "status_of"]

TOKEN_ENV_VAR = "ZEN_API_TOKEN"
DEADLINE_HEADER = "X-Zen-Deadline-Ms"
DEFAULT_MAX_BODY_BYTES = 1 << 20
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorResponse, "description": "Unknown model; the message lists the known."},
    413: {"model": ErrorResponse, "description": "Request body over the size limit."},
    422: {
        "model": ValidationErrorResponse,
        "description": "Bad JSON or a request the model"
        " cannot take; the message names what it expects.",
    },
    503: {
        "model": ErrorResponse,
        "description": "Not ready, overloaded, or the deadline cannot be met; see Retry-After.",
    },
    504: {"model": ErrorResponse, "description": "No result within the deadline."},
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def status_of(error: BaseException) -> int:
    """The HTTP status of an error the engine raises (500 for anything unexpected)."""
    if isinstance(error, ModelNotFound):
        return 404
    if isinstance(error, DeadlineExceeded):
        return 503 if error.early else 504
    if isinstance(error, (ModelNotReady, Overloaded)):
        return 503
    if isinstance(error, (DataError, ConfigError)):
        return 422
    if isinstance(error, StarletteHTTPException):
        return error.status_code
    return 500


def create_app(
    engine: InferenceEngine | EngineConfig,
    *,
    token: str | None = None,
    public_metrics: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    timeout_s: float = 10.0,
    drain_timeout_s: float = 30.0,
) -> FastAPI:
    """The FastAPI app serving ``engine`` (see the module docstring for the routes).

    The app owns the engine: its lifespan starts it (the prefetch runs in the background,
    ``/readyz`` says when it is done) and closes it at shutdown, draining queued requests.

    Args:
        engine: an engine, or the configuration to make one from.
        token: bearer token every route but ``/healthz`` and ``/readyz`` requires; default
            ``$ZEN_API_TOKEN``; ``""`` turns authentication off even when the variable is set.
        public_metrics: with a token, still serve ``/metrics`` and the docs (``/docs``,
            ``/redoc``, ``/openapi.json``) without it.
        max_body_bytes: largest request body accepted (413 above it).
        timeout_s: deadline of every prediction (``X-Zen-Deadline-Ms`` may shorten it).
        drain_timeout_s: how long shutdown waits for queued requests.
    """
    if isinstance(engine, EngineConfig):
        engine = InferenceEngine(engine)
    if not isinstance(engine, InferenceEngine):
        raise ConfigError(f"engine: expected an InferenceEngine or EngineConfig, got {engine!r}")
    if (
        isinstance(max_body_bytes, bool)
        or not isinstance(max_body_bytes, int)
        or max_body_bytes < 1
    ):
        raise ConfigError(f"max_body_bytes: expected a positive integer, got {max_body_bytes!r}")
    if isinstance(timeout_s, bool) or not 0 < timeout_s <= 3600:
        raise ConfigError(f"timeout_s: expected seconds in (0, 3600], got {timeout_s!r}")
    token = os.environ.get(TOKEN_ENV_VAR) if token is None else token
    metrics = ServingMetrics(engine)
    served = engine

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        served.start()
        try:
            yield
        finally:
            # uvicorn has already waited for the requests in flight; finish what is queued.
            await run_in_threadpool(served.close, True, drain_timeout_s)
            metrics.close()

    app = FastAPI(
        title="zen-neural model server",
        version=zen.__version__,
        description="Predictions from saved zen models: micro-batched, cached, with deadlines.",
        lifespan=lifespan,
        # Added below, behind the token like the rest (FastAPI's own routes take no guard).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.engine = engine
    app.state.metrics = metrics

    server_dirs = [*_home_dirs(), engine.config.resolved_cache_dir()]

    def public(text: str) -> str:
        """``text`` without the server's paths (models may be added after start: ask now)."""
        return redact_paths(text, [*(info.path for info in served.models()), *server_dirs])

    _install_error_handlers(app, public)
    guard = [Depends(_bearer_guard(token))] if token else []
    operations_guard = [] if public_metrics else guard
    _add_docs(app, operations_guard)
    # The served names as examples of the path parameter: the docs offer them, and API fuzzers
    # reach the models instead of a wall of 404s. (Defaults, not Annotated[...]: annotations
    # are strings here, which cannot name this local list.)
    model_names = [info.name for info in engine.models()]
    name_parameter = Path(description="A served model (GET /v1/models).", examples=model_names)

    @app.get("/healthz", response_model=HealthResponse, tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is alive and answers HTTP."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=ReadyResponse,
        responses={503: {"model": ReadyResponse, "description": "Still loading, or failed."}},
        tags=["operations"],
    )
    async def readyz() -> JSONResponse:
        """Ready once every model is loaded and warmed up (the start-up prefetch is done)."""
        models = served.models()
        statuses = {info.name: info.status for info in models}
        if served.ready:
            return JSONResponse({"ready": True, "models": statuses})
        failed = [f"{info.name}: {info.error}" for info in models if info.status == "failed"]
        detail = (
            "failed to load: " + public("; ".join(failed))
            if failed and served.prefetched
            else "loading models (prefetch in progress)"
        )
        return JSONResponse(
            {"ready": False, "models": statuses, "detail": detail},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={401: _ERRORS[401]} if operations_guard else None,
        dependencies=operations_guard,
    )
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus metrics (text exposition format)."""
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    @app.get(
        "/v1/models",
        response_model=ModelsResponse,
        responses={401: _ERRORS[401]},
        dependencies=guard,
        tags=["models"],
    )
    async def list_models() -> dict[str, Any]:
        """Every served model: status, backend, and the requests it takes (``signature``)."""
        return {"models": [_model_json(info, public) for info in served.models()]}

    @app.get(
        "/v1/models/{name}",
        response_model=ModelResponse,
        responses={401: _ERRORS[401], 404: _ERRORS[404]},
        dependencies=guard,
        tags=["models"],
    )
    async def get_model(name: str = name_parameter) -> dict[str, Any]:
        """One model."""
        return _model_json(served.model_info(name), public)

    @app.post(
        "/v1/models/{name}/predict",
        response_model=PredictResponse,
        response_model_exclude_none=True,
        responses={code: _ERRORS[code] for code in (401, 404, 413, 422, 503, 504)},
        dependencies=guard,
        tags=["models"],
    )
    async def predict(
        body: PredictRequest,
        name: str = name_parameter,
        deadline_ms: Annotated[
            float | None,
            Header(
                alias=DEADLINE_HEADER,
                gt=0,
                le=3_600_000,
                description="Finish within this many ms (at most the server's timeout).",
            ),
        ] = None,
    ) -> Response:
        """Predict with model ``name``: one request form, outputs in the request's order."""
        started = time.perf_counter()
        budget_s = timeout_s if deadline_ms is None else min(deadline_ms / 1e3, timeout_s)
        try:
            payload = body.payload()
            if served.prepares_inline(name):
                future = served.submit(name, payload, deadline_s=budget_s)
            else:
                future = await run_in_threadpool(served.submit, name, payload, deadline_s=budget_s)
            remaining = budget_s - (time.perf_counter() - started)
            try:
                prediction = await asyncio.wait_for(
                    asyncio.wrap_future(future), max(remaining, 1e-4)
                )
            except TimeoutError as error:
                if isinstance(error, DeadlineExceeded):
                    raise
                future.cancel()
                raise DeadlineExceeded(
                    f"model {name!r}: no result within the deadline of {budget_s * 1e3:.0f} ms",
                    early=False,
                ) from None
        except Exception as error:
            if not isinstance(error, ModelNotFound):  # unknown names would be unbounded labels
                metrics.observe_prediction(name, status_of(error), time.perf_counter() - started)
            raise
        metrics.observe_prediction(name, 200, time.perf_counter() - started)
        return JSONResponse(
            prediction.outputs,
            headers={
                "X-Zen-Backend": prediction.backend,
                "X-Zen-Cache": "hit" if prediction.cached else "miss",
                "X-Zen-Batch-Rows": str(prediction.batch_rows),
            },
        )

    # Outermost first: metrics see every response, the size limit applies before parsing.
    app.add_middleware(_BodyLimit, max_body_bytes=max_body_bytes)
    app.add_middleware(_HttpMetrics, metrics=metrics)
    return app


def serve(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    access_log: bool = False,
    grace_s: int = 30,
    log_level: str = "info",
) -> None:
    """Run ``app`` with uvicorn until SIGINT/SIGTERM, then shut down gracefully: stop
    accepting, finish requests in flight (at most ``grace_s``), drain the engine."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=access_log,
        timeout_graceful_shutdown=max(1, grace_s),
        log_level=log_level,
        lifespan="on",
    )
    uvicorn.Server(config).run()


# ---------------------------------------------------------------------------------- pieces
def _home_dirs() -> list[FilePath]:
    """Where the server's own files live, whatever a message names: home, ``$ZEN_HOME``, the
    working and temporary directories, this Python."""
    paths = [
        FilePath.cwd(),
        FilePath(tempfile.gettempdir()),
        FilePath(sys.prefix),
        FilePath(sys.base_prefix),
    ]
    with contextlib.suppress(RuntimeError, KeyError):  # no home directory (a service account)
        paths.append(FilePath.home())
    if os.environ.get("ZEN_HOME"):
        paths.append(FilePath(os.environ["ZEN_HOME"]).expanduser())
    return paths


def _model_json(info: ModelInfo, public: Callable[[str], str]) -> dict[str, Any]:
    payload = info.to_json()
    payload.pop("path", None)  # the server's file layout is none of the client's business
    if payload.get("error"):
        payload["error"] = public(payload["error"])
    payload["skipped"] = {backend: public(why) for backend, why in payload["skipped"].items()}
    return ModelResponse(**payload).model_dump()


def _add_docs(app: FastAPI, dependencies: list[Any]) -> None:
    """``/openapi.json``, ``/docs`` (Swagger UI) and ``/redoc`` behind ``dependencies``."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=dependencies)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=dependencies)
    async def swagger_ui(request: Request) -> HTMLResponse:
        spec = request.scope.get("root_path", "") + "/openapi.json"  # behind a proxy's prefix
        return get_swagger_ui_html(openapi_url=spec, title=f"{app.title} - docs")

    @app.get("/redoc", include_in_schema=False, dependencies=dependencies)
    async def redoc(request: Request) -> HTMLResponse:
        spec = request.scope.get("root_path", "") + "/openapi.json"
        return get_redoc_html(openapi_url=spec, title=f"{app.title} - ReDoc")


def _bearer_guard(token: str) -> Callable[..., Awaitable[None]]:
    scheme = HTTPBearer(
        auto_error=False, description=f"The server's {TOKEN_ENV_VAR}: Authorization: Bearer ..."
    )
    expected = token.encode()

    # A default rather than Annotated[...]: annotations are strings here, and the local
    # `scheme` could not be resolved from one.
    async def require_token(
        credentials: HTTPAuthorizationCredentials | None = Depends(scheme),  # noqa: B008
    ) -> None:
        if credentials is None:
            raise HTTPException(
                401,
                f"missing bearer token; send the header 'Authorization: Bearer <token>' with"
                f" the server's {TOKEN_ENV_VAR}",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise HTTPException(
                401,
                "wrong bearer token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    return require_token


def _install_error_handlers(app: FastAPI, public: Callable[[str], str]) -> None:
    """Every error answer as ``{"detail": ...}``, its text passed through ``public``."""

    def detail(request: Request, text: str) -> str:
        shown = public(text)
        if shown != text:  # the client sees less; the operator should not
            logger.info("request %s: %s", request.url.path, text)
        return shown

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [_plain_error(each, public) for each in error.errors()]
        return JSONResponse({"detail": _summary(errors), "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 400:
            # FastAPI's answer to a body it cannot decode at all (not UTF-8 text, say): for the
            # client that is bad JSON, like any other, so the same 422.
            return JSONResponse(
                {
                    "detail": detail(request, f"request body is not valid JSON: {error.detail}"),
                    "errors": [],
                },
                status_code=422,
            )
        text = error.detail if isinstance(error.detail, str) else None
        return JSONResponse(
            {"detail": error.detail if text is None else detail(request, text)},
            status_code=error.status_code,
            headers=error.headers,
        )

    @app.exception_handler(ZenError)
    async def zen_error(request: Request, error: ZenError) -> JSONResponse:
        status = status_of(error)
        headers = {"Retry-After": "1"} if status == 503 else None
        if status == 500:
            logger.error("request %s failed: %s", request.url.path, error, exc_info=error)
        return JSONResponse(
            {"detail": detail(request, str(error))}, status_code=status, headers=headers
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.error("request %s failed", request.url.path, exc_info=error)
        return JSONResponse(
            {"detail": f"internal error ({type(error).__name__}); see the server log"},
            status_code=500,
        )


def _plain_error(error: Any, public: Callable[[str], str]) -> dict[str, Any]:
    """A pydantic error as JSON-able data (its ``ctx`` may hold exceptions)."""
    return {
        "loc": [str(part) for part in error.get("loc", ())],
        "msg": public(str(error.get("msg", ""))),
        "type": str(error.get("type", "")),
    }


def _summary(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "invalid request"
    first = errors[0]
    if first["type"] == "json_invalid":
        return f"request body is not valid JSON: {first['msg']}"
    location = ".".join(part for part in first["loc"] if part != "body") or "body"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{location}: {first['msg']}{more}"


class _BodyLimit:
    """413 for request bodies over ``max_body_bytes``: by Content-Length at once, else while
    reading (chunked uploads); the body is read here and handed on whole."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            await self._reject(send, length)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._reject(send, size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, size: int) -> None:
        response = JSONResponse(
            {
                "detail": f"request body of {size} bytes (or more) is over the limit of"
                f" {self.max_body_bytes} bytes; send fewer rows per request"
            },
            status_code=413,
            headers={"Connection": "close"},
        )
        await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _HttpMetrics:
    """Counts every response by route template (never the raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unrouted"
            self.metrics.observe_http(
                scope["method"], template, status, time.perf_counter() - started
            )
