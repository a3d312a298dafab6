"""FANN interoperability: .data files, .net files, Nguyen-Widrow and RPROP checked against FANN.

Every comparison runs against the reference files that libfann made (``fann_reference/``, by
``tools/make_fann_reference.py``), so it runs everywhere, and again against libfann itself where
Debian's ``python3-fann2`` is installed (through ``tools/fann_driver.py`` in a
``/usr/bin/python3`` subprocess; those runs skip elsewhere). The cases: ``fann_cases.py``.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fann_cases import (
    FANN_NETS,
    REFERENCE_DIR,
    REFERENCE_FILE,
    TRAINING,
    UNSUPPORTED_NETS,
    WIDE_ID,
    WIDE_INPUTS,
    ZEN_NETS,
    FannNet,
    ZenNet,
    batch_of_inputs,
    create_requests,
    fann_unavailable,
    run_fann,
    training_data,
    training_request,
    wide_net,
    zen_net,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from zen import ConfigError, DataError
from zen.neural import MLP, Trainer, activations
from zen.neural.fann import load_fann_net, read_fann_data, save_fann_net, write_fann_data
from zen.neural.initializers import (
    _fann_nguyen_widrow,
    init_weights,
    initialize,
    nguyen_widrow_scale,
)

# ---------------------------------------------------------------------------- .data files

float32_values = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def training_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    pairs = draw(st.integers(1, 6))
    X = draw(arrays(np.float32, (pairs, draw(st.integers(1, 5))), elements=float32_values))
    y = draw(arrays(np.float32, (pairs, draw(st.integers(1, 3))), elements=float32_values))
    return X, y


@settings(max_examples=60, deadline=None)
@given(training_sets())
def test_write_then_read_fann_data_gives_the_same_float32_values(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = data
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "train.data"
        write_fann_data(path, X, y)
        X_read, y_read = read_fann_data(path)
    assert X_read.dtype == np.float32 and y_read.dtype == np.float32
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)


def test_write_fann_data_writes_fann_layout_and_accepts_1d_targets(tmp_path: Path) -> None:
    path = tmp_path / "xor.data"
    write_fann_data(path, np.array([[0, 1], [1, 1]]), np.array([1, 0]))
    assert path.read_text().split("\n") == ["2 2 1", "0 1", "1", "1 1", "0", ""]


@settings(max_examples=40, deadline=None)
@given(training_sets(), st.data())
def test_read_fann_data_ignores_how_values_are_spread_over_lines(
    data: tuple[np.ndarray, np.ndarray], draw: st.DataObject
) -> None:
    # FANN reads the numbers with fscanf, so any whitespace may separate any two of them.
    X, y = data
    tokens = [f"{len(X)} {X.shape[1]} {y.shape[1]}"]
    for row_in, row_out in zip(X, y, strict=True):
        tokens += [repr(float(value)) for value in (*row_in, *row_out)]
    separators = st.sampled_from([" ", "\n", "\t", "\n\n", "  \r\n "])
    text = "".join(token + draw.draw(separators) for token in tokens)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "spread.data"
        path.write_text(text, encoding="utf-8")
        X_read, y_read = read_fann_data(path)
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)


def test_read_fann_data_accepts_values_spread_over_lines_arbitrarily(tmp_path: Path) -> None:
    path = tmp_path / "spread.data"
    path.write_text("2\n3 1   -0.5\n0.25\n\n1e-3 7\t\n 8 9\n1.5e2 -4", encoding="utf-8")
    X, y = read_fann_data(path)
    np.testing.assert_array_equal(X, np.float32([[-0.5, 0.25, 1e-3], [8, 9, 150]]))
    np.testing.assert_array_equal(y, np.float32([[7], [-4]]))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "expected a header"),
        ("two 3 1\n1 2 3 4\n", "header must be three integers"),
        ("0 3 1\n", "header values must be positive"),
        ("2 2 1\n1 2 3\n4 5\n", r"promises 2 pairs .* \(6 numbers\) but the file has 5"),
        ("1 2 1\n0.5 abc\n1\n", "non-numeric value"),
        ("1 1 1\nnan 1\n", "NaN or infinite"),
    ],
    ids=["missing", "empty", "bad-header", "zero-pairs", "wrong-count", "non-numeric", "nan"],
)
def test_read_fann_data_rejects_bad_files_with_a_data_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "bad.data"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as error:
        read_fann_data(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(("x_shape", "y_shape"), [((3, 0), (3,)), ((3, 2), (3, 0))])
def test_write_fann_data_rejects_arrays_without_columns(
    tmp_path: Path, x_shape: tuple[int, ...], y_shape: tuple[int, ...]
) -> None:
    with pytest.raises(DataError, match="at least one column"):
        write_fann_data(tmp_path / "empty.data", np.ones(x_shape), np.ones(y_shape))
    assert os.listdir(tmp_path) == []


def test_write_fann_data_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_fann_data(tmp_path / "train.data", np.ones((3, 2)), np.zeros(3))
    write_fann_data(tmp_path / "train.data", np.ones((4, 2)), np.zeros(4))  # replaces
    assert os.listdir(tmp_path) == ["train.data"]
    assert read_fann_data(tmp_path / "train.data")[0].shape == (4, 2)


def test_write_fann_data_refuses_nan_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "train.data"
    write_fann_data(path, np.ones((2, 2)), np.zeros(2))
    original = path.read_bytes()
    with pytest.raises(DataError, match="NaN or infinite"):
        write_fann_data(path, np.array([[1.0, np.nan]]), np.zeros(1))
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["train.data"]


def test_write_fann_data_failing_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    # A file size limit makes the operating system refuse the write part-way, as a full disk
    # would; the temporary file must go and the old file must stay as it was.
    resource = pytest.importorskip("resource", reason="file size limits need a POSIX system")
    path = tmp_path / "train.data"
    write_fann_data(path, np.ones((2, 2)), np.zeros(2))
    original = path.read_bytes()
    X = np.random.default_rng(0).normal(size=(2000, 10))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16_384, hard))
    try:
        with pytest.raises(OSError):
            write_fann_data(path, X, np.zeros(len(X)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["train.data"]


# ---------------------------------------------------------------------------- FANN itself
# Every comparison with FANN runs against the reference files libfann made
# (fann_reference/, by tools/make_fann_reference.py), on every machine, and against libfann
# itself where Debian's python3-fann2 is installed.

REFERENCE = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))


@functools.cache
def libfann_unavailable() -> str | None:
    return fann_unavailable()


@pytest.fixture(scope="module", params=["reference", "libfann"])
def source(request: pytest.FixtureRequest) -> str:
    """Where FANN's numbers come from: the committed reference files, or libfann now."""
    if request.param == "libfann" and (reason := libfann_unavailable()):
        pytest.skip(reason)
    return request.param


