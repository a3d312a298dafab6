"""Old home of the graph job, kept so that code importing it keeps working.

The job lives in :mod:`zen.orchestrator.jobs.graph` now; import from there.
"""

from zen.graph.datasets import graph_source, load_graph
from zen.orchestrator.jobs.graph import (
    DEFAULT_TRAINING,
    GRAPH_FILE,
    GRAPH_FORMAT,
    GraphJob,
    GraphRunResult,
    candidates,
    fit_graph,
    graph_digest,
    graph_inputs,
    train_graph_candidate,
)

__all__ = [
    "DEFAULT_TRAINING",
    "GRAPH_FILE",
    "GRAPH_FORMAT",
    "GraphJob",
    "GraphRunResult",
    "candidates",
    "fit_graph",
    "graph_digest",
    "graph_inputs",
    "graph_source",
    "load_graph",
    "train_graph_candidate",
]
