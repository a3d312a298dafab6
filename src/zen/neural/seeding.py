"""Repeatable randomness that leaves the process's random generators as it found them.

A library must not reseed the global generators of Python, NumPy or torch: a user's own draws
would silently change or repeat. zen draws from generators it owns wherever torch takes one
(``torch.randperm(n, generator=...)`` for splits and shuffles). Where torch takes none
(``nn.Linear.reset_parameters``, ``nn.Dropout``, the dropout of ``nn.LSTM``), :func:`private_rng`
runs the code on torch's global generator seeded for the occasion, and puts the caller's state
back afterwards (``torch.random.fork_rng``). No zen code draws from Python's ``random`` or
NumPy's global generator, so those are never touched.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

#: Seeds drawn for :func:`private_rng` stay below 2**63 so they fit torch's signed seed type.
_SEED_BOUND = 2**63 - 1


def draw_seed(generator: torch.Generator | None = None) -> int:
    """A 63-bit seed drawn from ``generator`` (``None``: torch's global generator).

    >>> draw_seed(torch.Generator().manual_seed(0)) == draw_seed(torch.Generator().manual_seed(0))
    True
    """
    return int(torch.randint(_SEED_BOUND, (), generator=generator))


@contextlib.contextmanager
def private_rng(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Run the block with torch's global generators seeded with ``seed``; restore them after.

    For code that draws from torch's global generator and takes no ``generator`` argument: its
    draws repeat for a given seed, and the caller's random state is exactly as it was before the
    block, whatever the block drew. The CPU generator is always forked; so is ``device``'s
    generator when it is an accelerator (dropout masks of a model on a GPU come from there).

    The global generator is shared by the threads of the process: another thread drawing from
    it while the block runs gets numbers from the block's stream (and is rewound afterwards),
    exactly as with ``torch.random.fork_rng``.

    Args:
        seed: any integer torch accepts as a seed.
        device: the device the block computes on; ``None`` or a CPU device forks the CPU only.

    Example:
        >>> before = torch.get_rng_state()
        >>> with private_rng(0):
        ...     first = torch.rand(3)
        >>> with private_rng(0):
        ...     second = torch.rand(3)
        >>> torch.equal(first, second), torch.equal(torch.get_rng_state(), before)
        (True, True)
    """
    accelerator = _accelerator(device)
    indices = [accelerator[1]] if accelerator else []
    device_type = accelerator[0] if accelerator else None
    with torch.random.fork_rng(devices=indices, device_type=device_type):
        # torch.manual_seed would also reseed every other device's generator, which the fork
        # does not restore; seed exactly the generators that were forked.
        torch.random.default_generator.manual_seed(seed)
        if accelerator:
            _seed_device(*accelerator, seed)
        yield


def _accelerator(device: torch.device | str | None) -> tuple[str, int] | None:
    """(type, index) of an accelerator device, or None for the CPU."""
    if device is None:
        return None
    device = torch.device(device)
    if device.type in ("cpu", "meta"):
        return None
    module = torch.get_device_module(device.type)
    if device.index is not None:
        return device.type, device.index
    current = getattr(module, "current_device", None)
    return device.type, int(current()) if current is not None else 0


def _seed_device(device_type: str, index: int, seed: int) -> None:
    module = torch.get_device_module(device_type)
    generators = getattr(module, "default_generators", ())
    if index < len(generators):
        generators[index].manual_seed(seed)
    else:  # single-device backends (mps) keep one generator without a per-index list
        module.manual_seed(seed)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's (all devices') global random generators.

    For scripts and notebooks that want every draw of the process repeatable. zen itself never
    calls it: a ``Trainer(seed=...)`` keeps its randomness private (:func:`private_rng`).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
