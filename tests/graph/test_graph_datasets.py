"""Dataset readers: Planetoid (real Cora), TU format and edge-list CSV (generated), karate."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from zen.errors import DataError
from zen.graph.datasets import Planetoid, TUDataset, karate_club, load_edge_list
from zen.graph.utils import is_undirected


def test_planetoid_cora_public_split(cora_root: Path):
    data = Planetoid("Cora", root=cora_root)
    g = data[0]
    assert len(data) == 1 and (data.num_features, data.num_classes) == (1433, 7)
    assert (g.num_nodes, g.num_edges) == (2708, 10556)
    assert [int(m.sum()) for m in (g.train_mask, g.val_mask, g.test_mask)] == [140, 500, 1000]
    assert torch.bincount(g.y[g.train_mask]).tolist() == [20] * 7
    assert is_undirected(g.edge_index)
    torch.testing.assert_close(g.x.sum(1)[g.x.sum(1) > 0], torch.ones(2708))


def test_planetoid_missing_files_say_where_to_put_them(tmp_path: Path):
    with pytest.raises(DataError, match=r"ind\.citeseer\.x.*put the Planetoid files"):
        Planetoid("citeseer", root=tmp_path)


def test_tu_dataset_reads_graphs_labels_and_one_hot_nodes(tmp_path: Path, write_tu):
    data = TUDataset("TOY", root=write_tu(tmp_path))
    assert len(data) == 40 and data.num_classes == 2 and data.class_labels == [-1, 1]
    assert data.num_features == 3  # node labels 1, 2, 3 one-hot encoded
    first = data[0]
    assert first.y.tolist() == [0] and first.edge_index.min() == 0
    assert first.num_edges == 2 * first.num_nodes  # a cycle, both directions
    assert len(data[torch.arange(10)]) == 10


def test_tu_dataset_missing_file_is_named(tmp_path: Path):
    (tmp_path / "TOY").mkdir()
    with pytest.raises(DataError, match=r"TOY_A\.txt"):
        TUDataset("TOY", root=tmp_path)


def test_load_edge_list_with_features_and_labels(tmp_path: Path):
    (tmp_path / "edges.csv").write_text("src,dst,w\na,b,1.0\nb,c,2.0\nc,a,0.5\n")
    (tmp_path / "nodes.csv").write_text("id,f1,f2,label\na,1,0,cat\nb,0,1,dog\nc,1,1,\nd,0,0,cat\n")
    g = load_edge_list(
        tmp_path / "edges.csv", tmp_path / "nodes.csv", target="label", weight_column="w"
    )
    assert g.num_nodes == 4 and g.num_edges == 6 and g.node_ids == ["a", "b", "c", "d"]
    assert g.x.shape == (4, 2) and g.y.tolist() == [0, 1, -1, 0] and g.classes == ["cat", "dog"]
    assert g.edge_weight.shape == (6,)


@pytest.mark.parametrize(
    ("edges", "nodes", "message"),
    [
        ("src,dst\na,z\n", "id,f\na,1\n", "edges_csv: 1 edge.*missing.*'a' -> 'z'"),
        ("src,dst\n", None, "edges_csv: .* has no edges"),
        ("src,dst\na,b\n", "id,f\na,x\nb,y\n", r"feature column\(s\) \['f'\] are not numeric"),
    ],
)
def test_load_edge_list_errors(tmp_path: Path, edges: str, nodes: str | None, message: str):
    (tmp_path / "e.csv").write_text(edges)
    if nodes is not None:
        (tmp_path / "n.csv").write_text(nodes)
    with pytest.raises(DataError, match=message):
        load_edge_list(tmp_path / "e.csv", tmp_path / "n.csv" if nodes else None)


def test_load_edge_list_missing_file(tmp_path: Path):
    with pytest.raises(DataError, match="edges_csv: file not found"):
        load_edge_list(tmp_path / "nope.csv")


def test_karate_club():
    pytest.importorskip("networkx")
    g = karate_club()
    assert (g.num_nodes, g.num_edges, g.num_features) == (34, 156, 34)
    assert g.y[0] == 0 and g.y[33] == 1 and int(g.train_mask.sum()) == 2
