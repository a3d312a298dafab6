"""VAE, MixtureOfExperts/MoEMLP and NeuralODE: shapes, gradients, learning, save/load, ONNX."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from zen import BackendUnavailable, ConfigError, DataError
from zen.neural import (
    VAE,
    Callback,
    MixtureOfExperts,
    MoEMLP,
    NeuralODE,
    Trainer,
    private_rng,
)


def seeded(build: Any, seed: int = 0) -> Any:
    """Build a model with repeatable initial weights, leaving the global RNG alone."""
    with private_rng(seed):
        return build()


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_every_parameter_gets_a_gradient(model: nn.Module) -> None:
    missing = [
        name
        for name, parameter in model.named_parameters()
        if parameter.grad is None or not bool(parameter.grad.abs().sum() > 0)
    ]
    assert not missing, f"no gradient reached {missing}"


def assert_save_load_identity(trainer: Trainer, inputs: torch.Tensor, path: Path) -> None:
    trainer.save(path)
    loaded = Trainer.load(path)
    assert type(loaded.model) is type(trainer.model)
    assert trainer.model is not None and loaded.model is not None
    trainer.model.eval(), loaded.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(inputs), trainer.model(inputs), rtol=0, atol=0)


def export_parity(model: nn.Module, path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from zen.export import export_onnx

    report = export_onnx(model, path, batch_sizes=(1, 2, 7, 33))
    assert report.parity_passed
    assert [check.sizes["batch"] for check in report.parity] == [1, 2, 7, 33]


# ---------------------------------------------------------------------------------- VAE
def manifold(n: int, seed: int = 0) -> torch.Tensor:
    """Points near a 2-D curved manifold in 8-D: a VAE with 2 latents can learn it."""
    g = generator(seed)
    mixing = torch.randn(2, 8, generator=generator(123))
    return torch.tanh(torch.randn(n, 2, generator=g) @ mixing) + 0.05 * torch.randn(
        n, 8, generator=g
    )


def digits_like(n: int, seed: int = 0) -> torch.Tensor:
    """8x8 one-channel images in [0, 1]: a bright bar at a random row."""
    rows = torch.randint(0, 8, (n,), generator=generator(seed))
    images = torch.full((n, 1, 8, 8), 0.05)
    images[torch.arange(n), 0, rows, :] = 0.95
    return images


def mean_elbo(vae: VAE, x: torch.Tensor) -> float:
    """The mean ELBO of ``x`` in nats, from the same draws every call."""
    with torch.no_grad():
        return float(vae.elbo(x, num_samples=4, generator=generator(1)).mean())


@pytest.mark.parametrize(
    ("settings", "shape"),
    [
        ({"input_shape": 6, "latent_dim": 3, "hidden": (16,)}, (6,)),
        ({"input_shape": (1, 8, 8), "latent_dim": 4}, (1, 8, 8)),  # MLP on flattened images
        ({"input_shape": (1, 8, 8), "latent_dim": 4, "encoder": "conv"}, (1, 8, 8)),
        ({"input_shape": (2, 7, 5), "latent_dim": 2, "encoder": "conv", "hidden": (4, 8)}, None),
    ],
)
def test_vae_shapes(settings: dict[str, Any], shape: tuple[int, ...] | None) -> None:
    vae = VAE(**settings)
    shape = shape or (2, 7, 5)
    x = torch.rand(5, *shape)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, vae.latent_dim)
    assert vae(x).shape == x.shape
    assert vae.decode(mu).shape == x.shape
    assert vae.sample(3, generator=generator(0)).shape == (3, *shape)
    assert vae.elbo(x, num_samples=2, generator=generator(0)).shape == (5,)
    assert vae.reconstruction_error(x).shape == (5,)
    assert vae.anomaly_score(x, generator=generator(0)).shape == (5,)


@pytest.mark.parametrize(
    "settings",
    [
        {"input_shape": 6, "latent_dim": 2, "hidden": (8, 8)},
        {"input_shape": (1, 8, 8), "latent_dim": 3, "encoder": "conv", "likelihood": "bernoulli"},
    ],
)
def test_vae_gradients_reach_every_parameter(settings: dict[str, Any]) -> None:
    vae = seeded(lambda: VAE(**settings))
    x = torch.rand(4, *vae.input_shape, generator=generator(1))
    vae.training_loss((x,)).loss.backward()
    assert_every_parameter_gets_a_gradient(vae)


def test_vae_draws_repeat_with_a_generator_and_leave_the_global_rng_alone() -> None:
    vae = VAE(6, 2)
    x = torch.randn(4, 6)
    state = torch.get_rng_state()
    torch.testing.assert_close(vae.sample(3, generator(5)), vae.sample(3, generator(5)))
    torch.testing.assert_close(
        vae.elbo(x, generator=generator(5)), vae.elbo(x, generator=generator(5))
    )
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(vae(x), vae(x))  # forward is the deterministic reconstruction mean


def test_vae_elbo_improves_while_training_on_x_alone() -> None:
    x = manifold(192)
    vae = seeded(lambda: VAE(8, 2, hidden=(32,), kl_warmup_epochs=3))
    before = mean_elbo(vae, x)
    result = Trainer(max_epochs=25, batch_size=64, lr=1e-2, val_split=0.25, seed=0).fit(vae, x)
    after = mean_elbo(vae, x)
    assert after > before + 5  # nats per sample
    # Validation uses the full KL weight, so it is minus the ELBO, comparable across epochs.
    assert result.history["val_loss"][-1] < result.history["val_loss"][0]
    assert Trainer().evaluate(vae, x)["loss"] == pytest.approx(-after, abs=1.0)


def test_vae_kl_weight_rises_linearly_over_the_warmup_epochs() -> None:
    vae = VAE(4, 2, beta=2.0, kl_warmup_epochs=4)
    assert [vae.kl_weight_at(epoch) for epoch in range(1, 8)] == [0, 0.5, 1, 1.5, 2, 2, 2]
    assert VAE(4, 2, kl_warmup_epochs=0).kl_weight_at(1) == 1.0
    assert vae.kl_weight == 2.0  # outside a Trainer: no warm-up

    class Record(Callback):
        def __init__(self) -> None:
            self.weights: list[float] = []

        def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
            self.weights.append(trainer.model.kl_weight)  # type: ignore[union-attr]

    record = Record()
    trainer = Trainer(max_epochs=3, seed=0, callbacks=[record])
    trainer.fit(vae, manifold(32)[:, :4])
    trainer.config.max_epochs = 6
    trainer.fit(vae, manifold(32)[:, :4], resume=True)
    assert record.weights == [0, 0.5, 1, 1.5, 2, 2]


def test_vae_scores_out_of_distribution_inputs_higher() -> None:
    vae = seeded(lambda: VAE(8, 2, hidden=(32,), kl_warmup_epochs=3))
    Trainer(max_epochs=30, batch_size=64, lr=1e-2, seed=0).fit(vae, manifold(256))
    normal = manifold(64, seed=1)
    unusual = 1.5 * torch.randn(64, 8, generator=generator(2))
    for method in ("elbo", "reconstruction"):
        inside = vae.anomaly_score(normal, method=method, generator=generator(3))
        outside = vae.anomaly_score(unusual, method=method, generator=generator(3))
        assert float(outside.median()) > float(inside.quantile(0.95)), method


def test_vae_on_images_with_the_conv_encoder(tmp_path: Path) -> None:
    images = digits_like(64)
    vae = seeded(lambda: VAE((1, 8, 8), 2, encoder="conv", hidden=(4, 8), likelihood="bernoulli"))
    before = mean_elbo(vae, images)
    trainer = Trainer(max_epochs=10, batch_size=32, lr=1e-2, seed=0)
    trainer.fit(vae, images)
    assert mean_elbo(vae, images) > before + 5
    assert_save_load_identity(trainer, images[:5], tmp_path / "vae")
    assert Trainer.load(tmp_path / "vae").model.config() == vae.config()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "vae",
    [
        VAE(6, 2, hidden=(16,)),
        VAE((1, 8, 8), 4, encoder="conv", likelihood="bernoulli"),
    ],
    ids=["mlp-gaussian", "conv-bernoulli"],
)
def test_vae_onnx_export_matches_pytorch(vae: VAE, tmp_path: Path) -> None:
    export_parity(vae, tmp_path / "vae.onnx")


@pytest.mark.parametrize(
    ("settings", "argument"),
    [
        ({"input_shape": 0, "latent_dim": 2}, "input_shape"),
        ({"input_shape": (4,), "latent_dim": 0}, "latent_dim"),
        ({"input_shape": 4, "latent_dim": 2, "encoder": "rnn"}, "encoder"),
        ({"input_shape": 4, "latent_dim": 2, "encoder": "conv"}, "input_shape"),
        ({"input_shape": 4, "latent_dim": 2, "hidden": ()}, "hidden"),
        ({"input_shape": 4, "latent_dim": 2, "likelihood": "poisson"}, "likelihood"),
        ({"input_shape": 4, "latent_dim": 2, "beta": 0.0}, "beta"),
        ({"input_shape": 4, "latent_dim": 2, "kl_warmup_epochs": -1}, "kl_warmup_epochs"),
    ],
)
def test_vae_bad_settings_name_the_argument(settings: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}:"):
        VAE(**settings)


def test_vae_bad_inputs_are_data_errors() -> None:
    with pytest.raises(DataError, match=r"x: expected shape \(batch, 1, 8, 8\), got \(2, 64\)"):
        VAE((1, 8, 8), 2, encoder="conv")(torch.zeros(2, 64))
    with pytest.raises(DataError, match=r"x: likelihood='bernoulli' needs values in \[0, 1\]"):
        VAE(3, 2, likelihood="bernoulli").elbo(torch.full((2, 3), 2.0))
    with pytest.raises(DataError, match=r"z: expected shape \(batch, 2\)"):
        VAE(3, 2).decode(torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="method"):
        VAE(3, 2).anomaly_score(torch.zeros(2, 3), method="likelihood")


# --------------------------------------------------------------------------------- MoE
def test_moe_routes_every_token_to_exactly_k_distinct_experts() -> None:
    layer = seeded(lambda: MixtureOfExperts(6, num_experts=5, k=3, hidden=8))
    x = torch.randn(2, 7, 6, generator=generator(1))
    tokens = x.reshape(-1, 6)
    _, top_index, gates = layer._route(tokens)
    assert top_index.shape == (14, 3)
    assert all(len(set(row.tolist())) == 3 for row in top_index)
    torch.testing.assert_close(gates.sum(-1), torch.ones(14))
    # The output is exactly the gate-weighted sum of the k chosen experts.
    expected = torch.stack(
        [
            sum(
                gates[t, j] * layer._expert(int(top_index[t, j]), tokens[t : t + 1])[0]
                for j in range(3)
            )
            for t in range(14)
        ]
    )
    torch.testing.assert_close(layer(x).reshape(-1, 6), expected)
    assert float(layer.routed_counts.sum()) == 14 * 3


def test_moe_sparse_and_dense_evaluation_agree() -> None:
    layer = seeded(lambda: MixtureOfExperts(8, num_experts=4, k=2))
    tokens = torch.randn(20, 8, generator=generator(1))
    _, top_index, gates = layer._route(tokens)
    routed = torch.ones_like(top_index, dtype=torch.bool)
    torch.testing.assert_close(
        layer._combine_sparse(tokens, top_index, gates, routed),
        layer._combine_dense(tokens, top_index, gates),
    )


def test_moe_aux_loss_is_one_for_uniform_routing_and_grows_with_imbalance() -> None:
    layer = MixtureOfExperts(4, num_experts=4, k=1)
    x = torch.randn(32, 4, generator=generator(0))
    with torch.no_grad():
        layer.gate.weight.zero_()  # every expert equally likely for every token
    layer(x)
    assert float(layer.aux_loss.detach()) == pytest.approx(1.0)
    with torch.no_grad():
        layer.gate.weight.copy_(torch.eye(4) * 50)  # one-hot tokens: each picks its own expert
    balanced = torch.eye(4).repeat(8, 1)
    layer(balanced)
    assert float(layer.aux_loss.detach()) == pytest.approx(1.0, abs=1e-4)
    layer(torch.eye(4)[:1].repeat(32, 1))  # every token to expert 0
    assert float(layer.aux_loss.detach()) == pytest.approx(4.0, abs=1e-4)
    layer.eval()
    layer(x)
    assert float(layer.aux_loss.detach()) == 0.0


def test_moe_utilisation_sums_to_one_and_resets() -> None:
    layer = MixtureOfExperts(4, num_experts=3, k=2)
    assert float(layer.utilisation().sum()) == 0.0
    layer(torch.randn(10, 4))
    layer.eval()
    layer(torch.randn(3, 5, 4))
    share = layer.utilisation()
    assert share.shape == (3,)
    assert float(share.sum()) == pytest.approx(1.0)
    assert float(layer.routed_counts.sum()) == (10 + 15) * 2
    layer.reset_utilisation()
    assert float(layer.utilisation().sum()) == 0.0


def test_moe_mask_leaves_padding_out() -> None:
    layer = seeded(lambda: MixtureOfExperts(4, num_experts=3, k=2))
    x = torch.randn(2, 5, 4, generator=generator(1))
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    x[~mask] = 0.0
    output = layer(x, mask).detach()
    assert float(output[~mask].abs().sum()) == 0.0
    torch.testing.assert_close(output[1, :2], layer(x[1:, :2])[0])
    layer.reset_utilisation()
    layer(x, mask)
    assert float(layer.routed_counts.sum()) == 7 * 2


def test_moe_capacity_drops_overflow_in_training_only() -> None:
    layer = MixtureOfExperts(4, num_experts=4, k=1, capacity_factor=1.0)
    with torch.no_grad():
        layer.gate.weight.copy_(torch.eye(4) * 50)
    x = torch.eye(4)[:1].repeat(8, 1)  # 8 tokens all want expert 0; capacity is 2
    output = layer(x)
    assert layer.dropped_fraction == pytest.approx(6 / 8)
    assert int((output.abs().sum(-1) > 0).sum()) == 2  # the first two tokens, in order
    assert float(output[:2].detach().abs().sum()) > 0
    layer.eval()
    assert int((layer(x).abs().sum(-1) > 0).sum()) == 8


def test_moe_noisy_gating_is_random_in_training_only_and_learns_its_noise() -> None:
    layer = seeded(lambda: MixtureOfExperts(4, num_experts=4, k=2, noisy_gating=True))
    with torch.no_grad():
        assert layer.noise is not None
        layer.noise.weight.fill_(1.0)
    x = torch.randn(16, 4, generator=generator(1))
    with private_rng(1):
        first = layer(x)
    with private_rng(2):
        second = layer(x)
    assert not torch.allclose(first, second)
    (first.sum() + layer.aux_loss).backward()
    assert layer.noise.weight.grad is not None
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))


def xor_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 2, generator=generator(seed))
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()


def test_moe_mlp_shapes_and_gradients() -> None:
    net = seeded(lambda: MoEMLP(5, 3, d_model=8, num_experts=4, k=2, layers=2))
    x = torch.randn(64, 5, generator=generator(1))
    assert net(x).shape == (64, 3)
    loss_fn = Trainer(loss="cross_entropy").loss_fn
    step = net.training_loss((x, torch.randint(0, 3, (64,), generator=generator(2))), loss_fn)
    step.loss.backward()
    assert_every_parameter_gets_a_gradient(net)
    assert net.utilisation().shape == (2, 4)


def test_moe_mlp_training_loss_adds_the_weighted_aux_loss() -> None:
    net = seeded(lambda: MoEMLP(3, 1, d_model=8, num_experts=3, k=1, layers=2, aux_weight=0.5))
    x, y = torch.randn(16, 3, generator=generator(1)), torch.randn(16, generator=generator(2))
    step = net.training_loss((x, y), nn.MSELoss())
    task = nn.MSELoss()(step.predictions, y.reshape(16, 1))
    assert float(net.aux_loss.detach()) > 0.0
    torch.testing.assert_close(step.loss, task + 0.5 * net.aux_loss)
    assert step.targets is not None and step.targets.shape == (16, 1)  # aligned like the Trainer


def test_moe_mlp_learns_a_toy_classification(tmp_path: Path) -> None:
    x, y = xor_data(256)
    net = seeded(lambda: MoEMLP(2, 2, d_model=16, num_experts=4, k=2, layers=2))
    trainer = Trainer(max_epochs=15, batch_size=64, lr=2e-2, loss="cross_entropy", seed=0)
    trainer.fit(net, x, y)
    x_test, y_test = xor_data(256, seed=1)
    assert trainer.evaluate(net, x_test, y_test)["accuracy"] > 0.9
    assert float(net.utilisation().min()) > 0.05  # no expert left idle
    assert_save_load_identity(trainer, x_test[:9], tmp_path / "moe")


def test_moe_mlp_onnx_export_matches_pytorch(tmp_path: Path) -> None:
    net = seeded(lambda: MoEMLP(5, 3, d_model=16, num_experts=4, k=2, layers=2))
    export_parity(net, tmp_path / "moe.onnx")


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: MixtureOfExperts(0), "d_model"),
        (lambda: MixtureOfExperts(4, num_experts=1), "num_experts"),
        (lambda: MixtureOfExperts(4, num_experts=3, k=4), "k"),
        (lambda: MixtureOfExperts(4, k=0), "k"),
        (lambda: MixtureOfExperts(4, hidden=0), "hidden"),
        (lambda: MixtureOfExperts(4, capacity_factor=0.0), "capacity_factor"),
        (lambda: MixtureOfExperts(4, noisy_gating="yes"), "noisy_gating"),
        (lambda: MoEMLP(0, 2), "in_features"),
        (lambda: MoEMLP(3, 2, layers=0), "layers"),
        (lambda: MoEMLP(3, 2, aux_weight=-1.0), "aux_weight"),
    ],
)
def test_moe_bad_settings_name_the_argument(build: Any, argument: str) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}:"):
        build()


def test_moe_bad_inputs_are_data_errors() -> None:
    with pytest.raises(DataError, match=r"x: expected shape \(\.\.\., 4\), got \(2, 3\)"):
        MixtureOfExperts(4)(torch.zeros(2, 3))
    with pytest.raises(DataError, match="mask: expected shape"):
        MixtureOfExperts(4)(torch.zeros(2, 3, 4), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(DataError, match=r"x: expected shape \(batch, 3\)"):
        MoEMLP(3, 1)(torch.zeros(2, 4))


# ---------------------------------------------------------------------------- NeuralODE
def test_neural_ode_shapes_and_function_evaluations() -> None:
    x = torch.randn(5, 3)
    rk4 = NeuralODE(3, 2, hidden=8, solver="rk4", step_size=0.25)
    assert rk4(x).shape == (5, 2)
    assert rk4.nfe == 4 * 4  # four steps of four stages
    euler = NeuralODE(3, 2, hidden=8, solver="euler", step_size=0.3, t1=0.9)
    euler(x)
    assert euler.nfe == 3
    adaptive = NeuralODE(3, 2, hidden=8)
    adaptive(x)
    assert adaptive.nfe >= 6  # dopri5: at least one step of six stages (plus the first call)


def test_neural_ode_pools_nan_padded_sequences() -> None:
    net = seeded(lambda: NeuralODE(2, 1, hidden=8, solver="rk4", step_size=0.5))
    sequence = torch.randn(1, 2, 4, generator=generator(1))
    padded = torch.cat([sequence, torch.full((1, 2, 3), float("nan"))], dim=2)
    batch = torch.cat([padded, torch.randn(1, 2, 7, generator=generator(2))])
    output = net(batch)
    torch.testing.assert_close(output[:1], net(sequence))
    torch.testing.assert_close(output[:1], net(sequence.mean(dim=2)))
    assert bool(torch.isfinite(output).all())


def test_neural_ode_fixed_grid_matches_torchdiffeq_step_for_step() -> None:
    for solver, step in (("rk4", 0.3), ("euler", 0.2), ("rk4", 0.25)):
        net = seeded(lambda: NeuralODE(3, 2, hidden=8, solver=solver, step_size=step))  # noqa: B023
        h0 = torch.randn(6, 8, generator=generator(1))
        torch.testing.assert_close(net._integrate_fixed_grid(h0), net.integrate(h0))


def test_neural_ode_gradients_reach_every_parameter() -> None:
    net = seeded(lambda: NeuralODE(3, 2, hidden=8, solver="rk4", step_size=0.5))
    net(torch.randn(4, 3, generator=generator(1))).pow(2).sum().backward()
    assert_every_parameter_gets_a_gradient(net)


def test_neural_ode_adjoint_and_direct_gradients_agree() -> None:
    x = torch.randn(8, 3, generator=generator(1))
    gradients = []
    for adjoint in (False, True):
        net = seeded(lambda: NeuralODE(3, 2, hidden=8, rtol=1e-7, atol=1e-9, adjoint=adjoint))  # noqa: B023
        net(x).pow(2).sum().backward()
        gradients.append({name: p.grad.clone() for name, p in net.named_parameters()})  # type: ignore[union-attr]
    for name, direct in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], direct, rtol=1e-4, atol=1e-5, msg=name)


def test_neural_ode_learns_a_toy_regression(tmp_path: Path) -> None:
    x = torch.rand(256, 2, generator=generator(0)) * 4 - 2
    y = torch.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2
    net = seeded(lambda: NeuralODE(2, 1, hidden=16, solver="rk4", step_size=0.25))
    trainer = Trainer(max_epochs=30, batch_size=64, lr=1e-2, seed=0)
    trainer.fit(net, x, y)
    assert trainer.evaluate(net, x, y)["loss"] < 0.05 * float(y.var())
    assert_save_load_identity(trainer, x[:7], tmp_path / "ode")


def test_neural_ode_onnx_export_with_rk4_matches_pytorch(tmp_path: Path) -> None:
    net = seeded(lambda: NeuralODE(4, 2, hidden=8, solver="rk4", step_size=0.3))
    export_parity(net, tmp_path / "ode.onnx")


def test_neural_ode_export_with_an_adaptive_solver_says_what_to_pass(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from zen.export import export_onnx

    with pytest.raises(ConfigError, match=r"solver='rk4', step_size="):
        export_onnx(NeuralODE(4, 2, hidden=8), tmp_path / "ode.onnx")
    assert not (tmp_path / "ode.onnx").exists()


@pytest.mark.parametrize(
    ("settings", "argument"),
    [
        ({"solver": "rk45"}, "solver"),
        ({"solver": "rk4"}, "step_size"),
        ({"solver": "dopri5", "step_size": 0.1}, "step_size"),
        ({"solver": "euler", "step_size": -0.1}, "step_size"),
        ({"hidden": 0}, "hidden"),
        ({"t1": 0.0}, "t1"),
        ({"rtol": -1.0}, "rtol"),
        ({"adjoint": "yes"}, "adjoint"),
    ],
)
def test_neural_ode_bad_settings_name_the_argument(settings: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}:"):
        NeuralODE(3, 1, **settings)


def test_neural_ode_bad_inputs_are_data_errors() -> None:
    net = NeuralODE(3, 1, hidden=4, solver="euler", step_size=0.5)
    with pytest.raises(DataError, match=r"x: expected shape \(batch, 3\) or \(batch, 3, length\)"):
        net(torch.zeros(2, 4))
    with pytest.raises(DataError, match="x: contains NaN"):
        net(torch.tensor([[0.0, float("nan"), 1.0]]))


def test_neural_ode_without_torchdiffeq_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchdiffeq", None)  # makes `import torchdiffeq` fail
    with pytest.raises(BackendUnavailable, match=r"zen-neural\[ode\]"):
        NeuralODE(3, 1)
