"""The router's rule prior: what the literature says works for data like this.

Each :class:`Rule` is a finding about a task profile (seasonal and long series, heterophilous
graph, small table...). Each model says, where it is declared (:class:`zen.registry.ModelSpec`:
``prior`` and ``rule_factors``), its base expectation of its *relative score* (its loss over the
best loss of the task, 1.0 = the best; see :mod:`zen.orchestrator.meta_learning`) and how each
finding moves it. :func:`rule_prior` applies the rules that hold to every registered candidate
of the task's family. Every rule cites the paper or benchmark behind it, and the reason a
candidate gets its place names the rules that moved it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from zen import registry
from zen.errors import ConfigError
from zen.profile import FAMILIES, TaskProfile
from zen.profile.sequences import FEW_CASES_PER_CLASS, LONG_SEQUENCE


class _Pools(Mapping[str, dict[str, tuple[float, dict[str, Any]]]]):
    """The candidates of each family with their base expected relative score and default
    options, as the registry holds them now (``POOLS["time series"]["NHITS"]``)."""

    def __getitem__(self, family: str) -> dict[str, tuple[float, dict[str, Any]]]:
        if family not in registry.FAMILY_KINDS:
            raise KeyError(family)
        return {spec.name: (spec.prior, dict(spec.options))
                for spec in registry.candidates(registry.FAMILY_KINDS[family])}  # fmt: skip

    def __iter__(self) -> Iterator[str]:
        return iter(registry.FAMILY_KINDS)

    def __len__(self) -> int:
        return len(registry.FAMILY_KINDS)


POOLS = _Pools()


@dataclass(frozen=True)
class Rule:
    """A finding about the data and what it does to each candidate's expected relative score.

    Attributes:
        name: what was found, as the reason shows it.
        family: the family it applies to.
        applies: whether the profile shows the finding.
        source: the paper or benchmark behind the rule.

    What the finding does to each model is the model's to say
    (:attr:`zen.registry.ModelSpec.rule_factors` and ``rule_options``).
    """

    name: str
    family: str
    applies: Callable[[TaskProfile], bool]
    source: str


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
        "multi-rate pooling and seasonal bases fit repeated patterns (Challu et al. 2023;"
        " Oreshkin et al. 2020); seasonal naive beats naive on seasonal data (Hyndman &"
        " Athanasopoulos, FPP3 §5.2)",
    ),
    Rule(
        "short series", "time series",
        lambda p: 0 < _length(p) < 100,
        "few training windows: on short series (M3) simple statistical methods beat learned"
        " ones (Makridakis, Spiliotis & Assimakopoulos 2018)",
    ),
    Rule(
        "intermittent demand", "time series", _intermittent,
        "point forecasts of sparse demand chase the zeros; a negative binomial likelihood"
        " models counts (DeepAR, Salinas et al. 2020) and a level beats a last value"
        " (Syntetos & Boylan 2005)",
    ),
    Rule(
        "strong trend without season", "time series",
        lambda p: (p.trend_strength or 0.0) >= 0.6 and _season(p) == 1,
        "a drift extrapolates a trend that the mean and seasonal naive ignore; N-BEATS has a"
        " polynomial trend basis (Oreshkin et al. 2020)",
    ),
    Rule(
        "noise-like series", "time series",
        lambda p: _season(p) == 1 and (p.trend_strength or 0.0) < 0.3 and not _intermittent(p),
        "without trend or season the mean is the best forecast and flexible models fit noise"
        " (Hyndman & Athanasopoulos, FPP3 §5.2)",
    ),
    Rule(
        "many series", "time series",
        lambda p: (p.n_series or 0) >= 100,
        "global models learn across series (Montero-Manso & Hyndman 2021)",
    ),
    Rule(
        "long horizon", "time series",
        lambda p: (p.horizon or 0) >= 48,
        "N-HiTS was designed for long horizons; autoregressive sampling accumulates error"
        " (Challu et al. 2023)",
    ),
    Rule(
        "homophilous graph", "graph",
        lambda p: (p.homophily or 0.0) >= 0.7,
        "GCN's neighbourhood averaging is a low-pass filter, right when neighbours share"
        " labels (Kipf & Welling 2017; Zhu et al. 2020)",
    ),
    Rule(
        "heterophilous graph", "graph",
        lambda p: p.homophily is not None and p.homophily < 0.5,
        "keeping a node's own features apart from its neighbours' matters under heterophily"
        " (ego/neighbour separation, Zhu et al. 2020): GraphSAGE's root weight does,"
        " GCN's averaging mixes them",
    ),
    Rule(
        "large graph", "graph",
        lambda p: (p.num_nodes or 0) >= 100_000,
        "GraphSAGE was built for neighbour sampling on large graphs (Hamilton et al. 2017);"
        " attention costs memory per edge",
    ),
    Rule(
        "many neighbours", "graph",
        lambda p: (p.mean_degree or 0.0) >= 20,
        "attention weighs many neighbours instead of averaging them equally"
        " (Veličković et al. 2018)",
    ),
    Rule(
        "few sequences per class", "sequence classification",
        lambda p: p.n_rows < FEW_CASES_PER_CLASS * (p.n_classes or 1),
        "with few training sequences the convolutional ResNet and FCN stay the most accurate"
        " (Fawaz et al. 2019, 85 UCR sets); attention models need more data (Zerveas et al."
        " 2021)",
    ),
    Rule(
        "long sequences", "sequence classification",
        lambda p: (p.median_series_length or 0.0) >= LONG_SEQUENCE,
        "recurrent networks lose long-range gradients (Bengio et al. 1994) and attention costs"
        " grow with the square of the length, so patches help (Nie et al. 2023)",
    ),
    Rule(
        "unequal lengths", "sequence classification",
        lambda p: (p.min_series_length or 0) != (p.max_series_length or 0),
        "a flat MLP sees padding where sequences end early; convolutions, recurrence and"
        " attention mask it (Fawaz et al. 2019 resample the MLP's inputs instead)",
    ),
    *(
        rule
        for family in ("tabular regression", "tabular classification")
        for rule in (
            Rule(
                "small table", family,
                lambda p: p.n_rows < 1000,
                "MLPs on small tables need strong regularisation (Kadra et al. 2021,"
                " regularisation cocktails; Grinsztajn et al. 2022)",
            ),
            Rule(
                "many features per row", family,
                lambda p: p.n_features >= max(10, p.n_rows // 10),
                "many features per row invite overfitting (Hastie, Tibshirani & Friedman,"
                " ESL §18)",
            ),
            Rule(
                "large table", family,
                lambda p: p.n_rows >= 50_000,
                "with enough rows capacity pays off (Gorishniy et al. 2021)",
            ),
        )
    ),
)  # fmt: skip


@dataclass(frozen=True)
class PriorScore:
    """A candidate's expected relative score from the rules, and the rules that set it.

    Attributes:
        base: the model's prior before any rule (:attr:`zen.registry.ModelSpec.prior`).
        factors: the multiplier each rule in ``rules`` applied to it, by rule name.
    """

    name: str
    score: float
    rules: tuple[Rule, ...]
    options: dict[str, Any]
    base: float = 1.0
    factors: Mapping[str, float] = field(default_factory=dict)


def rule_prior(profile: TaskProfile) -> list[PriorScore]:
    """Each registered candidate of the profile's family with its rule-based expected
    relative score, best first (normalised so that the best is 1.0).

    Raises:
        ConfigError: the profile's family has no candidates.
    """
    kind = registry.FAMILY_KINDS.get(profile.family)
    pool = registry.candidates(kind) if kind is not None else []
    if not pool:
        raise ConfigError(
            f"profile: no candidates for family {profile.family!r} (kind {profile.kind!r});"
            f" the router knows {', '.join(FAMILIES)}"
        )
    applied = [rule for rule in RULES if rule.family == profile.family and rule.applies(profile)]
    scores = []
    for spec in pool:
        score = spec.prior
        options = dict(spec.options)
        factors = {}
        for rule in applied:
            if rule.name in spec.rule_factors:
                factors[rule.name] = spec.rule_factors[rule.name]
                score *= factors[rule.name]
            options.update(spec.rule_options.get(rule.name, {}))
        relevant = tuple(rule for rule in applied if rule.name in factors)
        scores.append(PriorScore(spec.name, score, relevant, options, spec.prior, factors))
    best = min(prior.score for prior in scores)
    normalised = [dataclasses.replace(prior, score=prior.score / best) for prior in scores]
    # Ties keep the lower base prior first (the family's usual favourite), then registration
    # order (a stable sort).
    return sorted(normalised, key=lambda prior: (prior.score, prior.base))
