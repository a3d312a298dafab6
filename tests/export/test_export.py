"""export_onnx: every zen family in ONNX, equal to PyTorch at every batch (or graph) size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("onnxruntime")

from zen.errors import BackendUnavailable, ConfigError, DataError, ZenError
from zen.export.onnx import (
    ParityError,
    export_onnx,
    load_onnx_session,
    read_sidecar,
    sidecar_path,
)
from zen.forecasting import NBEATS, NHITS, TCN, DeepAR, Forecaster, PatchTST
from zen.graph import GAT, GCN, GIN, GraphSAGE
from zen.neural import MLP
from zen.tabular import TabularModel

H, INPUT_SIZE = 6, 24
FAST = {"max_steps": 4, "val_check_steps": 2, "windows_batch_size": 16, "random_seed": 0}
SLOW = pytest.mark.slow
FAMILIES = [
    "mlp", "tabular-classification", "tabular-regression", "nhits", "nbeats", "tcn", "deepar",
    "patchtst", pytest.param("nhits-exog", marks=SLOW), "gcn", "gat", "graphsage", "gin",
]  # fmt: skip
GRAPH_FAMILIES = {"gcn", "gat", "graphsage", "gin"}


def series_frame(n_series: int = 3, length: int = 80, exog: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frames = []
    for index in range(n_series):
        t = np.arange(length)
        y = 10.0 * (index + 1) + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.3, length)
        frame = pd.DataFrame({"unique_id": f"s{index}", "ds": t + 1, "y": y})
        if exog:
            frame["promo"] = (t % 7 == 0).astype(float)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def table(regression: bool) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    frame["colour"] = rng.choice(["red", "green", "blue"], size=120)
    frame["target"] = (
        frame["a"] * 2 - frame["b"] if regression else np.where(frame["a"] > 0, "yes", "no")
    )
    return frame


def two_model_forecaster() -> Forecaster:
    return Forecaster(
        [NHITS(H, INPUT_SIZE, mlp_units=((8, 8),) * 3, **FAST),
         NBEATS(H, INPUT_SIZE, mlp_units=((16, 16),) * 3, **FAST)],
        freq=1,
    ).fit(series_frame())  # fmt: skip


def build(family: str) -> Any:
    """A small fitted (or freshly initialised, where fitting adds nothing) model per family."""
    torch.manual_seed(0)
    if family == "nbeats":
        return two_model_forecaster()
    if family == "mlp":
        return MLP([6, 16, 3])
    if family.startswith("tabular"):
        regression = family.endswith("regression")
        return TabularModel(hidden_layers=[8], max_epochs=2).fit(table(regression), "target")
    if family == "gcn":
        # As zen fit trains it: cached normalisation, already run on one graph, left in
        # training mode. Export must neither bake that graph in nor change the model.
        model = GCN(5, 16, 2, 3, cached=True)
        model.eval()(torch.randn(12, 5), torch.randint(0, 12, (2, 40)))
        return model.train()
    if family in GRAPH_FAMILIES:
        classes = {"gat": GAT, "graphsage": GraphSAGE, "gin": GIN}
        extra = {"heads": 2} if family == "gat" else {}
        return classes[family](5, 16, 2, 3, **extra)
    if family == "nhits-exog":
        model = NHITS(H, INPUT_SIZE, mlp_units=((16, 16),) * 3, futr_exog_list=["promo"], **FAST)
        return Forecaster([model], freq=1).fit(series_frame(exog=True))
    small = {
        "nhits": lambda: NHITS(H, INPUT_SIZE, mlp_units=((16, 16),) * 3, **FAST),
        "tcn": lambda: TCN(H, INPUT_SIZE, encoder_hidden_size=8, decoder_hidden_size=8, **FAST),
        "deepar": lambda: DeepAR(H, INPUT_SIZE, lstm_hidden_size=8, **FAST),
        "patchtst": lambda: PatchTST(
            H,
            INPUT_SIZE,
            hidden_size=16,
            n_heads=2,
            linear_hidden_size=32,
            patch_len=8,
            stride=4,
            **FAST,
        ),
    }
    return Forecaster([small[family]()], freq=1).fit(series_frame())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    """``exported(family) -> (model, report)``, each family exported once per module."""
    folder = tmp_path_factory.mktemp("onnx")
    cache: dict[str, tuple[Any, Any]] = {}

    def get(family: str) -> tuple[Any, Any]:
        if family not in cache:
            model = build(family)
            # N-BEATS comes from a Forecaster that also holds an N-HiTS: export picks it by name.
            name = "NBEATS" if family == "nbeats" else None
            cache[family] = (model, export_onnx(model, folder / f"{family}.onnx", model_name=name))
        return cache[family]

    return get


def torch_module(model: Any) -> torch.nn.Module:
    """The PyTorch module an export of ``model`` must reproduce."""
    if isinstance(model, Forecaster):
        return model.models_[-1].model_
    if isinstance(model, TabularModel):
        return model.network_
    return model


def random_feed(family: str, size: int, seed: int) -> dict[str, np.ndarray]:
    generator = np.random.default_rng(seed)
    if family in GRAPH_FAMILIES:
        return {
            "x": generator.standard_normal((size, 5), dtype=np.float32),
            "edge_index": generator.integers(0, size, (2, 4 * size)),
        }
    raise AssertionError(family)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_matches_pytorch_at_every_checked_size(exported, family: str) -> None:
    _, report = exported(family)
    assert report.parity_passed
    assert report.max_rel_diff <= 1e-4
    assert report.path.is_file() and report.sidecar_path.is_file()
    checked = [check.sizes for check in report.parity]
    if family in GRAPH_FAMILIES:
        assert {"num_nodes": 2000, "num_edges": 16000} in checked
    else:
        assert [sizes["batch"] for sizes in checked] == [1, 2, 7, 64]


@pytest.mark.parametrize(
    "family",
    ["mlp", "nbeats", "tcn", pytest.param("nhits-exog", marks=SLOW), "tabular-regression"],
)
def test_batch_models_answer_batches_never_seen_at_export(exported, family: str) -> None:
    model, report = exported(family)
    session, sidecar = load_onnx_session(report.path)
    module = torch_module(model).eval()
    for batch in (3, 5, 33):
        generator = torch.Generator().manual_seed(batch)
        inputs = [
            torch.randn([batch if axis == "batch" else axis for axis in spec["shape"]],
                        generator=generator)
            for spec in sidecar["inputs"]
        ]  # fmt: skip
        with torch.no_grad():
            if family == "tabular-regression":
                expected = model.network_(*inputs)[:, 0] * model.target_scale_ + model.target_mean_
            elif family == "nhits-exog":
                expected = module(inputs[0], inputs[1])
            else:
                expected = module(*inputs)
        feed = {spec["name"]: x.numpy() for spec, x in zip(sidecar["inputs"], inputs, strict=True)}
        got = session.run(None, feed)[0]
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_nhits_is_right_for_every_batch_size_not_just_the_traced_one(exported) -> None:
    """neuralforecast's N-HiTS exported with a dynamic batch silently traces ``len(x)`` into a
    constant and is wrong for batch > 1; here each row of any batch equals that row alone."""
    model, report = exported("nhits")
    session, _ = load_onnx_session(report.path)
    network = model.models_[0].model_
    windows = 50 + 10 * torch.randn(100, INPUT_SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        alone = torch.cat([network(windows[i : i + 1]) for i in range(len(windows))]).numpy()
    for batch in (1, 2, 3, 4, 7, 16, 64, 100):
        got = session.run(None, {"insample": windows[:batch].numpy()})[0]
        assert got.shape == (batch, H, 1)
        np.testing.assert_allclose(got, alone[:batch], rtol=1e-4, atol=1e-4)
    import onnx

    graph_input = onnx.load(str(report.path)).graph.input[0]
    assert graph_input.type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.parametrize("family", sorted(GRAPH_FAMILIES))
def test_graph_models_take_any_number_of_nodes_and_edges(exported, family: str) -> None:
    model, report = exported(family)
    session, sidecar = load_onnx_session(report.path)
    assert sidecar["dynamic_axes"].keys() == {"num_nodes", "num_edges"}
    # A fresh copy in eval mode (the cached GCN would reuse its cached graph).
    config = {**model.config(), "cached": False} if family == "gcn" else model.config()
    reference = type(model).from_config(config)
    reference.load_state_dict(model.state_dict())
    reference.eval()
    for nodes in (2, 9, 300):
        feed = random_feed(family, nodes, seed=nodes)
        with torch.no_grad():
            expected = reference(torch.from_numpy(feed["x"]), torch.from_numpy(feed["edge_index"]))
        got = session.run(None, feed)[0]
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)


def test_deepar_step_graph_carries_the_lstm_state_across_calls(exported) -> None:
    """Running the input window in two calls (state passed on) equals one call, as sampling
    one step at a time needs; and the parameters are the network's own."""
    model, report = exported("deepar")
    session, sidecar = load_onnx_session(report.path)
    layers, units = sidecar["model"]["lstm_layers"], sidecar["model"]["lstm_units"]
    inputs = np.random.default_rng(0).standard_normal((4, INPUT_SIZE), dtype=np.float32)
    zeros = np.zeros((layers, 4, units), dtype=np.float32)
    whole, hidden, cell = session.run(None, {"inputs": inputs, "hidden": zeros, "cell": zeros})
    first, h1, c1 = session.run(None, {"inputs": inputs[:, :10], "hidden": zeros, "cell": zeros})
    second, h2, c2 = session.run(None, {"inputs": inputs[:, 10:], "hidden": h1, "cell": c1})
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-5)
    np.testing.assert_allclose(h2, hidden, atol=1e-5)
    np.testing.assert_allclose(c2, cell, atol=1e-5)
    network = model.models_[0].model_
    with torch.no_grad():
        outputs, _ = network.unroll(torch.from_numpy(inputs))
        mu, sigma, df = network.loss.parameters(outputs)
    np.testing.assert_allclose(whole[..., 0], mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(whole[..., 1], sigma.numpy(), atol=1e-5)
    np.testing.assert_allclose(whole[..., 2], df.numpy(), atol=1e-5)
    assert sidecar["model"]["parameter_names"] == ["mu", "sigma", "df"]


def test_sidecar_says_how_to_use_each_model(exported) -> None:
    _, nhits = exported("nhits")
    sidecar = json.loads(sidecar_path(nhits.path).read_text())
    assert sidecar["format"] == "zen.onnx" and sidecar["format_version"] == 1
    assert sidecar["onnx_file"] == nhits.path.name
    assert sidecar["family"] == "nhits" and sidecar["opset"] == 18
    assert sidecar["model"]["h"] == H and sidecar["model"]["input_size"] == INPUT_SIZE
    assert sidecar["inputs"][0]["shape"] == ["batch", INPUT_SIZE]
    assert sidecar["outputs"][0]["shape"] == ["batch", H, 1]
    assert "scaler_type" in sidecar["normalization"]["inside_graph"]
    assert sidecar["parity"]["passed"] and len(sidecar["parity"]["checks"]) == 4

    model, classifier = exported("tabular-classification")
    sidecar = read_sidecar(classifier.path)
    assert sidecar["model"]["classes"] == ["no", "yes"]
    assert sidecar["outputs"][0]["name"] == "logits"
    assert sidecar["preprocessing"] == model.preprocessor_.state()

    _, deepar = exported("deepar")
    assert read_sidecar(deepar.path)["normalization"]["scaler_type"] == "identity"


def test_tabular_export_reproduces_predict_on_raw_rows(exported) -> None:
    """Raw rows -> TablePreprocessor from the sidecar -> ONNX gives model.predict's answer."""
    from zen.tabular import TablePreprocessor

    model, report = exported("tabular-regression")
    session, sidecar = load_onnx_session(report.path)
    rows = table(regression=True).head(17)
    features = TablePreprocessor.from_state(sidecar["preprocessing"]).transform(rows)
    got = session.run(None, {"features": features})[0]
    np.testing.assert_allclose(got, model.predict(rows), rtol=1e-4, atol=1e-4)


def test_forecaster_with_several_networks_needs_model_name(exported, tmp_path: Path) -> None:
    forecaster, report = exported("nbeats")
    assert report.family == "nbeats" and report.model_class == "NBEATS"
    with pytest.raises(ConfigError, match=r"model_name: .*\['NBEATS', 'NHITS'\]"):
        export_onnx(forecaster, tmp_path / "f.onnx")
    with pytest.raises(ConfigError, match="no neural model 'TCN'"):
        export_onnx(forecaster, tmp_path / "f.onnx", model_name="TCN")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (torch.nn.Linear(3, 2), "cannot export a torch.nn.modules.linear.Linear"),
        (GIN(5, 8, 2, 3, readout="mean"), "readout='mean'"),
        (NHITS(H, INPUT_SIZE), "not fitted"),
    ],
)
def test_unsupported_models_get_a_clear_error(tmp_path: Path, model: Any, message: str) -> None:
    with pytest.raises(ZenError, match=message):
        export_onnx(model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_rejected_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ending in \.onnx"):
        export_onnx(MLP([2, 2]), tmp_path / "m.bin")
    with pytest.raises(ConfigError, match="opset"):
        export_onnx(MLP([2, 2]), tmp_path / "m.onnx", opset=13)
    with pytest.raises(ConfigError, match="batch_sizes"):
        export_onnx(MLP([2, 2]), tmp_path / "m.onnx", batch_sizes=[0])


def test_parity_failure_raises_and_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous export")
    with pytest.raises(ParityError, match="disagrees with PyTorch") as caught:
        # fp32 round-off (~1e-7) exceeds an impossible tolerance: a real mismatch path.
        export_onnx(MLP([6, 64, 3]), path, tolerance=1e-15)
    assert not caught.value.report.parity_passed
    assert path.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_export_restores_the_model_state(exported) -> None:
    """Training mode comes back, and the cached GCN keeps its cache but exported the graph
    given at run time, not the cached one."""
    model, report = exported("gcn")
    assert model.training and all(conv.cached for conv in model.convs)
    assert all(conv._cache is not None and int(conv._cache[1][0].max()) < 12
               for conv in model.convs)  # fmt: skip
    uncached = GCN(5, 16, 2, 3)
    uncached.load_state_dict(model.state_dict())
    feed = random_feed("gcn", 30, seed=3)
    with torch.no_grad():
        wanted = uncached.eval()(torch.from_numpy(feed["x"]), torch.from_numpy(feed["edge_index"]))
    session, _ = load_onnx_session(report.path)
    np.testing.assert_allclose(session.run(None, feed)[0], wanted.numpy(), atol=1e-5)


def test_load_onnx_session_refuses_a_model_that_does_not_match_its_sidecar(exported) -> None:
    import onnx

    _, report = exported("mlp")
    changed = onnx.load(str(report.path))
    changed.metadata_props.add(key="edited", value="after export")
    copy = report.path.with_name("changed.onnx")
    onnx.save_model(changed, str(copy))
    sidecar_path(copy).write_text(report.sidecar_path.read_text())
    with pytest.raises(DataError, match="checksum"):
        load_onnx_session(copy)
    session, _ = load_onnx_session(copy, verify=False)  # the caller can opt out
    assert session.get_inputs()[0].name == "x"


def test_missing_onnx_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'zen-neural\[onnx\]'"):
        export_onnx(MLP([2, 2]), tmp_path / "m.onnx")


def test_importing_zen_compute_does_not_import_onnx() -> None:
    code = (
        "import sys, zen, zen.compute as c; assert 'onnx' not in sys.modules;"
        " assert callable(c.export_onnx) and callable(c.quantize_int8); print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize(
    ("got", "problem"),
    [
        ([np.ones((2, 3), np.float32)], ""),
        ([np.full((2, 3), np.nan, np.float32)], ""),
        ([np.ones((1, 3), np.float32)], "shape (1, 3)"),
        ([np.ones((2, 3), np.float32)] * 2, "2 outputs"),
    ],
)
def test_parity_check_fails_on_wrong_values_shapes_and_outputs(got, problem: str) -> None:
    from zen.export.onnx import _compare

    expected = [np.ones((2, 3), np.float32) * 1.5]
    check = _compare({"batch": 2}, got, expected, tolerance=1e-4)
    assert not check.passed
    assert problem in check.problem
    good = _compare({"batch": 2}, [expected[0] + 1e-6], expected, tolerance=1e-4)
    assert good.passed and good.max_abs_diff == pytest.approx(1e-6, rel=0.1)
