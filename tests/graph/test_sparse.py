"""The sparse-product aggregation path gives what gather/scatter gives, values and gradients."""

from __future__ import annotations

import pytest
import torch

from zen.graph import GCNConv, SAGEConv
from zen.graph.layers import gcn, sage
from zen.graph.sparse import AdjacencyCache, csr_adjacency, spmm_applies

# Node 4 is isolated, the edge 0 -> 1 appears twice, 2 -> 2 is a self loop.
EDGES = torch.tensor([[0, 0, 1, 2, 3, 2, 0], [1, 1, 2, 0, 0, 2, 3]])


def outputs_and_gradients(layer, monkeypatch, module, use_spmm: bool, *args):
    if not use_spmm:
        monkeypatch.setattr(module, "spmm_applies", lambda *a, **k: False)
    layer.zero_grad()
    out = layer(*args)
    (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
    monkeypatch.undo()
    return out.detach(), [p.grad.clone() for p in layer.parameters()]


@pytest.mark.parametrize(
    ("make_layer", "module"),
    [
        (lambda: GCNConv(6, 3), gcn),
        (lambda: GCNConv(6, 3, cached=True), gcn),
        (lambda: SAGEConv(6, 3, aggr="mean"), sage),
        (lambda: SAGEConv(6, 8, aggr="mean"), sage),  # aggregates before transforming
        (lambda: SAGEConv(6, 3, aggr="sum"), sage),
    ],
)
def test_sparse_product_matches_gather_scatter(make_layer, module, monkeypatch) -> None:
    torch.manual_seed(0)
    layer = make_layer()
    x = torch.randn(5, 6)
    fast, fast_grads = outputs_and_gradients(layer, monkeypatch, module, True, x, EDGES)
    slow, slow_grads = outputs_and_gradients(layer, monkeypatch, module, False, x, EDGES)
    torch.testing.assert_close(fast, slow)
    for a, b in zip(fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_sage_bipartite_sizes_use_the_target_count() -> None:
    torch.manual_seed(0)
    layer = SAGEConv((4, 2), 3)
    source, target = torch.randn(6, 4), torch.randn(2, 2)
    edges = torch.tensor([[0, 5, 3], [0, 1, 1]])
    out = layer((source, target), edges)
    expected = layer.lin_l(torch.stack([source[0], (source[5] + source[3]) / 2]))
    torch.testing.assert_close(out, expected + layer.lin_r(target))


def test_mean_adjacency_rows_sum_to_one_or_zero() -> None:
    dense = csr_adjacency(EDGES, None, 5, 5, mean=True).to_dense()
    torch.testing.assert_close(dense.sum(dim=1), torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0]))
    assert dense[1, 0] == 1.0  # both copies of 0 -> 1 count, and they are node 1's only edges


def test_cache_rebuilds_when_the_edges_change_in_place() -> None:
    cache = AdjacencyCache()
    edges = EDGES.clone()
    first = cache.get(edges, None, 5, 5)
    assert cache.get(edges, None, 5, 5) is first
    edges[0, 0] = 4
    assert cache.get(edges, None, 5, 5) is not first
    assert cache.get(edges.clone(), None, 5, 5) is not first


def test_learned_edge_weights_keep_gather_scatter() -> None:
    x = torch.randn(5, 2)
    assert spmm_applies(x, torch.ones(7))
    assert not spmm_applies(x, torch.ones(7, requires_grad=True))
    assert not spmm_applies(torch.randn(5, 2, 3))


def test_a_cached_gcn_normalises_a_new_graph_instead_of_reusing_the_first() -> None:
    from zen.graph.layers import GCNConv

    torch.manual_seed(0)
    layer = GCNConv(4, 3, cached=True).eval()
    x = torch.randn(5, 4)
    ring = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])
    star = torch.tensor([[0, 0, 0, 0], [1, 2, 3, 4]])
    fresh = GCNConv(4, 3).eval()
    fresh.load_state_dict(layer.state_dict())
    with torch.no_grad():
        layer(x, ring)  # fills the cache
        torch.testing.assert_close(layer(x, star), fresh(x, star))
        torch.testing.assert_close(layer(x, ring), fresh(x, ring))


def test_graph_layers_run_under_inference_mode() -> None:
    from zen.graph.layers import GCNConv, SAGEConv

    x = torch.randn(5, 4)
    edges = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])
    for layer in (GCNConv(4, 3, cached=True), SAGEConv(4, 3)):
        with torch.inference_mode():
            first = layer(x, edges)
            again = layer(x, edges)
        torch.testing.assert_close(first, again)
