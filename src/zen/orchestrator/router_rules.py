"""The router's rule prior: what the literature says works for data like this.

Each :class:`Rule` is a finding about a task profile (seasonal and long series, heterophilous
graph, small table...) and multipliers on every candidate's expected *relative score* (its loss
over the best loss of the task, 1.0 = the best; see :mod:`zen.orchestrator.meta_learning`).
:func:`rule_prior` applies the rules that hold to each candidate's base expectation
(:data:`POOLS`). Every rule cites the paper or benchmark behind it, and the reason a candidate
gets its place names the rules that moved it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zen.errors import ConfigError
from zen.profile import FAMILIES, TaskProfile

#: The candidates of each family with their base expected relative score (the general case
#: before any rule) and default options. Time series: N-HiTS and N-BEATS lead on M4 and the
#: long-horizon benchmarks (Oreshkin et al. 2020; Challu et al. 2023), ahead of TCN and DeepAR,
#: with the naive family behind (Makridakis et al. 2020, M4). Graphs: GCN, GAT and GraphSAGE
#: are within a point of each other on citation graphs once tuned alike, GCN the most robust
#: (Shchur et al. 2018, "Pitfalls of GNN evaluation"). Tables: the one family zen has, an MLP,
#: at three capacities.
POOLS: dict[str, dict[str, tuple[float, dict[str, Any]]]] = {
    "time series": {
        "NHITS": (1.00, {}),
        "NBEATS": (1.02, {}),
        "TCN": (1.10, {}),
        "DeepAR": (1.12, {}),
        "SeasonalNaive": (1.25, {}),
        "RandomWalkWithDrift": (1.30, {}),
        "Naive": (1.35, {}),
        "HistoricAverage": (1.45, {}),
    },
    "graph": {"GCN": (1.00, {}), "GAT": (1.01, {}), "GraphSAGE": (1.02, {})},
    "tabular regression": {
        "MLP": (1.00, {}),
        "MLP-regularised": (1.02, {"hidden_layers": [64], "dropout": 0.3, "weight_decay": 0.1}),
        "MLP-wide": (1.04, {"hidden_layers": [256, 256], "dropout": 0.1}),
    },
}
POOLS["tabular classification"] = POOLS["tabular regression"]


@dataclass(frozen=True)
class Rule:
    """A finding about the data and what it does to each candidate's expected relative score.

    Attributes:
        name: what was found, as the reason shows it.
        family: the family it applies to.
        applies: whether the profile shows the finding.
        factors: multiplier per candidate (< 1: expected to do better).
        source: the paper or benchmark behind the rule.
        options: hyperparameters to suggest to a candidate when the rule applies.
    """

    name: str
    family: str
    applies: Callable[[TaskProfile], bool]
    factors: Mapping[str, float]
    source: str
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _season(profile: TaskProfile) -> int:
    return profile.season_length or 1


def _length(profile: TaskProfile) -> float:
    return profile.median_series_length or 0.0


def _intermittent(profile: TaskProfile) -> bool:
    # Syntetos & Boylan's ADI cut-off, or many zeros when the ADI could not be computed.
    return (profile.adi or 1.0) >= 1.32 or (profile.zero_ratio or 0.0) >= 0.3


RULES: tuple[Rule, ...] = (
    Rule(
        "seasonal and long series", "time series",
        lambda p: _season(p) > 1 and _length(p) >= 10 * _season(p),
        {"NHITS": 0.97, "NBEATS": 0.98, "SeasonalNaive": 0.92, "Naive": 1.1,
         "RandomWalkWithDrift": 1.1, "HistoricAverage": 1.1},
        "multi-rate pooling and seasonal bases fit repeated patterns (Challu et al. 2023;"
        " Oreshkin et al. 2020); seasonal naive beats naive on seasonal data (Hyndman &"
        " Athanasopoulos, FPP3 §5.2)",
    ),
    Rule(
        "short series", "time series",
        lambda p: 0 < _length(p) < 100,
        {"NHITS": 1.2, "NBEATS": 1.15, "TCN": 1.25, "DeepAR": 1.25, "SeasonalNaive": 0.95,
         "Naive": 0.95, "HistoricAverage": 0.9},
        "few training windows: on short series (M3) simple statistical methods beat learned"
        " ones (Makridakis, Spiliotis & Assimakopoulos 2018)",
    ),
    Rule(
        "intermittent demand", "time series", _intermittent,
        {"DeepAR": 0.75, "HistoricAverage": 0.75, "Naive": 0.95, "SeasonalNaive": 1.1,
         "NHITS": 1.15, "NBEATS": 1.15, "TCN": 1.15, "RandomWalkWithDrift": 1.2},
        "point forecasts of sparse demand chase the zeros; a negative binomial likelihood"
        " models counts (DeepAR, Salinas et al. 2020) and a level beats a last value"
        " (Syntetos & Boylan 2005)",
        options={"DeepAR": {"loss": "DistributionLoss", "distribution": "NegativeBinomial"}},
    ),
    Rule(
        "strong trend without season", "time series",
        lambda p: (p.trend_strength or 0.0) >= 0.6 and _season(p) == 1,
        {"RandomWalkWithDrift": 0.85, "NBEATS": 0.97, "SeasonalNaive": 1.1,
         "HistoricAverage": 1.3},
        "a drift extrapolates a trend that the mean and seasonal naive ignore; N-BEATS has a"
        " polynomial trend basis (Oreshkin et al. 2020)",
    ),
    Rule(
        "noise-like series", "time series",
        lambda p: _season(p) == 1 and (p.trend_strength or 0.0) < 0.3 and not _intermittent(p),
        {"HistoricAverage": 0.8, "Naive": 1.05, "NHITS": 1.05, "NBEATS": 1.05, "TCN": 1.05},
        "without trend or season the mean is the best forecast and flexible models fit noise"
        " (Hyndman & Athanasopoulos, FPP3 §5.2)",
    ),
    Rule(
        "many series", "time series",
        lambda p: (p.n_series or 0) >= 100,
        {"NHITS": 0.97, "NBEATS": 0.97, "TCN": 0.97, "DeepAR": 0.95},
        "global models learn across series (Montero-Manso & Hyndman 2021)",
    ),
    Rule(
        "long horizon", "time series",
        lambda p: (p.horizon or 0) >= 48,
        {"NHITS": 0.96, "DeepAR": 1.05},
        "N-HiTS was designed for long horizons; autoregressive sampling accumulates error"
        " (Challu et al. 2023)",
    ),
    Rule(
        "homophilous graph", "graph",
        lambda p: (p.homophily or 0.0) >= 0.7,
        {"GCN": 0.98, "GraphSAGE": 1.02},
        "GCN's neighbourhood averaging is a low-pass filter, right when neighbours share"
        " labels (Kipf & Welling 2017; Zhu et al. 2020)",
    ),
    Rule(
        "heterophilous graph", "graph",
        lambda p: p.homophily is not None and p.homophily < 0.5,
        {"GraphSAGE": 0.9, "GAT": 0.95, "GCN": 1.05},
        "keeping a node's own features apart from its neighbours' matters under heterophily"
        " (ego/neighbour separation, Zhu et al. 2020): GraphSAGE's root weight does,"
        " GCN's averaging mixes them",
    ),
    Rule(
        "large graph", "graph",
        lambda p: (p.num_nodes or 0) >= 100_000,
        {"GraphSAGE": 0.95, "GAT": 1.05},
        "GraphSAGE was built for neighbour sampling on large graphs (Hamilton et al. 2017);"
        " attention costs memory per edge",
    ),
    Rule(
        "many neighbours", "graph",
        lambda p: (p.mean_degree or 0.0) >= 20,
        {"GAT": 0.97},
        "attention weighs many neighbours instead of averaging them equally"
        " (Veličković et al. 2018)",
    ),
    *(
        rule
        for family in ("tabular regression", "tabular classification")
        for rule in (
            Rule(
                "small table", family,
                lambda p: p.n_rows < 1000,
                {"MLP-regularised": 0.93, "MLP-wide": 1.08},
                "MLPs on small tables need strong regularisation (Kadra et al. 2021,"
                " regularisation cocktails; Grinsztajn et al. 2022)",
            ),
            Rule(
                "many features per row", family,
                lambda p: p.n_features >= max(10, p.n_rows // 10),
                {"MLP-regularised": 0.95, "MLP-wide": 1.05},
                "many features per row invite overfitting (Hastie, Tibshirani & Friedman,"
                " ESL §18)",
            ),
            Rule(
                "large table", family,
                lambda p: p.n_rows >= 50_000,
                {"MLP-wide": 0.95, "MLP-regularised": 1.03},
                "with enough rows capacity pays off (Gorishniy et al. 2021)",
            ),
        )
    ),
)  # fmt: skip


@dataclass(frozen=True)
class PriorScore:
    """A candidate's expected relative score from the rules, and the rules that set it."""

    name: str
    score: float
    rules: tuple[Rule, ...]
    options: dict[str, Any]


def rule_prior(profile: TaskProfile) -> list[PriorScore]:
    """Each candidate of the profile's family with its rule-based expected relative score,
    best first (normalised so that the best is 1.0).

    Raises:
        ConfigError: the profile's family has no candidates.
    """
    pool = POOLS.get(profile.family)
    if pool is None:
        raise ConfigError(
            f"profile: no candidates for family {profile.family!r} (kind {profile.kind!r});"
            f" the router knows {', '.join(FAMILIES)}"
        )
    applied = [rule for rule in RULES if rule.family == profile.family and rule.applies(profile)]
    scores = []
    for name, (base, defaults) in pool.items():
        score = base
        options = dict(defaults)
        for rule in applied:
            score *= rule.factors.get(name, 1.0)
            options.update(rule.options.get(name, {}))
        relevant = tuple(rule for rule in applied if name in rule.factors)
        scores.append(PriorScore(name, score, relevant, options))
    best = min(prior.score for prior in scores)
    normalised = [PriorScore(p.name, p.score / best, p.rules, p.options) for p in scores]
    # Stable sort: ties keep the pool's order, which lists the usual favourite first.
    return sorted(normalised, key=lambda prior: prior.score)
