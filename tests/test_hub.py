"""save_pretrained / from_pretrained / push_to_hub: Hugging Face folders, offline by default.

No test reaches the network: sockets refuse to connect, the Hugging Face cache is a temporary
folder laid out as huggingface_hub lays it out, and push_to_hub talks to a stand-in HfApi.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from zen.errors import BackendUnavailable, ConfigError, DataError, NotFittedError
from zen.export import load_saved
from zen.forecasting import NHITS, Forecaster
from zen.graph import GAT, GCN, GNN, Graph
from zen.neural import FCN, MLP, VAE, MoEMLP, NetworkHubMixin, NeuralODE, ResNet, SequenceMLP
from zen.neural.hub import resolve_pretrained
from zen.neural.model_card import kept_epoch_scores
from zen.tabular import TabularModel

SRC = Path(__file__).resolve().parents[1] / "src"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test loudly."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a test tried to reach the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def hf_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty Hugging Face cache in ``tmp_path``, Hub offline, as a user would set it up
    (``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE=1``). huggingface_hub reads those when it
    is imported, so its constants are set too for this process."""
    constants = pytest.importorskip("huggingface_hub.constants")
    cache = tmp_path / "hf-home" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(cache.parent))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def put_in_cache(folder: Path, cache: Path, repo_id: str, commit: str = COMMIT) -> Path:
    """Lay ``folder`` out as a downloaded repo: ``models--org--name/`` with content-addressed
    ``blobs/``, ``snapshots/<commit>/`` of symlinks to them, and ``refs/main``."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True)
    for file in folder.iterdir():
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


# ---------------------------------------------------------------------- one model of each family
def fitted_mlp() -> tuple[MLP, Callable[[Any], np.ndarray]]:
    torch.manual_seed(0)
    net = MLP([4, 8, 3], norm="batch").eval()
    x = torch.randn(6, 4)
    return net, lambda model: model.eval()(x).detach().numpy()


def fitted_tabular() -> tuple[TabularModel, Callable[[Any], np.ndarray]]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "city": rng.choice(["oslo", "rome"], 60)})
    frame["label"] = np.where(frame["x"] > 0, "up", "down")
    model = TabularModel(max_epochs=3, hidden_layers=[8], early_stopping=2, seed=0)
    model.fit(frame, "label")
    features = frame.drop(columns="label")
    return model, lambda loaded: loaded.predict_proba(features)


def fitted_forecaster() -> tuple[Forecaster, Callable[[Any], np.ndarray]]:
    steps = np.arange(48)
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], 48),
            "ds": np.tile(steps, 2) + 1,
            "y": np.concatenate([np.sin(steps / 3), np.cos(steps / 4) + 2]),
        }
    )
    model = NHITS(h=3, input_size=6, mlp_units=[[8, 8]] * 3, max_steps=3, val_check_steps=1)
    forecaster = Forecaster([model], freq=1, seed=0).fit(df)
    return forecaster, lambda loaded: loaded.predict()["NHITS"].to_numpy()


def fitted_gcn() -> tuple[GCN, Callable[[Any], np.ndarray]]:
    torch.manual_seed(0)
    edges = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4], [1, 0, 2, 1, 3, 2, 4, 3]])
    graph = Graph(x=torch.randn(5, 3), edge_index=edges)
    model = GCN(3, 8, num_layers=2, out_channels=2, dropout=0.5)
    return model, lambda loaded: loaded.predict(graph).numpy()


FAMILIES = {
    "mlp": (fitted_mlp, MLP, "network"),
    "tabular": (fitted_tabular, TabularModel, "tabular"),
    "forecaster": (fitted_forecaster, Forecaster, "forecast"),
    "gcn": (fitted_gcn, GCN, "graph"),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_gives_identical_predictions(family: str, tmp_path: Path) -> None:
    build, model_class, kind = FAMILIES[family]
    model, predict = build()
    before = predict(model)
    model.save_pretrained(tmp_path / "folder")

    assert {"config.json", "README.md"} <= {p.name for p in (tmp_path / "folder").iterdir()}
    loaded = model_class.from_pretrained(tmp_path / "folder")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(predict(loaded), before)
    # The same folder is a saved model for the rest of zen.
    saved = load_saved(tmp_path / "folder")
    assert saved.kind == kind
    np.testing.assert_array_equal(predict(saved.model), before)


def test_loads_a_repo_from_the_local_cache_with_the_hub_offline(
    hf_cache: Path, tmp_path: Path
) -> None:
    net, predict = fitted_mlp()
    net.save_pretrained(tmp_path / "folder")
    put_in_cache(tmp_path / "folder", hf_cache, "org/tiny-mlp")

    loaded = MLP.from_pretrained("org/tiny-mlp")  # cache found through the environment
    np.testing.assert_array_equal(predict(loaded), predict(net))
    by_commit = MLP.from_pretrained("org/tiny-mlp", revision=COMMIT)
    np.testing.assert_array_equal(predict(by_commit), predict(net))
    # Other zen loaders take the cached folder too.
    assert load_saved(resolve_pretrained("org/tiny-mlp")).kind == "network"


def test_environment_variables_choose_the_cache_in_a_fresh_process(tmp_path: Path) -> None:
    """What a user does: export HF_HOME and HF_HUB_OFFLINE, then start Python."""
    pytest.importorskip("huggingface_hub")
    net, predict = fitted_mlp()
    net.save_pretrained(tmp_path / "folder")
    put_in_cache(tmp_path / "folder", tmp_path / "home" / "hub", "org/tiny-mlp")
    np.save(tmp_path / "expected.npy", predict(net))
    child = (
        "import sys, numpy as np, torch\n"
        "from zen.neural import MLP\n"
        "torch.manual_seed(0); net = MLP([4, 8, 3], norm='batch'); x = torch.randn(6, 4)\n"
        "loaded = MLP.from_pretrained('org/tiny-mlp')\n"
        "np.testing.assert_array_equal(loaded(x).detach().numpy(), np.load(sys.argv[1]))\n"
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGING"))
    }
    environment |= {
        "HF_HOME": str(tmp_path / "home"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(SRC),
    }
    result = subprocess.run(
        [sys.executable, "-c", child, str(tmp_path / "expected.npy")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_repo_not_in_the_cache_says_it_is_not_downloaded_and_how_to_allow_it(
    hf_cache: Path,
) -> None:
    with pytest.raises(DataError) as caught:
        MLP.from_pretrained("org/never-downloaded")
    message = str(caught.value)
    assert "org/never-downloaded" in message and "not downloaded" in message
    assert "local_files_only=False" in message and str(hf_cache) in message


def test_allowing_downloads_still_reads_nothing_from_the_network_when_offline(
    hf_cache: Path,
) -> None:
    with pytest.raises(DataError, match="HF_HUB_OFFLINE is set"):
        MLP.from_pretrained("org/never-downloaded", local_files_only=False)


@pytest.mark.parametrize("name", ["./no/such/folder", "/no/such/folder", "a/b/c"])
def test_a_missing_folder_that_is_no_repo_id_is_a_clear_error(name: str) -> None:
    with pytest.raises(DataError, match=r"is not a directory \(not found\) nor a Hugging Face"):
        MLP.from_pretrained(name)


def test_a_file_is_not_taken_for_a_repo_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net, _ = fitted_mlp()
    net.save_pretrained(tmp_path / "folder")
    monkeypatch.chdir(tmp_path / "folder")
    with pytest.raises(DataError, match=r"model\.safetensors is a file; expected the folder"):
        MLP.from_pretrained("model.safetensors")


def test_force_download_needs_downloads_allowed() -> None:
    with pytest.raises(ConfigError, match=r"^force_download: downloading needs local_files_only"):
        MLP.from_pretrained("org/name", force_download=True)


def test_loading_a_folder_of_another_class_names_both(tmp_path: Path) -> None:
    model, _ = fitted_gcn()
    model.save_pretrained(tmp_path / "gcn")
    assert isinstance(GNN.from_pretrained(tmp_path / "gcn"), GCN)  # a base class loads it
    with pytest.raises(
        DataError, match=r"holds a GCN, not a GAT; load it with GCN\.from_pretrained"
    ):
        GAT.from_pretrained(tmp_path / "gcn")
    with pytest.raises(DataError, match="not a saved TabularModel"):
        TabularModel.from_pretrained(tmp_path / "gcn")


# ---------------------------------------------------------------------- the model card
def read_card(folder: Path) -> Any:
    model_card = pytest.importorskip("huggingface_hub").ModelCard
    return model_card.load(folder / "README.md")


def test_the_card_carries_the_hub_metadata_and_the_kept_epochs_scores(tmp_path: Path) -> None:
    model, _ = fitted_tabular()
    model.save_pretrained(tmp_path / "folder", repo_id="org/churn")
    card = read_card(tmp_path / "folder")

    assert card.data.library_name == "zen-neural"
    assert card.data.pipeline_tag == "tabular-classification"
    assert {"zen-neural", "tabular", "tabular-classification"} <= set(card.data.tags)
    # Early stopping kept the epoch with the lowest validation loss: its scores are shown.
    records = model.history_.records
    best = min(records, key=lambda record: record["val_loss"])
    scores = {result.metric_name: result.metric_value for result in card.data.eval_results}
    assert scores == pytest.approx(
        {"val_loss": best["val_loss"], "val_accuracy": best["val_accuracy"]}
    )
    assert {result.dataset_name for result in card.data.eval_results} == {"validation split"}
    assert card.data.metrics == ["loss", "accuracy"]
    assert 'TabularModel.from_pretrained("org/churn")' in card.text
    assert "from zen.tabular import TabularModel" in card.text


def test_card_options_add_license_text_and_replace_the_scores(tmp_path: Path) -> None:
    model, _ = fitted_forecaster()
    model.save_pretrained(
        tmp_path / "folder",
        model_card_kwargs={
            "license": "apache-2.0",
            "description": "Trained on two toy waves.",
            "metrics": {"mase": 0.8},
            "dataset": "toy-waves",
            "tags": ["demo"],
        },
    )
    card = read_card(tmp_path / "folder")
    assert card.data.license == "apache-2.0"
    assert card.data.pipeline_tag == "time-series-forecasting"
    assert {"time-series", "forecasting", "NHITS", "demo"} <= set(card.data.tags)
    [result] = card.data.eval_results
    assert (result.metric_type, result.metric_value, result.dataset_name) == (
        "mase",
        0.8,
        "toy-waves",
    )
    assert "Trained on two toy waves." in card.text and "for 2 series" in card.text


def test_a_graph_card_names_its_task(tmp_path: Path) -> None:
    model, _ = fitted_gcn()
    model.save_pretrained(tmp_path / "folder")
    card = read_card(tmp_path / "folder")
    assert card.data.pipeline_tag == "graph-ml" and {"graph", "gnn"} <= set(card.data.tags)
    assert card.data.eval_results is None  # no scores known, none invented


EPOCHS = [
    {"epoch": 1, "train_loss": 0.9, "val_loss": 0.5, "val_accuracy": 0.7, "lr": 0.01},
    {"epoch": 2, "train_loss": 0.7, "val_loss": 0.4, "val_accuracy": 0.8, "lr": 0.01},
    {"epoch": 3, "train_loss": 0.5, "val_loss": 0.6, "val_accuracy": 0.75, "lr": 0.01},
]


@pytest.mark.parametrize(
    ("records", "restored_best", "expected"),
    [
        (EPOCHS, True, {"val_loss": 0.4, "val_accuracy": 0.8}),  # early stopping's epoch
        (EPOCHS, False, {"val_loss": 0.6, "val_accuracy": 0.75}),  # the last epoch
        ([{"epoch": 1, "train_loss": 0.9}], True, {}),  # no validation data: nothing known
    ],
)
def test_the_card_scores_are_those_of_the_saved_weights(
    records: list[dict[str, float]], restored_best: bool, expected: dict[str, float]
) -> None:
    assert kept_epoch_scores(records, restored_best=restored_best) == expected


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"licence": "mit"}, r"unknown key\(s\) \['licence'\]"),
        ({"metrics": {"accuracy": "high"}}, r"model_card_kwargs\['metrics'\]: expected a mapping"),
        ({"tags": "demo"}, r"model_card_kwargs\['tags'\]: expected a list of strings"),
    ],
)
def test_bad_card_options_are_refused_before_writing(
    options: dict[str, Any], match: str, tmp_path: Path
) -> None:
    net, _ = fitted_mlp()
    with pytest.raises(ConfigError, match=match):
        net.save_pretrained(tmp_path / "folder", model_card_kwargs=options)
    assert not (tmp_path / "folder").exists()


def test_an_existing_card_is_kept_as_modelhubmixin_keeps_it(tmp_path: Path) -> None:
    net, predict = fitted_mlp()
    net.save_pretrained(tmp_path / "folder")
    (tmp_path / "folder" / "README.md").write_text("---\nlibrary_name: zen-neural\n---\nMine.\n")
    torch.nn.init.zeros_(net.linears[0].weight)
    net.save_pretrained(tmp_path / "folder")
    assert (tmp_path / "folder" / "README.md").read_text().endswith("Mine.\n")
    np.testing.assert_array_equal(predict(MLP.from_pretrained(tmp_path / "folder")), predict(net))


# ---------------------------------------------------------------------- what saving refuses
def test_a_folder_with_files_zen_did_not_write_is_refused_not_wiped(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    (clone / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    net, _ = fitted_mlp()
    with pytest.raises(
        DataError, match=r"holds files zen did not write \(\.git, \.gitattributes\)"
    ):
        net.save_pretrained(clone)
    assert sorted(p.name for p in clone.iterdir()) == [".git", ".gitattributes"]


def test_an_unfitted_model_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        TabularModel().save_pretrained(tmp_path / "folder")
    assert list(tmp_path.iterdir()) == []


def test_an_unregistered_network_says_how_to_register_it(tmp_path: Path) -> None:
    class Unregistered(nn.Linear, NetworkHubMixin):
        def config(self) -> dict[str, Any]:
            return {"in_features": self.in_features, "out_features": self.out_features}

    with pytest.raises(
        ConfigError, match=r"declare it with zen\.neural\.checkpoint\.register_model"
    ):
        Unregistered(2, 2).save_pretrained(tmp_path / "folder")


# ---------------------------------------------------------------------- the optional dependency
def test_without_huggingface_hub_folders_work_and_repo_ids_name_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if absent
    net, predict = fitted_mlp()
    net.save_pretrained(tmp_path / "folder")
    assert "library_name: zen-neural" in (tmp_path / "folder" / "README.md").read_text()
    np.testing.assert_array_equal(predict(MLP.from_pretrained(tmp_path / "folder")), predict(net))
    with pytest.raises(BackendUnavailable, match=r"needs huggingface_hub.*zen-neural\[hub\]"):
        MLP.from_pretrained("org/tiny-mlp")
    with pytest.raises(BackendUnavailable, match=r"^push_to_hub needs huggingface_hub"):
        net.push_to_hub("org/tiny-mlp")


PUSHES = {
    "push_to_hub": lambda net, folder: net.push_to_hub(
        "org/tiny-mlp", private=True, token="hf_test"
    ),
    "save_pretrained": lambda net, folder: net.save_pretrained(
        folder, repo_id="org/tiny-mlp", push_to_hub=True, private=True, token="hf_test"
    ),
}


@pytest.mark.parametrize("push", PUSHES)
def test_push_to_hub_uploads_the_saved_folder_in_one_commit(
    push: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Against a stand-in HfApi: the real upload needs the network."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    calls: dict[str, Any] = {}

    class RecordingApi:
        def __init__(self, **kwargs: Any) -> None:
            calls["api"] = kwargs

        def create_repo(self, **kwargs: Any) -> Any:
            calls["create_repo"] = kwargs
            return type("RepoUrl", (), {"repo_id": kwargs["repo_id"]})()

        def upload_folder(self, **kwargs: Any) -> str:
            folder = Path(kwargs["folder_path"])
            calls["files"] = {p.name: p.read_bytes() for p in folder.iterdir()}
            calls["upload_folder"] = kwargs
            return "https://huggingface.co/org/tiny-mlp/commit/abc"

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    net, _ = fitted_mlp()
    url = PUSHES[push](net, tmp_path / "tiny-mlp")

    assert url == "https://huggingface.co/org/tiny-mlp/commit/abc"
    assert calls["api"]["token"] == "hf_test" and calls["api"]["library_name"] == "zen-neural"
    assert calls["create_repo"] == {"repo_id": "org/tiny-mlp", "private": True, "exist_ok": True}
    assert calls["upload_folder"]["repo_id"] == "org/tiny-mlp"
    assert set(calls["files"]) == {"config.json", "model.safetensors", "README.md"}
    assert b'MLP.from_pretrained("org/tiny-mlp")' in calls["files"]["README.md"]


NETWORKS: dict[str, Callable[[], tuple[nn.Module, torch.Tensor]]] = {
    "ResNet": lambda: (ResNet(2, 3), torch.randn(4, 2, 20)),
    "FCN": lambda: (FCN(1, 2), torch.randn(3, 1, 12)),
    "SequenceMLP": lambda: (
        SequenceMLP(1, 12, 2, hidden=(8,), dropout=(0.0, 0.0)),
        torch.randn(3, 1, 12),
    ),
    "VAE": lambda: (VAE(6, latent_dim=2), torch.rand(5, 6)),
    "MoEMLP": lambda: (MoEMLP(4, 2, d_model=8, num_experts=3, k=2, layers=1), torch.randn(5, 4)),
    "NeuralODE": lambda: (
        NeuralODE(3, 1, hidden=8, solver="rk4", step_size=0.25),
        torch.randn(4, 3),
    ),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_new_network_round_trips_through_a_pretrained_folder(
    name: str, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    network, x = NETWORKS[name]()
    network.eval()
    network.save_pretrained(tmp_path / name)
    loaded = type(network).from_pretrained(tmp_path / name)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), network(x))
    assert (tmp_path / name / "README.md").read_text().startswith("---")
