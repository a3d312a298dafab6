"""ConvNet, ResNet and FCN: shapes, gradients, NaN padding, save/load, ONNX parity, errors,
and that each learns sine from square waves."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from zen import registry
from zen.errors import ConfigError, DataError
from zen.neural import FCN, ConvNet, ResNet, Trainer
from zen.neural.nets.conv_base import ConvClassifier
from zen.neural.nets.conv_layers import MaskedBatchNorm1d
from zen.neural.nets.sequence_mask import masked_max, masked_mean, nan_pad, padding_mask

Factory = Callable[[], ConvClassifier]

# Tiny networks, 2 input channels and 3 classes; even kernels on purpose ("same" padding).
SEQUENCE_NETS: dict[str, Factory] = {
    "convnet": lambda: ConvNet(2, 3, channels=(4, 6), kernel_sizes=(4, 3)),
    "convnet-layer-max": lambda: ConvNet(
        2, 3, channels=(4, 6), kernel_sizes=(5, 2), norm="layer", pooling="max"
    ),
    "convnet-no-norm": lambda: ConvNet(2, 3, channels=(5,), kernel_sizes=(3,), norm=None),
    "resnet": lambda: ResNet(2, 3, channels=(4, 6, 6)),
    "fcn": lambda: FCN(2, 3, channels=(4, 6, 4)),
}
IMAGE_NETS: dict[str, Factory] = {
    "convnet-2d": lambda: ConvNet(2, 3, dims=2, channels=(4, 6), kernel_sizes=(4, 3)),
    "resnet-2d": lambda: ResNet(2, 3, dims=2, channels=(4, 6, 8), image_size=(8, 8)),
    "resnet-2d-deeper": lambda: ResNet(2, 3, dims=2, channels=(4, 6), blocks_per_stage=2),
    "fcn-2d": lambda: FCN(2, 3, dims=2, channels=(4, 6, 4)),
}
ALL_NETS = {**SEQUENCE_NETS, **IMAGE_NETS}


def padded_batch(seed: int = 0, length: int = 20) -> tuple[torch.Tensor, list[int]]:
    """``(4, 2, length)`` sequences of lengths ``length``, 13, 7 and 1, NaN-padded."""
    generator = torch.Generator().manual_seed(seed)
    lengths = [length, 13, 7, 1]
    x = torch.randn(4, 2, length, generator=generator)
    return nan_pad(x, lengths), lengths


def example_input(net: ConvClassifier, batch: int = 4) -> torch.Tensor:
    if net.dims == 1:
        return padded_batch()[0][:batch]
    size = net.image_size or (8, 8)
    return torch.randn(batch, 2, *size, generator=torch.Generator().manual_seed(0))


def with_running_stats(net: ConvClassifier) -> ConvClassifier:
    """``net`` in eval mode after one training pass, so batch norms hold non-trivial stats."""
    net.train()
    with torch.no_grad():
        net(3.0 * example_input(net) + 1.0)
    return net.eval()


# ---------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name", sorted(SEQUENCE_NETS))
@pytest.mark.parametrize(("batch", "length"), [(1, 1), (3, 8), (5, 33)])
def test_sequence_nets_map_batch_channels_length_to_batch_classes(
    name: str, batch: int, length: int
) -> None:
    net = SEQUENCE_NETS[name]()
    assert net(torch.randn(batch, 2, length)).shape == (batch, 3)


@pytest.mark.parametrize("name", sorted(IMAGE_NETS))
def test_image_nets_map_images_to_batch_classes(name: str) -> None:
    net = IMAGE_NETS[name]()
    assert net(torch.randn(5, 2, 8, 8)).shape == (5, 3)
    if net.image_size is None:  # global pooling: any size
        assert net(torch.randn(2, 2, 3, 11)).shape == (2, 3)


def test_default_sizes_follow_the_papers() -> None:
    resnet = ResNet(1, 2)
    convs = [m for m in resnet.modules() if isinstance(m, nn.Conv1d) and m.kernel_size[0] > 1]
    assert [c.out_channels for c in convs] == [64] * 3 + [128] * 6
    assert [c.kernel_size[0] for c in convs] == [8, 5, 3] * 3
    fcn_convs = [m for m in FCN(1, 2).modules() if isinstance(m, nn.Conv1d)]
    assert [(c.out_channels, c.kernel_size[0]) for c in fcn_convs] == [(128, 8), (256, 5), (128, 3)]
    image = ResNet(1, 10, dims=2, image_size=(8, 8))
    assert image.channels == (16, 32, 64) and image.kernel_sizes == (3, 3)


def test_nan_padding_flag_lets_the_trainer_pass_nan_to_sequence_nets_only() -> None:
    assert ConvNet(1, 2).nan_padding and ResNet(1, 2).nan_padding and FCN(1, 2).nan_padding
    assert not ConvNet(1, 2, dims=2).nan_padding


# ---------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", sorted(ALL_NETS))
def test_gradient_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    net = ALL_NETS[name]().train()
    out = net(example_input(net))
    (out * torch.randn(out.shape)).sum().backward()
    for parameter_name, parameter in net.named_parameters():
        assert parameter.grad is not None, parameter_name
        assert torch.isfinite(parameter.grad).all(), parameter_name
        assert parameter.grad.abs().sum() > 0, parameter_name


# ---------------------------------------------------------------------------------- padding
@pytest.mark.parametrize("name", sorted(SEQUENCE_NETS))
def test_nan_padded_sequence_gives_the_output_of_the_sequence_alone(name: str) -> None:
    net = with_running_stats(SEQUENCE_NETS[name]())
    x, lengths = padded_batch(seed=1)
    with torch.no_grad():
        batched = net(x)
        longer = net(torch.cat([x, torch.full((4, 2, 9), float("nan"))], dim=-1))
        for row, length in enumerate(lengths):
            alone = net(x[row : row + 1, :, :length])
            torch.testing.assert_close(batched[row], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(longer, batched, atol=1e-5, rtol=1e-5)
    assert torch.isfinite(batched).all()


@pytest.mark.parametrize("name", ["convnet", "resnet", "fcn"])
def test_padding_changes_neither_training_outputs_nor_batch_norm_statistics(name: str) -> None:
    plain = SEQUENCE_NETS[name]().train()
    padded = copy.deepcopy(plain)
    x = torch.randn(3, 2, 12, generator=torch.Generator().manual_seed(2))
    out_plain = plain(x)
    out_padded = padded(torch.cat([x, torch.full((3, 2, 5), float("nan"))], dim=-1))
    torch.testing.assert_close(out_padded, out_plain, atol=1e-5, rtol=1e-5)
    theirs = plain.state_dict()
    for key, ours in padded.state_dict().items():
        torch.testing.assert_close(ours, theirs[key], atol=1e-6, rtol=1e-5, msg=key)


def test_masked_batch_norm_matches_batch_norm_over_the_real_steps() -> None:
    x, lengths = padded_batch(seed=3)
    filled, mask = padding_mask(x)
    real = torch.cat([filled[row, :, :length] for row, length in enumerate(lengths)], dim=-1)
    reference, masked = nn.BatchNorm1d(2), MaskedBatchNorm1d(2)
    for _ in range(2):
        expected = reference(real.unsqueeze(0))[0]
        got = masked(filled, mask)
        got_real = torch.cat([got[row, :, :length] for row, length in enumerate(lengths)], -1)
        torch.testing.assert_close(got_real, expected, atol=1e-5, rtol=1e-5)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(masked, name), getattr(reference, name))


def test_padding_mask_and_masked_pooling() -> None:
    x = torch.tensor([[[1.0, -2.0, float("nan")], [4.0, 5.0, float("nan")]]])
    filled, mask = padding_mask(x)
    assert mask.tolist() == [[True, True, False]]
    assert filled[0, :, 2].tolist() == [0.0, 0.0]
    assert masked_mean(filled, mask).tolist() == [[-0.5, 4.5]]
    assert masked_max(filled, mask).tolist() == [[1.0, 5.0]]
    # (batch, length, features) layout, and an empty sequence pools to zeros, not -inf.
    steps_last = torch.full((2, 3, 1), -7.0)
    empty = torch.tensor([[True, True, True], [False, False, False]])
    assert masked_mean(steps_last, empty, dim=1).tolist() == [[-7.0], [0.0]]
    assert masked_max(steps_last, empty, dim=1).tolist() == [[-7.0], [0.0]]


# ---------------------------------------------------------------------------------- save/load
def test_config_is_json_and_rebuilds_the_same_network() -> None:
    for name, factory in ALL_NETS.items():
        net = factory()
        config = json.loads(json.dumps(net.config()))
        rebuilt = type(net).from_config(config)
        assert rebuilt.config() == net.config(), name
        assert registry.model_class(type(net).__name__) is type(net)
        assert f"channels={list(net.channels)}" in repr(net)


@pytest.mark.parametrize("name", ["convnet-layer-max", "resnet", "fcn", "resnet-2d"])
def test_trainer_save_then_load_gives_identical_outputs(name: str, tmp_path) -> None:
    net = ALL_NETS[name]()
    generator = torch.Generator().manual_seed(4)
    if net.dims == 1:
        X = nan_pad(torch.randn(24, 2, 16, generator=generator), [16, 9, 4] * 8)
    else:
        X = torch.randn(24, 2, 8, 8, generator=generator)
    y = torch.arange(24) % 3
    trainer = Trainer(max_epochs=2, batch_size=8, loss="cross_entropy", seed=0)
    trainer.fit(net, X, y)
    before = trainer.predict(None, X)
    loaded = Trainer.load(trainer.save(tmp_path / "checkpoint"))
    assert type(loaded.model) is type(net)
    assert np.array_equal(loaded.predict(None, X), before)
    assert np.isfinite(before).all()


# ---------------------------------------------------------------------------------- ONNX
EXPORTED: dict[str, Factory] = {
    "convnet": lambda: ConvNet(2, 3, channels=(4, 6), kernel_sizes=(4, 3), pooling="max"),
    "resnet": SEQUENCE_NETS["resnet"],
    "fcn": SEQUENCE_NETS["fcn"],
    "resnet-2d": IMAGE_NETS["resnet-2d"],
    "convnet-2d": lambda: ConvNet(
        2, 3, dims=2, channels=(4,), kernel_sizes=(3,), image_size=(5, 7)
    ),
}


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_onnx_export_matches_pytorch_at_several_batches_and_lengths(name: str, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from zen.export import export_onnx, load_onnx_session

    net = with_running_stats(EXPORTED[name]())
    report = export_onnx(net, tmp_path / "net.onnx")
    assert report.parity_passed, report.parity
    sizes = [check.sizes for check in report.parity]
    assert {size["batch"] for size in sizes} >= {1, 2, 7}
    session, sidecar = load_onnx_session(tmp_path / "net.onnx")
    assert sidecar["model"]["config"] == net.config()
    if net.dims == 1:
        assert {size["length"] for size in sizes} >= {5, 24, 97}
        assert sidecar["inputs"][0]["shape"] == ["batch", 2, "length"]
        x = nan_pad(torch.randn(6, 2, 31), [31, 3, 17, 1, 30, 8])  # half NaN-padded rows
    else:
        assert sidecar["inputs"][0]["shape"] == ["batch", 2, *net.image_size]
        x = torch.randn(6, 2, *net.image_size)
    with torch.no_grad():
        expected = net(x).numpy()
    got = session.run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_image_export_needs_the_image_size(tmp_path) -> None:
    from zen.export import export_onnx

    with pytest.raises(ConfigError, match="image_size"):
        export_onnx(ConvNet(1, 2, dims=2, channels=(4,), kernel_sizes=(3,)), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("net", "x"),
    [
        (ConvNet(2, 3), torch.randn(4, 3, 10)),  # wrong channels
        (ConvNet(2, 3), torch.randn(4, 10)),  # no channel axis
        (ResNet(2, 3), torch.randn(4, 2, 8, 8)),  # an image for a sequence net
        (FCN(2, 3), torch.ones(4, 2, 10, dtype=torch.int64)),
        (ResNet(2, 3, dims=2, image_size=(8, 8)), torch.randn(4, 2, 9, 8)),
        (ConvNet(2, 3, dims=2), torch.randn(4, 2, 8)),
    ],
)
def test_bad_input_raises_data_error_naming_x(net: ConvClassifier, x: torch.Tensor) -> None:
    with pytest.raises(DataError, match=r"^x: expected"):
        net(x)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: ConvNet(0, 2), "in_channels"),
        (lambda: ResNet(1, -1), "num_classes"),
        (lambda: FCN(1, 2.5), "num_classes"),
        (lambda: ConvNet(1, 2, dims=3), "dims"),
        (lambda: ConvNet(1, 2, channels=()), "channels"),
        (lambda: ConvNet(1, 2, channels=(4, 0), kernel_sizes=(3, 3)), "channels"),
        (lambda: ConvNet(1, 2, channels=(4, 4), kernel_sizes=(3,)), "kernel_sizes"),
        (lambda: ConvNet(1, 2, norm="group"), "norm"),
        (lambda: ConvNet(1, 2, pooling="sum"), "pooling"),
        (lambda: ConvNet(1, 2, activation="nope"), "activation"),
        (lambda: FCN(1, 2, dropout=1.0), "dropout"),
        (lambda: ResNet(1, 2, blocks_per_stage=0), "blocks_per_stage"),
        (lambda: ResNet(1, 2, image_size=(8, 8)), "image_size"),
        (lambda: ResNet(1, 2, dims=2, image_size=(8,)), "image_size"),
    ],
)
def test_bad_settings_raise_config_error_naming_the_argument(
    build: Callable[[], nn.Module], argument: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}"):
        build()


# ---------------------------------------------------------------------------------- learning
def waves(count: int, seed: int, length: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Sine (class 0) or square (class 1) waves of random frequency and phase, with noise,
    NaN-padded to random lengths between ``length // 2`` and ``length``."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 2
    cycles_per_step = 0.05 + 0.1 * torch.rand(count, 1, generator=generator)
    phase = 2 * math.pi * torch.rand(count, 1, generator=generator)
    sine = torch.sin(2 * math.pi * cycles_per_step * torch.arange(length) + phase)
    x = torch.where(labels[:, None] == 1, torch.sign(sine), sine)
    x = x + 0.1 * torch.randn(count, length, generator=generator)
    lengths = torch.randint(length // 2, length + 1, (count,), generator=generator)
    return nan_pad(x.unsqueeze(1), lengths), labels


@pytest.mark.parametrize(
    "build",
    [
        lambda: ConvNet(1, 2, channels=(8, 8), kernel_sizes=(5, 3)),
        lambda: ResNet(1, 2, channels=(8, 8, 8)),
        lambda: FCN(1, 2, channels=(8, 16, 8)),
    ],
    ids=["convnet", "resnet", "fcn"],
)
def test_learns_sine_from_square_waves(build: Factory) -> None:
    X, y = waves(64, seed=0)
    X_test, y_test = waves(64, seed=1)
    trainer = Trainer(max_epochs=8, batch_size=16, lr=1e-2, loss="cross_entropy", seed=0)
    trainer.fit(build(), X, y)
    accuracy = (trainer.predict(None, X_test).argmax(1) == y_test.numpy()).mean()
    assert accuracy > 0.9
