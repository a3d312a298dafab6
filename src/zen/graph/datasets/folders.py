"""A graph from files on disk: a Planetoid folder, or an edge-list CSV with a node CSV.

:func:`load_graph` is what ``zen fit FOLDER`` and ``zen fit --edges --nodes`` read;
:func:`graph_source` records how, so that a saved model can read its graph again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zen.errors import ConfigError, DataError
from zen.graph.datasets.edge_list import load_edge_list
from zen.graph.datasets.planetoid import Planetoid


def is_graph_source(path: Path | None) -> bool:
    """Whether ``path`` is a Planetoid folder (holds ``ind.<name>.x``, maybe under ``raw/``)."""
    return path is not None and path.is_dir() and _planetoid_name(path) is not None


def load_graph(
    data: Path | None = None,
    *,
    edges: Path | None = None,
    nodes: Path | None = None,
    target: str | None = None,
) -> tuple[Any, str]:
    """The graph to learn from and a short name for it.

    Args:
        data: a Planetoid folder (``ind.<name>.*`` files).
        edges, nodes, target: an edge-list CSV, a node CSV with features, and its label column.
    """
    if edges is not None:
        if nodes is None or target is None:
            raise ConfigError(
                "nodes, target: a graph from --edges also needs --nodes nodes.csv (features and"
                " labels) and --target LABEL_COLUMN"
            )
        return load_edge_list(edges, nodes, target), Path(edges).stem
    if data is None or not data.is_dir():
        raise DataError(f"data: {data} is not a folder; pass a Planetoid folder or --edges")
    name = _planetoid_name(data)
    if name is None:
        raise DataError(
            f"data: no Planetoid files (ind.<name>.x, .y, .graph, ...) in {data}; for an edge"
            " list use --edges edges.csv --nodes nodes.csv --target label"
        )
    folder = data.parent if data.name != "raw" else data.parent.parent
    return Planetoid(name, root=folder)[0], name


def graph_source(
    data: Path | None = None,
    *,
    edges: Path | None = None,
    nodes: Path | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """The arguments of :func:`load_graph` that read this graph, with absolute paths: what a
    run records to read its graph again from any working directory."""

    def absolute(path: Path | None) -> str | None:
        return None if path is None else str(Path(path).expanduser().resolve())

    if edges is not None:
        return {"edges": absolute(edges), "nodes": absolute(nodes), "target": target}
    return {"data": absolute(data)}


def _planetoid_name(folder: Path) -> str | None:
    for place in (folder, folder / "raw"):
        found = sorted(place.glob("ind.*.x"))
        if found:
            return found[0].name.split(".")[1]
    return None
