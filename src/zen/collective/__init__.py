"""zen.collective: the same work on Ray workers and machines (THE COLLECTIVE).

* :class:`Cluster`: this machine or a Ray cluster; ``Cluster.resolve(--cluster option)``.
* :class:`~zen.collective.executor.RayExecutor`: workflow steps as Ray tasks (Drones).
* :mod:`zen.collective.events`: the event bus (in memory, or a Ray actor), persisted to History.
* :mod:`zen.collective.queen`: the Queen, which places steps on cubes by predicted cost
  (:mod:`~zen.collective.cost`, :mod:`~zen.collective.cubes`, :mod:`~zen.collective.placement`).

Ray is imported only when a cluster is used (``pip install 'zen-neural[cluster]'``).
"""

from __future__ import annotations

from zen.collective.cluster import CLUSTER_ENV, Cluster
from zen.collective.events import EVENT_KINDS, Event, EventBus, InMemoryBus, RayBus

__all__ = ["CLUSTER_ENV", "EVENT_KINDS", "Cluster", "Event", "EventBus", "InMemoryBus", "RayBus"]
