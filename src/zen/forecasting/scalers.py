r"""Per-window scaling: each input window is normalised by its own statistics.

Scaling every window by its own location and scale lets one network serve series of very
different magnitudes (M4 Hourly spans 10 to 10^5). Statistics come from the input part only, so
nothing of the future leaks; forecasts are mapped back with the same numbers.

=========  =======================================  ==========================
name       location :math:`\mu`                     scale :math:`\sigma`
=========  =======================================  ==========================
identity   0                                        1
standard   mean                                     standard deviation
robust     median                                   mean absolute deviation from the median
minmax     min                                      max - min
revin      mean                                     std, then a learned affine map (Kim et al.
                                                    2022, RevIN)
=========  =======================================  ==========================
"""

from __future__ import annotations

import torch
from torch import nn

from zen.errors import expect_one_of

SCALER_TYPES = ("identity", "standard", "robust", "minmax", "revin")
_EPSILON = 1e-6


class WindowScaler(nn.Module):
    """Normalise windows ``(batch, length)`` and undo it on forecasts ``(batch, h, ...)``."""

    def __init__(self, scaler_type: str = "identity") -> None:
        super().__init__()
        if scaler_type not in SCALER_TYPES:
            raise expect_one_of("scaler_type", scaler_type, SCALER_TYPES)
        self.scaler_type = scaler_type
        if scaler_type == "revin":
            self.affine_weight = nn.Parameter(torch.ones(1))
            self.affine_bias = nn.Parameter(torch.zeros(1))

    def statistics(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Location and scale of each row of ``x``, both shaped ``(batch, 1)``."""
        kind = self.scaler_type
        if kind == "identity":
            ones = torch.ones_like(x[:, :1])
            return torch.zeros_like(ones), ones
        if kind in ("standard", "revin"):
            location = x.mean(dim=1, keepdim=True)
            scale = x.std(dim=1, keepdim=True, unbiased=False)
        elif kind == "robust":
            location = x.median(dim=1, keepdim=True).values
            scale = (x - location).abs().mean(dim=1, keepdim=True)
        else:
            location = x.min(dim=1, keepdim=True).values
            scale = x.max(dim=1, keepdim=True).values - location
        # A flat window has zero spread; dividing by 1 instead keeps it flat and finite.
        scale = torch.where(scale < _EPSILON, torch.ones_like(scale), scale)
        return location, scale

    def transform(
        self, x: torch.Tensor, location: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        """Scale ``x`` (any shape whose first dim is the batch) with the given statistics."""
        shape = (-1,) + (1,) * (x.dim() - 1)
        scaled = (x - location.reshape(shape)) / scale.reshape(shape)
        if self.scaler_type == "revin":
            scaled = scaled * self.affine_weight + self.affine_bias
        return scaled

    def inverse(self, y: torch.Tensor, location: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Map scaled values ``y`` (first dim the batch) back to the data's units."""
        if self.scaler_type == "revin":
            y = (y - self.affine_bias) / (self.affine_weight + _EPSILON)
        shape = (-1,) + (1,) * (y.dim() - 1)
        return y * scale.reshape(shape) + location.reshape(shape)
