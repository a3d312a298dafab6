"""The inference engine: one interface for every saved family, batching, cache, deadlines,
backend choice and fallback, prefetch.

Answers are compared with the saved model's own ``predict`` (loaded the usual way), so a test
fails when the engine's encoding, batching or splitting changes a single number. Batching tests
use long windows with a ``max_batch_size`` the requests fill exactly: the batch goes as soon as
it is full, so nothing waits for the window and nothing depends on timing.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from zen.errors import ConfigError, DataError
from zen.runtime import (
    DeadlineExceeded,
    EngineConfig,
    InferenceEngine,
    ModelNotFound,
    ModelNotReady,
    ModelSpec,
    Overloaded,
    Scheduler,
    SchedulerConfig,
    load_model,
)
from zen.runtime.backends import Backend
from zen.runtime.servables import (
    ForecasterServable,
    GraphServable,
    MLPServable,
    TabularServable,
    WindowForecastServable,
)


def mlp_outputs(path: Path, rows: np.ndarray) -> np.ndarray:
    from zen.neural import Trainer

    model = Trainer.load(path).model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(rows.astype(np.float32))).numpy()


# ---------------------------------------------------------------------------------- loading
@pytest.mark.parametrize(
    ("model", "servable", "family"),
    [
        ("mlp", MLPServable, "mlp"),
        ("classifier", TabularServable, "tabular"),
        ("regressor", TabularServable, "tabular"),
        ("nhits", WindowForecastServable, "forecast"),
        ("snaive", ForecasterServable, "forecast"),
        ("gcn", GraphServable, "graph"),
    ],
)
def test_load_model_picks_the_servable_of_each_saved_family(
    saved_models, model, servable, family
) -> None:
    loaded = load_model(getattr(saved_models, model))
    assert type(loaded) is servable
    assert loaded.family == family and loaded.name == model
    assert loaded.signature()["request"]  # every family says what a request looks like
    assert len(loaded.digest) == 64


def test_load_model_accepts_a_run_directory_and_names_it_after_the_run(
    saved_models, tmp_path
) -> None:
    import shutil

    run = tmp_path / "20240601-abc"
    shutil.copytree(saved_models.mlp, run / "model")
    loaded = load_model(run)
    assert loaded.name == "20240601-abc" and loaded.path == run / "model"


def test_load_model_explains_what_it_cannot_serve(tmp_path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no config\.json"):
        load_model(tmp_path / "empty")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"format": "zen.trainer", "model": None}))
    with pytest.raises(ConfigError, match="not registered"):
        load_model(odd)
    (odd / "config.json").write_text(json.dumps({"format": "zen.tabular"}))
    with pytest.raises(DataError, match="incomplete or corrupt"):
        load_model(odd)
    (odd / "config.json").write_text(json.dumps({"format": "keras"}))
    with pytest.raises(DataError, match="unknown saved model format 'keras'"):
        load_model(odd)


# ---------------------------------------------------------------------------------- answers
def test_mlp_answers_match_the_network(saved_models, make_engine) -> None:
    engine = make_engine({"mlp": saved_models.mlp})
    rows = np.random.default_rng(1).normal(size=(5, 8))
    prediction = engine.predict("mlp", {"inputs": rows.tolist()})
    expected = mlp_outputs(saved_models.mlp, rows)
    np.testing.assert_allclose(prediction.outputs["outputs"], expected, rtol=1e-5, atol=1e-6)
    assert prediction.backend == "torch" and not prediction.cached


def test_tabular_answers_match_predict_for_inputs_and_records(saved_models, make_engine) -> None:
    from zen.tabular import TabularModel

    engine = make_engine({"clf": saved_models.classifier, "reg": saved_models.regressor})
    frame = saved_models.table.drop(columns="label").head(7)
    classifier = TabularModel.load(saved_models.classifier)
    columns = engine.model_info("clf").signature["columns"]
    by_records = engine.predict("clf", {"records": frame.to_dict("records")}).outputs
    by_inputs = engine.predict("clf", {"inputs": frame[columns].values.tolist()}).outputs
    assert by_records["outputs"] == classifier.predict(frame).tolist()
    np.testing.assert_allclose(by_records["probabilities"], classifier.predict_proba(frame), 1e-5)
    assert by_inputs == by_records
    regressor = TabularModel.load(saved_models.regressor)
    values = engine.predict("reg", {"records": frame.to_dict("records")}).outputs["outputs"]
    np.testing.assert_allclose(values, regressor.predict(frame), rtol=1e-5)


@pytest.mark.parametrize("model", ["nhits", "snaive"])
def test_forecasts_match_the_forecaster(saved_models, make_engine, model) -> None:
    from zen.forecasting import Forecaster

    engine = make_engine({model: getattr(saved_models, model)})
    recent = saved_models.hourly_frame(72, ids=("x", "y", "z"))
    expected = Forecaster.load(getattr(saved_models, model)).predict(recent)
    body = engine.predict(model, {"series": saved_models.series_payload(recent)}).outputs
    assert [entry["unique_id"] for entry in body["outputs"]] == ["x", "y", "z"]
    for entry in body["outputs"]:
        rows = expected[expected["unique_id"] == entry["unique_id"]]
        np.testing.assert_allclose(entry["forecast"], rows.iloc[:, 2], rtol=1e-5)
        assert entry["ds"] == [stamp.isoformat() for stamp in pd.to_datetime(rows["ds"])]


def test_window_forecasts_from_plain_histories_and_a_shorter_horizon(
    saved_models, make_engine
) -> None:
    engine = make_engine({"nhits": saved_models.nhits})
    recent = saved_models.hourly_frame(30, ids=("x",))
    by_series = engine.predict("nhits", {"series": saved_models.series_payload(recent), "h": 4})
    by_inputs = engine.predict("nhits", {"inputs": [recent["y"].tolist()], "h": 4})
    assert len(by_inputs.outputs["outputs"][0]) == 4
    np.testing.assert_allclose(
        by_inputs.outputs["outputs"][0], by_series.outputs["outputs"][0]["forecast"], rtol=1e-6
    )


def test_graph_answers_match_the_gnn(saved_models, make_engine) -> None:
    from zen.neural import Trainer

    engine = make_engine({"gcn": saved_models.gcn})
    graph = saved_models.graph
    request = {"x": graph.x.tolist(), "edge_index": graph.edge_index.tolist()}
    outputs = engine.predict("gcn", request).outputs["outputs"]
    expected = Trainer.load(saved_models.gcn).model.predict(graph).numpy()
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"inputs": [[1.0, 2.0]]}, r"expected rows of 8 features \(shape \(rows, 8\)\)"),
        ({"inputs": [1.0] * 8}, r"wrap a single row in a list"),
        ({"inputs": [[1.0] * 8, [1.0] * 7]}, "different lengths"),
        ({"inputs": [["a"] * 8]}, "expected only numbers"),
        ({"inputs": [[None] * 8]}, "expected only numbers"),
        ({"inputs": []}, "expected a list of rows|is empty"),
        ({"series": []}, "takes a request with 'inputs'"),
        ({}, "takes a request with 'inputs'"),
    ],
)
def test_requests_of_the_wrong_shape_say_what_is_expected(
    saved_models, make_engine, request_body, message
) -> None:
    engine = make_engine({"mlp": saved_models.mlp})
    with pytest.raises(DataError, match=message):
        engine.submit("mlp", request_body)
    assert engine.stats()["mlp"].failed >= 1


def test_forecast_requests_are_checked_against_the_model(saved_models, make_engine) -> None:
    engine = make_engine({"nhits": saved_models.nhits})
    short = saved_models.series_payload(saved_models.hourly_frame(10, ids=("x",)))
    with pytest.raises(DataError, match="send at least that many"):
        engine.submit("nhits", {"series": short})
    history = saved_models.series_payload(saved_models.hourly_frame(30, ids=("x",)))
    with pytest.raises(DataError, match=r"h: expected an integer from 1 to 6"):
        engine.submit("nhits", {"series": history, "h": 7})
    integers = [{"unique_id": "x", "ds": list(range(30)), "y": [1.0] * 30}]
    with pytest.raises(DataError, match="ds must be timestamps"):
        engine.submit("nhits", {"series": integers})
    with pytest.raises(DataError, match="given twice"):
        engine.submit("nhits", {"series": history + history})


def test_graph_requests_are_checked(saved_models, make_engine) -> None:
    engine = make_engine({"gcn": saved_models.gcn})
    x = saved_models.graph.x[:3].tolist()
    with pytest.raises(DataError, match=r"node indices must lie in \[0, 2\]"):
        engine.submit("gcn", {"x": x, "edge_index": [[0, 1], [1, 5]]})
    with pytest.raises(DataError, match=r"shape \(rows, 34\)"):
        engine.submit("gcn", {"x": [[1.0, 2.0]], "edge_index": [[0], [0]]})
    with pytest.raises(DataError, match="integer node indices"):
        engine.submit("gcn", {"x": x, "edge_index": [[0.5], [1]]})


# ---------------------------------------------------------------------------------- batching
def test_requests_of_different_sizes_run_as_one_batch_and_split_back(
    saved_models, make_engine
) -> None:
    engine = make_engine({"mlp": saved_models.mlp}, max_batch_size=6, max_wait_ms=5000)
    rng = np.random.default_rng(2)
    requests = [rng.normal(size=(rows, 8)) for rows in (1, 2, 3)]
    futures = [engine.submit("mlp", {"inputs": rows.tolist()}) for rows in requests]
    results = [future.result(timeout=30) for future in futures]
    assert [result.batch_rows for result in results] == [6, 6, 6]
    for rows, result in zip(requests, results, strict=True):
        expected = mlp_outputs(saved_models.mlp, rows)
        np.testing.assert_allclose(result.outputs["outputs"], expected, rtol=1e-5, atol=1e-6)
    stats = engine.stats()["mlp"]
    assert stats.batches == 1 and stats.batch_rows == 6 and stats.completed == 3


def test_graphs_batch_as_a_disjoint_union(saved_models, make_engine) -> None:
    from zen.graph import Graph
    from zen.neural import Trainer

    graph = saved_models.graph
    small = graph.x[:5], torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    large = graph.x[5:12], torch.tensor([[0, 6, 3], [6, 0, 2]])
    engine = make_engine({"gcn": saved_models.gcn}, max_batch_size=12, max_wait_ms=5000)
    futures = [
        engine.submit("gcn", {"x": x.tolist(), "edge_index": edges.tolist()})
        for x, edges in (small, large)
    ]
    for (x, edges), future in zip((small, large), futures, strict=True):
        result = future.result(timeout=30)
        assert result.batch_rows == 12
        # A fresh model per graph: the saved GCN has cached=True, which would reuse the
        # first graph's normalisation for the second.
        model = Trainer.load(saved_models.gcn).model
        expected = model.predict(Graph(x=x, edge_index=edges)).numpy()
        np.testing.assert_allclose(result.outputs["outputs"], expected, rtol=1e-5, atol=1e-6)


def test_one_bad_request_does_not_fail_its_batch(saved_models, make_engine) -> None:
    # SeasonalNaive needs a full season; the server cannot know that before running it.
    engine = make_engine({"snaive": saved_models.snaive}, max_batch_size=3, max_wait_ms=5000)
    good = saved_models.series_payload(saved_models.hourly_frame(48, ids=("good",)))
    short = saved_models.series_payload(saved_models.hourly_frame(5, ids=("short",)))
    other = saved_models.series_payload(saved_models.hourly_frame(30, ids=("other",)))
    futures = [engine.submit("snaive", {"series": each}) for each in (good, short, other)]
    assert futures[0].result(timeout=30).outputs["outputs"][0]["unique_id"] == "good"
    with pytest.raises(DataError, match="24 values SeasonalNaive needs"):
        futures[1].result(timeout=30)
    assert futures[2].result(timeout=30).outputs["outputs"][0]["unique_id"] == "other"


def test_a_full_queue_turns_requests_away_and_close_without_drain_fails_the_queued(
    saved_models, make_engine
) -> None:
    engine = make_engine({"mlp": saved_models.mlp}, max_queue=1, max_wait_ms=10_000)
    waiting = engine.submit("mlp", {"inputs": [[0.0] * 8]})
    with pytest.raises(Overloaded, match="requests are queued"):
        engine.submit("mlp", {"inputs": [[1.0] * 8]})
    assert engine.stats()["mlp"].overloaded == 1
    engine.close(drain=False)
    with pytest.raises(ModelNotReady, match="shut down"):
        waiting.result(timeout=30)
    with pytest.raises(ModelNotReady):
        engine.submit("mlp", {"inputs": [[0.0] * 8]})


def test_close_runs_the_queued_requests_first(saved_models, make_engine) -> None:
    engine = make_engine({"mlp": saved_models.mlp}, max_wait_ms=10_000)
    waiting = engine.submit("mlp", {"inputs": [[0.5] * 8]})
    engine.close(drain=True)
    result = waiting.result(timeout=0)  # already done: close waited for it
    np.testing.assert_allclose(
        result.outputs["outputs"], mlp_outputs(saved_models.mlp, np.full((1, 8), 0.5)), 1e-5
    )


# ---------------------------------------------------------------------------------- cache
def test_the_result_cache_answers_repeats_and_evicts_the_least_recent(
    saved_models, make_engine
) -> None:
    engine = make_engine({"mlp": saved_models.mlp}, cache_entries=2)
    first, second, third = ({"inputs": [[float(value)] * 8]} for value in range(3))
    computed = engine.predict("mlp", first)
    repeat = engine.predict("mlp", first)
    assert repeat.cached and repeat.backend == "cache" and repeat.outputs == computed.outputs
    engine.predict("mlp", second)
    engine.predict("mlp", third)  # evicts `first`
    assert not engine.predict("mlp", first).cached
    stats = engine.stats()["mlp"]
    assert (stats.cache_hits, stats.cache_misses) == (1, 4)
    cache = engine.cache_stats()
    assert cache.entries == 2 and cache.evictions == 2 and cache.hits == 1


def test_a_shorter_horizon_reuses_the_cached_window(saved_models, make_engine) -> None:
    engine = make_engine({"nhits": saved_models.nhits})
    history = [[10.0 + np.sin(step / 4) for step in range(24)]]
    long_form = engine.predict("nhits", {"inputs": history})
    shorter = engine.predict("nhits", {"inputs": history, "h": 2})
    assert shorter.cached  # same window, same model outputs: only the response is cut
    assert shorter.outputs["outputs"][0] == long_form.outputs["outputs"][0][:2]


def test_a_zero_sized_cache_stores_nothing(saved_models, make_engine) -> None:
    engine = make_engine({"mlp": saved_models.mlp}, cache_entries=0)
    request = {"inputs": [[1.0] * 8]}
    assert not engine.predict("mlp", request).cached
    assert not engine.predict("mlp", request).cached
    assert engine.cache_stats().entries == 0


# ---------------------------------------------------------------------------------- deadlines
def test_a_request_that_cannot_meet_its_deadline_is_rejected_before_running(
    saved_models, make_engine
) -> None:
    engine = make_engine({"mlp": saved_models.mlp}, max_wait_ms=2000, cache_entries=0)
    # It would wait up to 2 s for company; its deadline is 50 ms.
    with pytest.raises(DeadlineExceeded, match="rejected, the request would finish") as caught:
        engine.submit("mlp", {"inputs": [[1.0] * 8]}, deadline_s=0.05)
    assert caught.value.early
    stats = engine.stats()["mlp"]
    assert stats.deadline_rejections == 1 and stats.batches == 0


def test_a_deadline_that_already_passed_is_rejected(saved_models, make_engine) -> None:
    engine = make_engine({"mlp": saved_models.mlp}, max_wait_ms=0)
    with pytest.raises(DeadlineExceeded, match="deadline passed") as caught:
        engine.predict("mlp", {"inputs": [[1.0] * 8]}, deadline_s=1e-9)
    assert caught.value.early
    assert engine.predict("mlp", {"inputs": [[1.0] * 8]}, deadline_s=30.0).outputs["outputs"]


# ---------------------------------------------------------------------------------- backends
class _FailingBackend(Backend):
    """Fault injection: a backend that breaks at run time, as a lost GPU or a corrupt session
    would, after it was chosen."""

    name = "onnx"

    def __init__(self) -> None:
        self.calls = 0

    def run(self, feeds):
        self.calls += 1
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : bad allocation")


def test_a_backend_that_fails_at_run_time_is_dropped_once_for_the_next(
    saved_models, make_engine, caplog
) -> None:
    engine = make_engine({"mlp": saved_models.mlp}, cache_entries=0)
    broken = _FailingBackend()
    model = engine._models["mlp"]
    model.active.insert(0, broken)
    assert engine.model_info("mlp").backend == "onnx"
    rows = np.ones((2, 8))
    with caplog.at_level(logging.WARNING, logger="zen.runtime.engine"):
        first = engine.predict("mlp", {"inputs": rows.tolist()})
        second = engine.predict("mlp", {"inputs": rows.tolist()})
    assert first.backend == second.backend == "torch"
    np.testing.assert_allclose(first.outputs["outputs"], mlp_outputs(saved_models.mlp, rows), 1e-5)
    assert broken.calls == 1  # dropped for good after the first failure
    warnings = [r.getMessage() for r in caplog.records if "falling back" in r.getMessage()]
    assert len(warnings) == 1 and "bad allocation" in warnings[0]
    assert engine.stats()["mlp"].fallbacks == 1
    assert engine.model_info("mlp").backends == ("torch",)


def test_missing_onnxruntime_leaves_pytorch_serving_and_says_why(
    saved_models, make_engine, monkeypatch, caplog
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    monkeypatch.setenv("ZEN_ENGINE_BACKEND", "onnx")
    with caplog.at_level(logging.INFO, logger="zen.runtime.backends"):
        engine = make_engine({"mlp": saved_models.mlp}, backends=("torch", "onnx"))
    info = engine.model_info("mlp")
    assert info.status == "ready" and info.backend == "torch"
    assert "onnxruntime" in info.skipped["onnx"]
    assert any("onnx was asked for but is unusable" in r.getMessage() for r in caplog.records)


def test_an_unknown_forced_backend_fails_the_model_with_the_choices(
    saved_models, make_engine, monkeypatch
) -> None:
    monkeypatch.setenv("ZEN_ENGINE_BACKEND", "tensorrt")
    engine = make_engine({"mlp": saved_models.mlp})
    info = engine.model_info("mlp")
    assert info.status == "failed" and "ZEN_ENGINE_BACKEND" in (info.error or "")
    assert "onnx-int8" in (info.error or "")
    assert not engine.ready
    with pytest.raises(ModelNotReady, match="failed to load"):
        engine.submit("mlp", {"inputs": [[1.0] * 8]})


def test_onnx_backends_are_measured_checked_and_cached(
    saved_models, make_engine, onnx_cache, caplog
) -> None:
    backends = ("torch", "onnx", "onnx-int8")
    with caplog.at_level(logging.INFO, logger="zen.runtime.backends"):
        engine = make_engine({"mlp": saved_models.mlp}, backends=backends, cache_entries=0)
    info = engine.model_info("mlp")
    assert info.status == "ready", info.error
    assert {"torch", "onnx"} <= set(info.latency_ms)
    assert set(info.latency_ms) | set(info.skipped) == set(backends)
    assert set(info.latency_ms["onnx"]) == {1, 32}  # timed at batch 1 and at max_batch_size
    assert info.backends[0] == min(
        info.latency_ms, key=lambda name: sum(info.latency_ms[name].values())
    )
    exported = list(onnx_cache.glob("onnx/mlp-*/model.onnx"))
    assert len(exported) == 1
    modified = exported[0].stat().st_mtime_ns
    rows = np.random.default_rng(3).normal(size=(4, 8))
    for backend in info.backends:
        answer = engine._models["mlp"].active
        outputs = next(b for b in answer if b.name == backend).run({"x": rows.astype(np.float32)})
        tolerance = 0.05 if backend == "onnx-int8" else 1e-4
        expected = mlp_outputs(saved_models.mlp, rows)
        scale = np.abs(expected).max()
        assert np.abs(outputs[0] - expected).max() <= tolerance * scale
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="zen.runtime.backends"):
        again = make_engine({"mlp": saved_models.mlp}, backends=("torch", "onnx"))
    assert again.model_info("mlp").status == "ready"
    assert exported[0].stat().st_mtime_ns == modified
    assert not any("exported to ONNX" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------------- scheduler
def test_batches_run_on_the_schedulers_inference_tier(saved_models, make_engine) -> None:
    scheduler = Scheduler(
        SchedulerConfig(realtime_priority=False, gil_switch_interval_s=None, freeze_gc=False)
    )
    engine = make_engine({"mlp": saved_models.mlp}, scheduler=scheduler, cache_entries=0)
    assert scheduler.running  # the engine started it
    rows = np.random.default_rng(4).normal(size=(3, 8))
    for _ in range(3):
        result = engine.predict("mlp", {"inputs": rows.tolist()}, deadline_s=5.0)
        np.testing.assert_allclose(
            result.outputs["outputs"], mlp_outputs(saved_models.mlp, rows), 1e-5
        )
    batches = engine.stats()["mlp"].batches
    engine.close()
    assert not scheduler.running  # and stopped it
    # Read after the stop: a worker completes a call's future before the scheduler thread
    # counts the call, so counts read while it runs may trail the answers already returned.
    inference = scheduler.stats.inference
    assert inference.jobs == inference.completed == batches == 3
    assert inference.deadline_misses == 0


# ---------------------------------------------------------------------------------- life cycle
def test_start_prefetches_in_the_background_and_reports_failures(
    saved_models, make_engine, tmp_path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    engine = make_engine({"mlp": saved_models.mlp, "broken": broken}, start=False)
    with pytest.raises(ModelNotReady, match="start"):
        engine.submit("mlp", {"inputs": [[1.0] * 8]})
    engine.start()
    assert engine.wait_ready(timeout_s=120) is False
    assert engine.prefetched and not engine.ready
    statuses = {info.name: info.status for info in engine.models()}
    assert statuses == {"mlp": "ready", "broken": "failed"}
    assert "not valid JSON" in (engine.model_info("broken").error or "")
    assert engine.predict("mlp", {"inputs": [[1.0] * 8]}).outputs


def test_models_added_after_start_load_in_the_background(saved_models, make_engine) -> None:
    engine = make_engine({"mlp": saved_models.mlp})
    name = engine.add_model(saved_models.regressor, name="late", max_batch_size=4)
    deadline = time.monotonic() + 120
    while engine.model_info(name).status not in ("ready", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert engine.model_info(name).status == "ready"
    assert engine.model_info(name).max_batch_size == 4


def test_unknown_models_are_named_with_the_known_ones(saved_models, make_engine) -> None:
    engine = make_engine({"mlp": saved_models.mlp, "nhits": saved_models.nhits})
    with pytest.raises(ModelNotFound, match="unknown model 'mpl'; known models: mlp, nhits"):
        engine.submit("mpl", {"inputs": [[1.0] * 8]})


def test_two_models_of_one_name_are_refused(saved_models) -> None:
    specs = (ModelSpec(saved_models.mlp), ModelSpec(saved_models.regressor, name="mlp"))
    with pytest.raises(ConfigError, match="two models are called 'mlp'"):
        InferenceEngine(EngineConfig(models=specs))


# ---------------------------------------------------------------------------------- config
def test_a_yaml_config_names_models_relative_to_its_folder(tmp_path) -> None:
    (tmp_path / "serve.yaml").write_text(
        "max_batch_size: 16\n"
        "backends: [torch, onnx]\n"
        "models:\n"
        "  - runs/abc\n"
        "  - {path: models/nhits, name: load, max_wait_ms: 5, backend: onnx}\n"
    )
    config = EngineConfig.from_file(tmp_path / "serve.yaml")
    assert config.max_batch_size == 16 and config.backends == ("torch", "onnx")
    assert config.models[0] == ModelSpec(tmp_path / "runs" / "abc")
    assert config.models[1].name == "load" and config.models[1].max_wait_ms == 5
    assert config.models[1].path == tmp_path / "models" / "nhits"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_batch: 4\n", r"unknown key\(s\) \['max_batch'\]"),
        ("backends: [tensorrt]\n", "backends: unknown value 'tensorrt'"),
        ("max_batch_size: 0\n", "max_batch_size: expected an integer >= 1"),
        ("models: [{path: a, batch: 3}]\n", r"unknown key\(s\) \['batch'\]"),
        ("- a\n- b\n", "expected a mapping at the top level"),
    ],
)
def test_bad_configs_are_refused_with_the_reason(tmp_path, text, message) -> None:
    (tmp_path / "serve.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        EngineConfig.from_file(tmp_path / "serve.yaml")


@pytest.mark.parametrize(
    ("text", "name", "path"),
    [
        ("runs/abc", None, "runs/abc"),
        ("churn=runs/abc", "churn", "runs/abc"),
        ("./a=b/model", None, "./a=b/model"),  # a path with '=' in it
    ],
)
def test_model_specs_parse_name_equals_path(text, name, path) -> None:
    spec = ModelSpec.parse(text)
    assert spec.name == name and spec.path == Path(path)


def test_model_names_must_be_url_safe() -> None:
    with pytest.raises(ConfigError, match="not a usable model name"):
        ModelSpec(Path("x"), name="a/b")