Made = dict[str, tuple[Path, np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def fann_made(source: str, tmp_path_factory: pytest.TempPathFactory) -> Made:
    """Every network of FANN_NETS and UNSUPPORTED_NETS as FANN built, saved and ran it.

    Maps the case id to (.net path, inputs, FANN's outputs).
    """
    if source == "reference":
        return {
            name: (
                REFERENCE_DIR / entry["path"],
                np.array(entry["inputs"], dtype=np.float32),
                np.array(entry["outputs"]),
            )
            for name, entry in REFERENCE["made"].items()
        }
    cases = create_requests(tmp_path_factory.mktemp("fann_made"))
    outputs = run_fann({"create": cases})
    return {
        case["id"]: (
            Path(case["path"]),
            np.array(case["inputs"], dtype=np.float32),
            np.array(outputs[case["id"]]),
        )
        for case in cases
    }


def test_the_reference_covers_every_case() -> None:
    assert set(REFERENCE["made"]) == {net.id for net in FANN_NETS + UNSUPPORTED_NETS}
    assert set(REFERENCE["saved"]) == {net.id for net in ZEN_NETS} | {WIDE_ID}
    assert REFERENCE["fann"].startswith("libfann")


@pytest.mark.parametrize("case", FANN_NETS, ids=[net.id for net in FANN_NETS])
def test_load_fann_net_computes_what_fann_run_computes(case: FannNet, fann_made: Made) -> None:
    path, inputs, fann_outputs = fann_made[case.id]
    net = load_fann_net(path)
    assert net.layer_sizes == case.layers
    hidden_layers = len(case.layers) - 2
    assert [activations.name_of(module) for module in net.activations] == (
        [case.hidden] * hidden_layers + [case.output]
    )
    assert [module.steepness for module in net.activations] == pytest.approx(
        [case.hidden_steepness] * hidden_layers + [case.output_steepness]
    )
    with torch.no_grad():
        outputs = net(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(outputs, fann_outputs, rtol=1e-5, atol=1e-5)


def test_load_fann_net_keeps_missing_sparse_connections_at_zero(fann_made: Made) -> None:
    net = load_fann_net(fann_made["sparse"][0])
    weights = torch.cat([linear.weight.flatten() for linear in net.linears])
    # connection_rate 0.5: FANN keeps about half of the 4*6 + 6*5 + 5*2 = 64 weights.
    assert 0 < int((weights == 0).sum()) < len(weights)


def test_load_fann_net_rejects_fixed_point_networks(fann_made: Made) -> None:
    with pytest.raises(ConfigError, match="fixed-point"):
        load_fann_net(fann_made["fixed"][0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "empty file"),
        ("layer_sizes=3 2\nneurons=(0, 0, 0)\n", "not a FANN network file"),
        ("FANN_FLO_2.1\nnum_layers=2\nnetwork_type=0\n", "incomplete FANN network"),
    ],
    ids=["missing", "empty", "not-fann", "incomplete"],
)
def test_load_fann_net_rejects_files_that_are_not_fann_networks(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "model.net"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_fann_net(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("network_type=0", "network_type=zero", "network_type must be integers"),
        ("layer_sizes=3 2", "layer_sizes=3 two", "layer_sizes must be integers"),
        ("layer_sizes=3 2", "layer_sizes=3", "at least two non-empty layers"),
        ("=(0, 0, 0.0", "=(0, 0, x", "malformed neuron entry"),
        ("weight)=(", "weight)=(0, 1, 2) (", "malformed connection entry"),
    ],
    ids=["network-type", "layer-sizes", "one-layer", "neuron", "connection"],
)
def test_load_fann_net_reports_malformed_fields_as_data_errors(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "model.net"
    save_fann_net(MLP([2, 1]), path)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_fann_net(path)


Loaded = dict[str, tuple[MLP, np.ndarray, np.ndarray]]


def zen_saved_nets() -> dict[str, tuple[MLP, np.ndarray]]:
    """Every network zen saves for FANN, with the inputs FANN runs through it."""
    nets = {
        case.id: (zen_net(case, seed), batch_of_inputs(case.layers[0], seed))
        for seed, case in enumerate(ZEN_NETS)
    }
    return {**nets, WIDE_ID: (wide_net(), WIDE_INPUTS)}


@pytest.fixture(scope="module")
def fann_loaded(source: str, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """Every MLP of ZEN_NETS (and the wide one) saved by zen, then loaded and run by FANN.

    Maps the case id to (MLP, inputs, FANN's outputs).
    """
    nets = zen_saved_nets()
    if source == "reference":
        saved = REFERENCE["saved"]
        return {key: (net, inputs, np.array(saved[key]["outputs"])) for key, (net, inputs) in
                nets.items()}  # fmt: skip
    directory = tmp_path_factory.mktemp("fann_loaded")
    requests = []
    for key, (net, inputs) in nets.items():
        path = directory / f"{key}.net"
        save_fann_net(net, path)
        requests.append({"id": key, "path": str(path), "inputs": inputs.tolist()})
    outputs = run_fann({"load": requests})
    return {key: (net, inputs, np.array(outputs[key])) for key, (net, inputs) in nets.items()}


def test_save_fann_net_still_writes_the_files_fann_was_shown(tmp_path: Path) -> None:
    # FANN's outputs in the reference hold for these exact files; when the writer changes on
    # purpose, rerun tools/make_fann_reference.py on a machine with libfann.
    for key, (net, _) in zen_saved_nets().items():
        save_fann_net(net, tmp_path / f"{key}.net")
        committed = REFERENCE_DIR / REFERENCE["saved"][key]["path"]
        assert (tmp_path / f"{key}.net").read_bytes() == committed.read_bytes(), key


@pytest.mark.parametrize("case", ZEN_NETS, ids=[net.id for net in ZEN_NETS])
def test_fann_runs_a_saved_mlp_like_the_mlp(case: ZenNet, fann_loaded: Loaded) -> None:
    net, inputs, fann_outputs = fann_loaded[case.id]
    with torch.no_grad():
        outputs = net(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(fann_outputs, outputs, rtol=1e-5, atol=1e-5)


def test_loaded_net_clamps_sums_beyond_fanns_limit_like_fann(
    fann_loaded: Loaded, tmp_path: Path
) -> None:
    net, inputs, fann_outputs = fann_loaded[WIDE_ID]  # sums 50 and 200; FANN clips 200 to 150
    save_fann_net(net, tmp_path / "wide.net")
    loaded = load_fann_net(tmp_path / "wide.net")
    with torch.no_grad():
        outputs = loaded(torch.from_numpy(inputs)).numpy()
        unclamped = net(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(fann_outputs, outputs, rtol=1e-6)
    assert unclamped[1, 0] == pytest.approx(200.0)  # zen's own nets do not clamp


def test_fann_reads_data_written_by_write_fann_data(source: str, tmp_path: Path) -> None:
    X, y = training_data()
    path = tmp_path / "train.data"
    write_fann_data(path, X, y)
    if source == "reference":
        assert path.read_bytes() == (REFERENCE_DIR / REFERENCE["data"]["path"]).read_bytes()
        fann_inputs, fann_outputs = REFERENCE["data"]["inputs"], REFERENCE["data"]["outputs"]
    else:
        fann_inputs, fann_outputs = run_fann({"data": [str(path)]})[str(path)]
    np.testing.assert_array_equal(np.float32(fann_inputs), X)
    np.testing.assert_array_equal(np.float32(fann_outputs), y)


def test_save_fann_net_refuses_activations_fann_does_not_have(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'relu', which FANN does not have"):
        save_fann_net(MLP([3, 4, 1], activation="relu"), tmp_path / "relu.net")
    assert not (tmp_path / "relu.net").exists()


# ---------------------------------------------------------------------------- Nguyen-Widrow, RPROP
# FANN's fann_init_weights on a training file, then full-batch iRPROP- (TRAINING in fann_cases).


@pytest.fixture(scope="module")
def fann_trained(source: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """FANN's run of TRAINING: initial and trained .net paths, the rand() values its
    Nguyen-Widrow drew, the MSE of each epoch and after training."""
    if source == "reference":
        entry = REFERENCE[TRAINING.id]
        return {**entry, "initial_path": REFERENCE_DIR / entry["initial_path"],
                "trained_path": REFERENCE_DIR / entry["trained_path"]}  # fmt: skip
    directory = tmp_path_factory.mktemp("fann_trained")
    write_fann_data(directory / "train.data", *training_data())
    request = training_request(directory, directory / "train.data")
    result = run_fann({"init_train": [request]})[TRAINING.id]
    return {**result, "initial_path": Path(request["initial_path"]),
            "trained_path": Path(request["final_path"])}  # fmt: skip


RAND_RANGE = 2.0**31  # glibc: RAND_MAX + 1; FANN draws fann_rand(a, b) = a + (b - a) * rand() / it


def replay(values: list[int]) -> Callable[[int, int], torch.Tensor]:
    """Draws in [0, 1) that replay FANN's rand() values, in the order FANN used them."""
    stream = iter(values)

    def uniform(rows: int, columns: int) -> torch.Tensor:
        drawn = [next(stream) / RAND_RANGE for _ in range(rows * columns)]
        return torch.tensor(drawn, dtype=torch.float64).reshape(rows, columns)

    return uniform


def test_nguyen_widrow_gives_fann_init_weights_own_weights(fann_trained: dict[str, Any]) -> None:
    X, _ = training_data()
    fann_net = load_fann_net(fann_trained["initial_path"])
    net = MLP(TRAINING.layers)
    scale = nguyen_widrow_scale(TRAINING.layers, float(X.min()), float(X.max()))
    _fann_nguyen_widrow(net.linear_layers, scale, replay(fann_trained["rand"]))
    for mine, fanns in zip(net.linear_layers, fann_net.linear_layers, strict=True):
        torch.testing.assert_close(mine.weight, fanns.weight, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(mine.bias, fanns.bias, rtol=1e-6, atol=1e-7)


def test_init_weights_follows_fanns_rule(fann_trained: dict[str, Any]) -> None:
    X, _ = training_data()
    fann_net = load_fann_net(fann_trained["initial_path"])
    net = MLP(TRAINING.layers)
    before = torch.get_rng_state()
    init_weights(net, X, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), before)  # its own generator: global state kept
    scale = nguyen_widrow_scale(TRAINING.layers, float(X.min()), float(X.max()))
    for mine, fanns in zip(net.linear_layers, fann_net.linear_layers, strict=True):
        for weights in (mine.weight.detach(), fanns.weight.detach()):
            assert float(weights.min()) >= 0.0 and float(weights.max()) < scale
        for biases in (mine.bias.detach(), fanns.bias.detach()):
            assert float(biases.min()) >= -scale and float(biases.max()) < scale
    again = init_weights(MLP(TRAINING.layers), X, generator=torch.Generator().manual_seed(0))
    for mine, repeat in zip(net.parameters(), again.parameters(), strict=True):
        assert torch.equal(mine, repeat)


def test_nguyen_widrow_scale_is_fanns_formula() -> None:
    # (0.7 * H)^(1/I) / (max - min), H counting the hidden neurons of every hidden layer.
    assert nguyen_widrow_scale([3, 5, 4, 2], -2.0, 3.0) == pytest.approx((0.7 * 9) ** (1 / 3) / 5)
    assert nguyen_widrow_scale([2, 1], -1.0, 1.0) == 0.0  # no hidden layer, as in FANN
    with pytest.raises(DataError, match="needs inputs that vary"):
        nguyen_widrow_scale([2, 3, 1], 0.5, 0.5)


def test_mlp_init_nguyen_widrow_assumes_inputs_in_minus_one_to_one() -> None:
    net = MLP([4, 6, 2], init="nguyen_widrow")
    scale = nguyen_widrow_scale([4, 6, 2], -1.0, 1.0)
    weights = torch.cat([linear.weight.detach().flatten() for linear in net.linears])
    assert float(weights.min()) >= 0.0 and float(weights.max()) < scale
    with pytest.raises(ConfigError, match="whole network"):
        initialize(torch.nn.Linear(3, 2), "nguyen_widrow")


def fann_irprop_minus(parameters: list[torch.Tensor]) -> Callable[[], None]:
    """FANN 2.2's fann_update_weights_irpropm, one full-batch step per call, with its defaults.

    It differs from torch.optim.Rprop in two ways: the step grows before the first update
    (1.2 x delta_zero), and after a sign change the weight still moves by the shrunken step
    (FANN zeroes the slope, then moves every weight whose slope is not negative upwards).
    """
    steps = [torch.full_like(parameter, 0.1) for parameter in parameters]  # delta_zero
    previous = [torch.zeros_like(parameter) for parameter in parameters]

    def step() -> None:
        with torch.no_grad():
            for parameter, last_step, last_slope in zip(parameters, steps, previous, strict=True):
                slope = -parameter.grad  # FANN's slope: error times input, minus the gradient
                base = last_step.clamp_min(0.0001)
                same = last_slope * slope >= 0
                size = torch.where(same, (base * 1.2).clamp_max(50.0), base * 0.5)
                slope = torch.where(same, slope, torch.zeros_like(slope))
                parameter.add_(torch.where(slope < 0, -size, size))
                last_step.copy_(size)
                last_slope.copy_(slope)

    return step


def test_training_from_fanns_weights_follows_fanns_epochs(fann_trained: dict[str, Any]) -> None:
    X, Y = map(torch.from_numpy, training_data())
    fann_mse = fann_trained["epoch_mse"]
    # zen's gradient of the same network is FANN's slope: replaying FANN's own update rule on
    # it gives FANN's MSE epoch after epoch, and its trained weights.
    net = load_fann_net(fann_trained["initial_path"])
    step, mse = fann_irprop_minus(list(net.parameters())), []
    for _ in range(TRAINING.epochs):
        net.zero_grad()
        loss = torch.nn.functional.mse_loss(net(X), Y)
        loss.backward()
        mse.append(float(loss.detach()))
        step()
    np.testing.assert_allclose(mse, fann_mse, rtol=1e-4)
    with torch.no_grad():
        final = float(torch.nn.functional.mse_loss(net(X), Y))
    assert final == pytest.approx(fann_trained["final_mse"], rel=1e-4)
    trained = load_fann_net(fann_trained["trained_path"])
    for mine, fanns in zip(net.parameters(), trained.parameters(), strict=True):
        torch.testing.assert_close(mine, fanns, rtol=1e-4, atol=1e-5)

    # The Trainer's rprop is torch's Rprop: the same first two epochs when its first step is
    # FANN's (lr = 1.2 x delta_zero), then its own way after the first sign changes.
    net = load_fann_net(fann_trained["initial_path"])
    fann_defaults = {"etas": (0.5, 1.2), "step_sizes": (0.0, 50.0)}
    result = Trainer(
        optimizer="rprop", lr=0.12, optimizer_options=fann_defaults, loss="mse",
        batch_size=len(X), shuffle=False, max_epochs=TRAINING.epochs,
    ).fit(net, X, Y)  # fmt: skip
    np.testing.assert_allclose(result.history["train_loss"][:2], fann_mse[:2], rtol=1e-5)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
