"""``zen fit --as-image 8x8``: scikit-learn's digits as a table of 64 pixel columns, classified by
the image candidates, then applied by ``zen predict`` and the serving engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from zen.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zen.neural.datasets import load_digits_images

    images, labels = load_digits_images()
    frame = pd.DataFrame(images.reshape(len(images), 64), columns=[f"px{i}" for i in range(64)])
    frame["digit"] = labels
    path = tmp_path_factory.mktemp("digits") / "digits.csv"
    frame.iloc[:600].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def digits_run(digits_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    runs = tmp_path_factory.mktemp("image-runs")
    done = runner.invoke(app, ["fit", str(digits_csv), "--target", "digit", "--as-image", "8x8",
                               "--budget", "8s", "--no-progress", "--json", "--workers", "1",
                               "--runs-dir", str(runs)])  # fmt: skip
    assert done.exit_code == 0, done.output
    return dict(json.loads(done.stdout))


def test_fit_classifies_pixel_columns_as_images(digits_run: dict) -> None:
    assert digits_run["kind"] == "image" and digits_run["task"] == "image classification"
    board = {row["model"] for row in digits_run["leaderboard"]}
    assert board <= {"ResNet", "ConvNet", "MLP"} and len(board) >= 2
    assert digits_run["scores"]["test_accuracy"] > 0.8  # ten classes: chance is 0.1


def test_predict_and_serve_apply_the_image_run(digits_run: dict, digits_csv: Path) -> None:
    run = digits_run["run_dir"]
    done = runner.invoke(app, ["predict", run, str(digits_csv), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["kind"] == "image" and summary["rows"] == 600
    assert summary["columns"][:2] == ["image", "prediction"] and summary["scores"]["accuracy"] > 0.8
    from zen.runtime.servables import ImageServable, load_model

    servable = load_model(run)
    assert isinstance(servable, ImageServable)
    rows = pd.read_csv(digits_csv).drop(columns=["digit"]).to_numpy()[:3].tolist()
    prepared = servable.prepare({"inputs": rows})
    with torch.no_grad():
        logits = servable.torch_module()(torch.from_numpy(prepared.feeds["x"])).numpy()
    answer = servable.respond(prepared, [logits])
    expected = [row["prediction"] for row in summary["predictions"][:3]]
    assert answer["outputs"] == expected
    assert np.allclose(np.sum(answer["probabilities"], axis=1), 1.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--as-image", "7x7"], "as_image: 1x7x7 images need 49 pixel columns"),
        (["--as-image", "eight"], "as_image: expected HEIGHTxWIDTH"),
        ([], "target: name the label column"),
    ],
)
def test_bad_image_settings_are_named(digits_csv: Path, argv, message) -> None:
    target = [] if "target" in message else ["--target", "digit"]
    extra = argv if argv else ["--as-image", "8x8"]
    done = runner.invoke(app, ["fit", str(digits_csv), *target, *extra])
    assert done.exit_code == 2
    assert message in " ".join(done.output.split())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda frame: frame.drop(columns=["px63"]), "1x8x8 images need 64 pixel columns"),
        (lambda frame: frame.assign(px0="dark"), "pixel columns must be numbers; ['px0']"),
        (lambda frame: frame.assign(px5=np.where(frame.index == 3, np.nan, 0.0)),
         "row 3 has a missing or infinite pixel"),
    ],
)  # fmt: skip
def test_predict_refuses_pixels_the_run_cannot_read(
    digits_run: dict, digits_csv: Path, tmp_path: Path, change, message
) -> None:
    path = tmp_path / "pixels.csv"
    change(pd.read_csv(digits_csv).head(10)).to_csv(path, index=False)
    done = runner.invoke(app, ["predict", digits_run["run_dir"], str(path)])
    assert done.exit_code == 2
    assert message in " ".join(done.output.split())
