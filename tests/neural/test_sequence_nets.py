"""RecurrentNet and TransformerNet: shapes, padding, packing, saving, ONNX export and learning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from zen import ConfigError, DataError
from zen.neural import RecurrentNet, Trainer, TransformerNet
from zen.neural.nets import recurrent
from zen.neural.nets.sequence_mask import masked_mean, padding_mask

NAN = float("nan")

RECURRENT_CONFIGS = [
    {"cell": cell, "bidirectional": bidirectional, "pooling": pooling, "layers": 2}
    for cell in ("rnn", "gru", "lstm")
    for bidirectional in (False, True)
    for pooling in ("last", "mean")
]
TRANSFORMER_CONFIGS = [
    {"patch_size": patch_size, "positional": positional, "pooling": pooling, "max_length": 40}
    for patch_size in (None, 4)
    for positional in ("sinusoidal", "learned")
    for pooling in ("cls", "mean")
]


def recurrent_net(in_channels: int = 3, **options: object) -> RecurrentNet:
    return RecurrentNet(in_channels, 2, hidden_size=6, **options)  # type: ignore[arg-type]


def transformer_net(in_channels: int = 3, **options: object) -> TransformerNet:
    settings: dict[str, object] = {"d_model": 16, "heads": 4, "layers": 2} | options
    return TransformerNet(in_channels, 2, **settings)  # type: ignore[arg-type]


def ragged(lengths: list[int], channels: int = 3, extra: int = 0, seed: int = 0) -> torch.Tensor:
    """Normal sequences of the given lengths in one NaN-padded ``(batch, channels, length)``."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), channels, max(lengths) + extra, generator=generator)
    for row, length in enumerate(lengths):
        x[row, :, length:] = NAN
    return x


