"""Weight initialisers shared by the layers (the conventions of the reference GNN codes)."""

from __future__ import annotations

import math

import torch
from torch import nn


def reset(module: nn.Module) -> None:
    """Re-initialise ``module`` and every submodule that has a ``reset_parameters``."""
    for child in module.modules():
        method = getattr(child, "reset_parameters", None)
        if callable(method):
            method()


def glorot(weight: torch.Tensor) -> None:
    """Glorot/Xavier uniform over the last two dimensions (Glorot & Bengio 2010).

    Unlike :func:`torch.nn.init.xavier_uniform_`, fans come from the last two dimensions only, so
    a GAT attention vector of shape ``(1, heads, channels)`` is scaled by ``heads + channels``
    as in the reference GAT implementation.
    """
    bound = math.sqrt(6.0 / (weight.size(-2) + weight.size(-1)))
    with torch.no_grad():
        weight.uniform_(-bound, bound)
