"""``zen tune``: tune one model on the part of some data that ``zen fit`` would train on.

The data are read and split exactly as :func:`~zen.orchestrator.jobs.fit` would with the same
seed and settings (:func:`~zen.orchestrator.jobs.dispatch.make_job`), and the job's own ``tune``
runs the study: on a table's training rows, on the history before a forecast's validation
window, on a graph's training and validation nodes. So the parameters found never saw the rows,
window or nodes a later ``zen fit`` scores on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from zen import registry
from zen.errors import ConfigError
from zen.orchestrator.jobs.dispatch import make_job
from zen.orchestrator.orchestration import routed_candidates
from zen.orchestrator.search_spaces import canonical_model, tunable
from zen.orchestrator.tune_distributed import resolve_cluster


def tune_data(
    data: str | Path | pd.DataFrame | None,
    target: str | None = None,
    *,
    edges: str | Path | None = None,
    nodes: str | Path | None = None,
    horizon: int | None = None,
    model: str | None = None,
    n_trials: int = 20,
    timeout_s: float | None = None,
    task: str = "auto",
    test_size: float = 0.2,
    seed: int = 0,
    storage: str | Path | None = None,
    study_name: str | None = None,
    cluster: str | None = None,
    parallel: int | None = None,
    policy: str = "learned",
    series_options: Mapping[str, Any] | None = None,
    as_image: str | tuple[int, int, int] | None = None,
) -> dict[str, Any]:
    """Tune ``model`` (default: the router's first tunable candidate) on ``data``.

    Args:
        data, target, edges, nodes, horizon, task, test_size, seed, series_options, as_image:
            as :func:`~zen.orchestrator.jobs.fit`; the same values give the same split.
        model: a model of the data's kind with a search space (``MLP``, ``NHITS``, ``GCN``,
            ``ResNet``...);
            None: the router's best-ranked candidate that has one.
        n_trials: trials to run (a continued study keeps its earlier ones).
        timeout_s: stop starting trials after this many seconds.
        storage: where the study lives: a SQLite path, ``postgresql://...``, or an Optuna
            journal file; None: History's database.
        study_name: continue this study; None: a name derived from the model, data and settings,
            so the same command continues the same study.
        cluster: run the trials as Ray tasks on a cluster (an address or ``auto``); None or
            ``local``: in this process.
        parallel: trials at once on the cluster (None: one per CPU); needs ``cluster``.
        policy: the router's policy when ``model`` is None.

    Returns:
        The tuning's summary: ``family``, ``model``, ``chosen_by`` (``"you"`` or the router's
        reason), the study's name, storage and counts, ``best_value``, ``best_hyperparameters``
        (the model's arguments, ready for ``hyperparameters=``), and trials per node.

    Raises:
        ConfigError: a bad setting, or a model that is not a tunable model of the data's kind.
    """
    cluster = resolve_cluster(None if cluster == "local" else cluster, parallel)
    job = make_job(
        data, target, edges=edges, nodes=nodes, horizon=horizon, task=task, test_size=test_size,
        seed=seed, series_options=series_options, as_image=as_image,
    )  # fmt: skip
    kind = job.kind
    if model is not None:
        name = canonical_model(model, kind)
        chosen_by = "you"
    else:
        known = [name for name in registry.names_of(registry.candidates(kind)) if name in
                 tunable(kind)]  # fmt: skip
        if not known:
            raise ConfigError(f"model: no model for {job.profile.family} data has a search space")
        first = routed_candidates(job.profile, 300.0, known, policy=policy, seed=seed, limit=1)[0]
        name, chosen_by = first.name, f"the router's first choice: {first.reason}"
    study: dict[str, Any] = {"cluster": cluster, "parallel": parallel}
    if storage is not None:
        study["storage"] = storage
    if study_name is not None:
        study["study_name"] = study_name
    summary, _ = job.tune(name, timeout_s, n_trials=n_trials, **study)
    if "skipped" in summary:
        raise ConfigError(f"model: {name} cannot be tuned on these data: {summary['skipped']}")
    return {"family": job.profile.family, "source": str(job.source), "chosen_by": chosen_by,
            **summary}  # fmt: skip