def each_alone(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The outputs of every sequence of ``x`` run on its own, without padding."""
    lengths = (~torch.isnan(x).any(1)).sum(1).tolist()
    return torch.cat([net(x[row : row + 1, :, :length]) for row, length in enumerate(lengths)])


# ---------------------------------------------------------------------------- the mask helpers
def test_padding_mask_fills_nan_and_marks_real_steps() -> None:
    x = ragged([3, 1])
    filled, mask = padding_mask(x)
    assert not torch.isnan(filled).any()
    assert mask.tolist() == [[True, True, True], [True, False, False]]
    torch.testing.assert_close(filled[0], x[0])


def test_masked_mean_averages_real_steps_and_ignores_nan_padding() -> None:
    h = torch.tensor([[[1.0, 2.0, NAN], [4.0, 8.0, NAN]], [[5.0, NAN, NAN], [1.0, NAN, NAN]]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    torch.testing.assert_close(masked_mean(h, mask), torch.tensor([[1.5, 6.0], [5.0, 1.0]]))


# ---------------------------------------------------------------------------- shapes and grads
@pytest.mark.parametrize("options", RECURRENT_CONFIGS[:4] + RECURRENT_CONFIGS[-2:])
def test_recurrent_net_maps_sequences_to_outputs(options: dict) -> None:
    net = recurrent_net(**options)
    assert net(ragged([7, 4, 1, 7])).shape == (4, 2)
    assert net.encode(ragged([5, 2])).shape == (2, 6 * (2 if options["bidirectional"] else 1))


@pytest.mark.parametrize("options", TRANSFORMER_CONFIGS)
def test_transformer_net_maps_sequences_to_outputs(options: dict) -> None:
    net = transformer_net(**options)
    assert net(ragged([9, 4, 1, 9])).shape == (4, 2)
    assert net(ragged([1])).shape == (1, 2)


@pytest.mark.parametrize(
    "make",
    [
        lambda: recurrent_net(cell="lstm", bidirectional=True, layers=2, dropout=0.2),
        lambda: recurrent_net(cell="gru", pooling="mean"),
        lambda: transformer_net(patch_size=3, positional="learned", max_length=20),
        lambda: transformer_net(pooling="mean", dropout=0.2),
    ],
)
def test_gradients_reach_every_parameter(make: Callable[[], nn.Module]) -> None:
    torch.manual_seed(0)
    net = make().train()
    x = ragged([9, 5, 2, 9])
    loss = nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 1, 0]))
    loss.backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


# ---------------------------------------------------------------------------- padding
@pytest.mark.parametrize("options", RECURRENT_CONFIGS)
def test_recurrent_padding_never_changes_outputs(options: dict) -> None:
    torch.manual_seed(0)
    net = recurrent_net(**options).eval()
    x = ragged([8, 3, 1, 6], extra=4)  # every row padded, even the longest
    with torch.no_grad():
        torch.testing.assert_close(net(x), each_alone(net, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", TRANSFORMER_CONFIGS)
def test_transformer_padding_never_changes_outputs(options: dict) -> None:
    torch.manual_seed(0)
    net = transformer_net(**options).eval()
    x = ragged([13, 3, 1, 8], extra=30)  # padded beyond max_length: masked positions
    with torch.no_grad():
        torch.testing.assert_close(net(x), each_alone(net, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_gathers_equal_pack_padded_sequence(cell: str, bidirectional: bool) -> None:
    """The gather form that export traces agrees with torch's packed sequences."""
    torch.manual_seed(0)
    net = recurrent_net(cell=cell, bidirectional=bidirectional, layers=2).eval()
    x = ragged([9, 4, 1, 7, 9])
    filled, mask = padding_mask(x)
    packed = pack_padded_sequence(
        filled.transpose(1, 2), mask.sum(1), batch_first=True, enforce_sorted=False
    )
    with torch.no_grad():
        _, state = net.rnn(packed)
        final = state[0] if cell == "lstm" else state  # h_n: (layers * directions, batch, hidden)
        reference = torch.cat(list(final[-net.directions :]), dim=-1)
        torch.testing.assert_close(net.encode(x, packed=False), reference, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(net.encode(x, packed=True), reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_recurrent_export_loop_computes_torch_cells(cell: str) -> None:
    """The while loop ONNX export traces runs each cell as torch does (checked in eager mode)."""
    torch.manual_seed(0)
    layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell](3, 5, batch_first=True)
    steps = torch.randn(4, 6, 3)
    weights = [layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0]
    with torch.no_grad():
        expected = layer(steps)[0]
        got = recurrent._while_loop_layer(cell, steps, *weights)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- saving
@pytest.mark.parametrize(
    "make",
    [
        lambda: recurrent_net(cell="lstm", bidirectional=True, layers=2, pooling="mean"),
        lambda: transformer_net(patch_size=2, positional="learned", max_length=16, pooling="mean"),
    ],
)
def test_trainer_save_then_load_gives_identical_outputs(
    make: Callable[[], nn.Module], tmp_path: Path
) -> None:
    torch.manual_seed(0)
    x = ragged([12, 5, 9, 1, 12, 7, 3, 8])
    y = torch.tensor([0, 1, 0, 1, 1, 0, 1, 0])
    trainer = Trainer(max_epochs=2, loss="cross_entropy", batch_size=4, seed=0)
    trainer.fit(make(), x, y)
    trainer.save(tmp_path / "checkpoint")
    restored = Trainer.load(tmp_path / "checkpoint")
    assert type(restored.model) is type(trainer.model)
    assert restored.model.config() == trainer.model.config()  # type: ignore[union-attr, operator]
    np.testing.assert_array_equal(restored.predict(None, x), trainer.predict(None, x))


# ---------------------------------------------------------------------------- ONNX
def check_onnx_export(net: nn.Module, path: Path) -> None:
    """Export with the parity check, then run the file at a length and padding not checked."""
    from zen.export import export_onnx, load_onnx_session

    report = export_onnx(net, path)
    assert report.parity_passed, report.parity
    lengths = {check.sizes["length"] for check in report.parity}
    batches = {check.sizes["batch"] for check in report.parity}
    assert len(lengths) >= 3 and len(batches) >= 3
    session, sidecar = load_onnx_session(path)
    assert sidecar["inputs"][0]["shape"] == ["batch", 3, "length"]
    x = ragged([23, 5, 1, 17, 23], seed=3)
    got = session.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        expected = net.eval()(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


SLOW = pytest.mark.slow  # each export traces a while loop per layer and direction (~20 s)


@pytest.mark.parametrize(
    "cell", [pytest.param(cell, marks=SLOW) for cell in ("rnn", "gru", "lstm")]
)
def test_recurrent_onnx_export_matches_eager_on_padded_batches(cell: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    check_onnx_export(recurrent_net(cell=cell, bidirectional=True, layers=2), tmp_path / "rnn.onnx")


@pytest.mark.parametrize(
    "options",
    [
        {"patch_size": 4, "positional": "learned", "max_length": 30, "pooling": "mean"},
        pytest.param({"positional": "sinusoidal", "pooling": "cls"}, marks=SLOW),
    ],
)
def test_transformer_onnx_export_matches_eager_on_padded_batches(
    options: dict, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    check_onnx_export(transformer_net(**options), tmp_path / "transformer.onnx")


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RecurrentNet(0, 2), "in_channels"),
        (lambda: RecurrentNet(3, 2, cell="elman"), "cell"),
        (lambda: RecurrentNet(3, 2, hidden_size=True), "hidden_size"),
        (lambda: RecurrentNet(3, 2, dropout=1.0), "dropout"),
        (lambda: RecurrentNet(3, 2, pooling="max"), "pooling"),
        (lambda: RecurrentNet(3, 2, bidirectional="yes"), "bidirectional"),
        (lambda: TransformerNet(3, 2, d_model=30, heads=4), "d_model: expected a multiple"),
        (lambda: TransformerNet(3, 2, positional="learned"), "max_length"),
        (lambda: TransformerNet(3, 2, positional="rotary"), "positional"),
        (lambda: TransformerNet(3, 2, patch_size=0), "patch_size"),
        (lambda: TransformerNet(3, 2, pooling="max"), "pooling"),
        (lambda: TransformerNet(3, 2, moe_experts=1), "moe_experts: expected None or at least 2"),
    ],
)
def test_bad_settings_raise_config_error(make: Callable[[], nn.Module], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


@pytest.mark.parametrize("make", [recurrent_net, transformer_net])
def test_bad_sequences_raise_data_error(make: Callable[[], nn.Module]) -> None:
    net = make()
    with pytest.raises(DataError, match=r"x: expected shape \(batch, 3, length\).*got \(2, 4, 5\)"):
        net(torch.zeros(2, 4, 5))
    with pytest.raises(DataError, match=r"got \(2, 3\)"):
        net(torch.zeros(2, 3))
    with pytest.raises(DataError, match="row 1 is all NaN"):
        net(ragged([4, 0]))
    inside = ragged([5, 5])
    inside[0, :, 2] = NAN
    with pytest.raises(DataError, match="row 0 has NaN at step 2 followed by real steps"):
        net(inside)


def test_transformer_refuses_sequences_longer_than_max_length() -> None:
    net = transformer_net(positional="learned", max_length=6)
    assert net(ragged([6, 2], extra=5)).shape == (2, 2)  # longer tensor, short sequences
    with pytest.raises(DataError, match="7 steps, more than max_length=6"):
        net(ragged([7, 2]))


# ---------------------------------------------------------------------------- configs, learning
@pytest.mark.parametrize(
    "net",
    [
        RecurrentNet(2, 3, cell="gru", hidden_size=5, layers=2, bidirectional=True),
        TransformerNet(2, 3, d_model=8, heads=2, patch_size=3, positional="learned", max_length=9),
    ],
)
def test_config_rebuilds_the_network(net: nn.Module) -> None:
    rebuilt = type(net).from_config(net.config())  # type: ignore[attr-defined]
    assert rebuilt.config() == net.config()  # type: ignore[operator]
    rebuilt.load_state_dict(net.state_dict())
    x = ragged([9, 4], channels=2)
    torch.testing.assert_close(rebuilt.eval()(x), net.eval()(x))
    assert type(net).__name__ in repr(net) and "in_channels=2" in repr(net)


def spike_task(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy 2-channel sequences of 5-14 steps; the class is the sign of one spike in them."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    x = torch.full((n, 2, 14), NAN)
    for row in range(n):
        length = int(torch.randint(5, 15, (1,), generator=generator))
        x[row, :, :length] = 0.3 * torch.randn(2, length, generator=generator)
        at = int(torch.randint(0, length, (1,), generator=generator))
        x[row, :, at] = torch.tensor([1.5, -1.5]) * (1.0 if labels[row] == 0 else -1.0)
    return x, labels


@pytest.mark.parametrize(
    "make",
    [
        lambda: RecurrentNet(2, 2, cell="gru", hidden_size=16),
        lambda: TransformerNet(2, 2, d_model=16, heads=2, layers=1, dropout=0.0, patch_size=3),
    ],
)
def test_a_tiny_network_learns_which_pattern_occurs(make: Callable[[], nn.Module]) -> None:
    torch.manual_seed(0)
    x, y = spike_task(128, seed=0)
    x_test, y_test = spike_task(200, seed=1)
    trainer = Trainer(max_epochs=12, loss="cross_entropy", lr=1e-2, batch_size=32, seed=0)
    trainer.fit(make(), x, y)
    accuracy = (trainer.predict(None, x_test).argmax(1) == y_test.numpy()).mean()
    assert accuracy >= 0.9


def test_transformer_blocks_can_hold_a_mixture_of_experts_whose_balance_loss_trains() -> None:
    from zen.neural.nets.moe import MixtureOfExperts

    torch.manual_seed(0)
    net = TransformerNet(2, 2, d_model=16, heads=2, layers=2, moe_experts=4)
    experts = [block.feed_forward for block in net.blocks]
    assert all(isinstance(layer, MixtureOfExperts) and layer.num_experts == 4 for layer in experts)
    x = torch.randn(6, 2, 9)
    x[::2, :, 5:] = float("nan")
    net.train()
    net(x)
    assert float(net.auxiliary_loss().detach()) > 0
    net.eval()
    alone = net(x[:1, :, :5])
    torch.testing.assert_close(net(x)[:1], alone)  # padding is neither attended nor routed
    assert float(net.auxiliary_loss()) == 0.0
    assert float(TransformerNet(2, 2, d_model=16, heads=2).auxiliary_loss()) == 0.0
    rebuilt = TransformerNet.from_config(net.config())
    assert rebuilt.moe_experts == 4
