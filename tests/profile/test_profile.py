"""Task detection: the one place that decides classification vs regression, with a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen import ConfigError, DataError
from zen.orchestrator import detect_task, profile_table
from zen.orchestrator.profile import TaskProfile, profile_graph, profile_series
from zen.profile.graph_stats import describe_graph
from zen.profile.series_stats import autocorrelation, trend_strength


@pytest.mark.parametrize(
    ("values", "kind", "reason"),
    [
        (["cat", "dog"] * 10, "classification", "labels"),
        ([True, False] * 10, "classification", "labels"),
        ([0, 1] * 10, "classification", "binary"),
        (list(range(10)) * 10, "classification", "10 distinct integer values"),
        (np.linspace(0, 1, 50), "regression", "fractional"),
        (list(range(200)), "regression", "too many for classes"),
        # 15 values but only 2 rows each: counts, not classes.
        (list(range(15)) * 2, "regression", "too many for classes"),
    ],
)
def test_detects_task_from_the_target(values, kind, reason) -> None:
    detected, why = detect_task(pd.Series(values, name="y"))
    assert detected == kind
    assert reason in why and "'y'" in why


def test_profile_splits_features_by_type_and_drops_missing_targets() -> None:
    frame = pd.DataFrame(
        {
            "size": [1.0, 2.0, 3.0, 4.0],
            "color": ["r", "g", "b", "r"],
            "ok": [True, False, True, True],
            "y": [1.5, None, 2.5, 3.5],
        }
    )
    profile = profile_table(frame, "y")
    assert profile.kind == "regression"
    assert profile.numeric_features == ["size"]
    assert profile.categorical_features == ["color", "ok"]
    assert profile.n_rows == 3 and profile.dropped_rows == 1


def test_task_can_be_forced() -> None:
    frame = pd.DataFrame({"x": range(40), "y": [0, 1, 2, 3] * 10})
    profile = profile_table(frame, "y", task="regression")
    assert profile.kind == "regression" and "set to regression" in profile.reason


@pytest.mark.parametrize(
    ("frame", "target", "task", "error", "message"),
    [
        (pd.DataFrame({"x": [1], "y": [1]}), "z", "auto", DataError, "column 'z' not found"),
        (pd.DataFrame({"y": [1, 2]}), "y", "auto", DataError, "no feature columns"),
        (pd.DataFrame({"x": [1], "y": [None]}), "y", "auto", DataError, "every value is missing"),
        (pd.DataFrame({"x": [1], "y": [1]}), "y", "ranking", ConfigError, "task: unknown"),
        (pd.DataFrame({"x": [1], "y": ["a"]}), "y", "regression", ConfigError, "numeric target"),
    ],
)
def test_bad_profile_requests(frame, target, task, error, message) -> None:
    with pytest.raises(error, match=message):
        profile_table(frame, target, task)


# -- the statistics the router decides on ---------------------------------------------------


def hourly(values_by_id: dict[str, np.ndarray], freq: str = "h") -> pd.DataFrame:
    """Long-format series (unique_id, ds, y) on a regular time axis."""
    return pd.concat(
        pd.DataFrame(
            {"unique_id": key, "ds": pd.date_range("2024-01-01", periods=len(y), freq=freq), "y": y}
        )
        for key, y in values_by_id.items()
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_daily_cycle_of_hourly_series_is_found_at_lag_24(rng) -> None:
    steps = np.arange(24 * 30)
    series = {
        f"s{i}": 10 + 3 * np.sin(2 * np.pi * steps / 24 + i) + rng.normal(0, 1, len(steps))
        for i in range(4)
    }
    profile = profile_series(hourly(series), horizon=24)
    assert profile.freq == "h" and profile.season_length == 24
    assert profile.seasonal_acf is not None and profile.seasonal_acf > 0.5
    assert "lag 24" in profile.reasons["season_length"]
    assert (profile.min_series_length, profile.max_series_length) == (720, 720)


def test_period_is_found_without_a_calendar_among_generic_lags(rng) -> None:
    steps = np.arange(240)
    wide = pd.DataFrame(
        {"ds": steps, "a": np.cos(2 * np.pi * steps / 12) + rng.normal(0, 0.3, 240)}
    )
    profile = profile_series(wide, horizon=6)
    assert profile.freq is None and "integer steps" in profile.reasons["freq"]
    assert profile.season_length == 12


def test_white_noise_has_no_season_and_no_trend(rng) -> None:
    profile = profile_series(hourly({"a": rng.normal(0, 1, 1000)}), horizon=24)
    assert profile.season_length == 1 and "no seasonality" in profile.reasons["season_length"]
    assert profile.trend_strength is not None and profile.trend_strength < 0.2


@pytest.mark.parametrize(
    ("slope", "season", "low", "high"),
    [(0.05, 1, 0.9, 1.0), (0.0, 1, 0.0, 0.2), (0.05, 24, 0.9, 1.0), (0.0, 24, 0.0, 0.2)],
)
def test_trend_strength_separates_trending_from_flat_series(rng, slope, season, low, high) -> None:
    steps = np.arange(960)
    cycle = 2 * np.sin(2 * np.pi * steps / season) if season > 1 else 0.0
    values = slope * steps + cycle + rng.normal(0, 1, len(steps))
    assert low <= trend_strength(values, season) <= high


def test_trend_strength_of_a_pure_line_is_one() -> None:
    assert trend_strength(np.arange(100.0)) == pytest.approx(1.0)
    assert trend_strength(np.arange(8.0)) is None  # shorter than two windows


def test_autocorrelation_matches_the_textbook_formula(rng) -> None:
    values = rng.normal(0, 1, 50).cumsum()
    centred = values - values.mean()
    expected = [np.sum(centred[lag:] * centred[: len(values) - lag]) / np.sum(centred**2)
                for lag in range(6)]  # fmt: skip
    np.testing.assert_allclose(autocorrelation(values, 5), expected, atol=1e-12)


def test_intermittent_counts_get_zero_share_and_adi(rng) -> None:
    demand = np.where(rng.random(600) < 0.25, rng.integers(1, 5, 600), 0).astype(float)
    profile = profile_series(hourly({"sku": demand}, freq="D"), horizon=7)
    assert profile.zero_ratio == pytest.approx(np.mean(demand == 0))
    assert profile.adi == pytest.approx(600 / np.count_nonzero(demand))
    assert profile.adi >= 1.32 and "intermittent demand" in profile.reasons["adi"]
    assert "counts" in profile.reasons["zero_ratio"]


def test_gaps_and_missing_values_count_as_missing_steps(rng) -> None:
    frame = hourly({"a": rng.normal(0, 1, 100)})
    frame.loc[frame.index[10], "y"] = np.nan
    frame = frame.drop(frame.index[50:54])  # a 4-hour gap in ds
    profile = profile_series(frame, horizon=4)
    assert profile.missing_ratio == pytest.approx(5 / 100)
    assert "5 of 100 time steps" in profile.reasons["missing_ratio"]


def test_class_balance_is_minority_over_majority() -> None:
    frame = pd.DataFrame({"x": range(40), "y": ["spam"] * 10 + ["ham"] * 30})
    profile = profile_table(frame, "y")
    assert profile.class_balance == pytest.approx(1 / 3)
    assert "'spam' has 10 rows, commonest 'ham' has 30" in profile.reasons["class_balance"]
    assert profile_table(frame.assign(y=np.arange(40) * 0.5), "y").class_balance is None


def test_table_missing_ratio_counts_empty_feature_cells() -> None:
    frame = pd.DataFrame({"a": [1.0, None, 3.0, None], "b": ["x", "y", None, "z"], "y": [1.5] * 4})
    profile = profile_table(frame, "y")
    assert profile.missing_ratio == pytest.approx(3 / 8)
    assert "(most in 'a', 'b')" in profile.reasons["missing_ratio"]


def hand_made_graph(test_mask=None):
    """Two triangles of classes 0 and 1 joined by one edge, plus a self-loop on node 5."""
    from zen.graph import Graph

    pairs = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (2, 3)]
    edges = [*pairs, *[(j, i) for i, j in pairs], (5, 5)]
    return Graph(
        x=np.ones((6, 2)),
        edge_index=np.array(edges).T,
        y=np.array([0, 0, 0, 1, 1, 1]),
        test_mask=test_mask,
    )


def test_graph_homophily_density_and_degree_on_a_hand_made_graph() -> None:
    profile = profile_graph(hand_made_graph(), "two-triangles")
    assert profile.family == "graph" and profile.kind == "node classification"
    assert profile.homophily == pytest.approx(5 / 6)  # the self-loop is left out
    assert profile.graph_density == pytest.approx(12 / 30)
    assert profile.mean_degree == pytest.approx(2.0)
    assert (profile.num_nodes, profile.num_edges, profile.class_balance) == (6, 13, 1.0)
    assert "83% of 12 labelled edges" in profile.reasons["homophily"]


def test_graph_homophily_ignores_test_labels() -> None:
    hidden = np.array([False] * 5 + [True])
    profile = profile_graph(hand_made_graph(test_mask=hidden), "two-triangles")
    assert profile.homophily == pytest.approx(4 / 5)
    assert "test nodes left out" in profile.reasons["homophily"]


def test_graph_homophily_equals_pyg_without_self_loops(rng) -> None:
    pyg = pytest.importorskip("torch_geometric.utils")
    import torch

    edges = rng.integers(0, 50, (2, 400))
    edges = edges[:, edges[0] != edges[1]]
    labels = rng.integers(0, 3, 50)
    values, _ = describe_graph(edges, labels, 50)
    expected = pyg.homophily(torch.as_tensor(edges), torch.as_tensor(labels), method="edge")
    assert values["homophily"] == pytest.approx(float(expected), abs=1e-6)


def test_profile_round_trips_through_json_and_old_loaders() -> None:
    frame = pd.DataFrame({"x": range(40), "y": [0, 1, 1, 1] * 10})
    profile = profile_table(frame, "y")
    payload = profile.to_json()
    assert TaskProfile.from_json({**payload, "added_by_a_newer_zen": 1}) == profile
    payload.pop("n_features")
    assert TaskProfile(**payload) == profile  # how TabularModel.load reads it back
    with pytest.raises(DataError, match="profile: missing kind"):
        TaskProfile.from_json({"reason": "", "target": "y", "n_rows": 1})


@pytest.mark.parametrize(
    ("kind", "layout", "family"),
    [
        ("classification", None, "tabular classification"),
        ("regression", None, "tabular regression"),
        ("forecasting", "long", "time series"),
        ("node classification", "graph", "graph"),
    ],
)
def test_family_follows_the_kind(kind, layout, family) -> None:
    assert TaskProfile(kind=kind, reason="", target="y", n_rows=1, layout=layout).family == family


def test_features_have_the_same_keys_for_every_family(rng) -> None:
    table = profile_table(pd.DataFrame({"x": range(40), "y": [0, 1] * 20}), "y")
    series = profile_series(hourly({"a": rng.normal(0, 1, 200)}), horizon=12)
    graph = profile_graph(hand_made_graph(), "g")
    keys = [sorted(profile.features()) for profile in (table, series, graph)]
    assert keys[0] == keys[1] == keys[2]
    assert all(isinstance(v, float) for v in series.features().values())
    assert graph.features()["homophily"] == pytest.approx(5 / 6)


def test_explain_gives_a_reason_for_every_statistic(rng) -> None:
    steps = np.arange(24 * 20)
    profile = profile_series(hourly({"a": np.sin(2 * np.pi * steps / 24)}), horizon=24)
    lines = {line.feature: line for line in profile.explain()}
    assert lines["kind"].value == "forecasting"
    assert lines["season_length"].value == 24
    for feature in ("freq", "season_length", "trend_strength", "missing_ratio", "zero_ratio"):
        assert lines[feature].reason, feature
    assert "n_features" not in lines  # a wide table's columns are series, not features


def test_profile_data_dispatches_like_zen_fit(rng) -> None:
    from zen.orchestrator.profile import profile_data

    series = hourly({"a": rng.normal(0, 1, 100)})
    assert profile_data(series, horizon=12).family == "time series"
    table = pd.DataFrame({"x": range(40), "y": [0, 1] * 20})
    assert profile_data(table, "y").family == "tabular classification"
    with pytest.raises(ConfigError, match="horizon: the data are time series"):
        profile_data(series)
    with pytest.raises(ConfigError, match="target: name the column"):
        profile_data(table)
