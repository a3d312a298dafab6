"""The main job (`zen fit` without the shell): split, train, score, save a run atomically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen import ConfigError, DataError
from zen.orchestrator import fit
from zen.orchestrator.history import History
from zen.orchestrator.jobs import tabular as jobs


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150)})
    data["y"] = 3 * data["a"] - data["b"] + rng.normal(scale=0.1, size=150)
    return data


def test_regression_run_beats_the_mean_baseline(frame, tmp_path) -> None:
    result = fit(frame, "y", runs_dir=tmp_path, max_epochs=100)
    assert result.profile.kind == "regression"
    assert result.baseline_name.startswith("training mean")
    assert result.metrics["r2"] > 0.8 > result.baseline["r2"]
    assert result.n_train + result.n_test == 150
    assert (result.model_dir / "model.safetensors").is_file()
    # The run's start and end are on the event log, with the parent run's id.
    events = History().events(kinds=["run_started", "run_finished", "run_failed"])
    assert [(e.kind, e.run_id) for e in events] == [
        ("run_started", result.history_id),
        ("run_finished", result.history_id),
    ]
    assert events[1].payload["metrics"]["r2"] == pytest.approx(result.metrics["r2"])


def test_a_failure_while_saving_leaves_no_half_written_run(frame, tmp_path, monkeypatch) -> None:
    def broken_plot(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(jobs, "plot_learning_curves", broken_plot)
    with pytest.raises(OSError, match="no space"):
        fit(frame, "y", runs_dir=tmp_path, max_epochs=2)
    assert list(tmp_path.iterdir()) == []
    last = History().events(kinds=["run_started", "run_finished", "run_failed"])[-1]
    assert last.kind == "run_failed" and "no space left" in last.payload["error"]


def test_too_few_rows(tmp_path) -> None:
    tiny = pd.DataFrame({"a": range(5), "y": [0.5, 1.5, 2.5, 3.5, 4.5]})
    with pytest.raises(DataError, match="too few"):
        fit(tiny, "y", runs_dir=tmp_path)


def test_bad_test_size(frame, tmp_path) -> None:
    with pytest.raises(ConfigError, match="test_size"):
        fit(frame, "y", runs_dir=tmp_path, test_size=1.5)


def test_unreadable_csv(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b'a,b\n1,"2\n')
    with pytest.raises(DataError, match="not a readable CSV"):
        fit(path, "b", runs_dir=tmp_path)
