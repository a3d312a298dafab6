"""The event bus: typed events, kept in memory and persisted to a real History."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster_harness import RayCluster
from zen.collective import EVENT_KINDS, Event, InMemoryBus
from zen.errors import ConfigError
from zen.orchestrator.history import History


def test_an_unknown_kind_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="kind: unknown value 'step_exploded'"):
        Event("step_exploded")
    assert "quota_exceeded" in EVENT_KINDS and len(EVENT_KINDS) == 10


def test_the_in_memory_bus_keeps_recent_events_and_persists_them(tmp_path: Path) -> None:
    with History(tmp_path / "zen.db") as history:
        bus = InMemoryBus(history)
        bus.publish(Event("step_started", {"step": "a", "node": "n1"}, run_id=None))
        bus.publish(Event("quota_exceeded", {"cube": "graph", "queued": 2, "step": "b"}))
        assert [event.kind for event in bus.recent(1)] == ["quota_exceeded"]
        assert bus.running() == [{"step": "a", "node": "n1", "since": bus.recent(2)[0].at}]
        assert bus.queues() == {"graph": 2}
        bus.publish(Event("step_finished", {"step": "a"}))
        assert bus.running() == []
        saved = history.events()
    assert [event.kind for event in saved] == ["step_started", "quota_exceeded", "step_finished"]
    assert saved[1].payload == {"cube": "graph", "queued": 2, "step": "b"}


@pytest.mark.slow
def test_the_ray_bus_takes_events_from_drones_and_saves_them(
    ray_two_nodes: RayCluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    done = ray_two_nodes.python(
        f"""
        import json, ray
        from zen.collective import Cluster, Event, RayBus

        cluster = Cluster.connect("{ray_two_nodes.address}")
        bus = RayBus.get(cluster)

        @ray.remote(num_cpus=1, resources={{"cube_graph": 0.01}})
        def drone(actor):
            actor.publish.remote(Event("step_progress", {{"step": "x", "share": 0.5}}).to_json())
            return ray.get_runtime_context().get_node_id()

        node = ray.get(drone.remote(bus.actor))
        import time
        for _ in range(50):
            if any(e.kind == "step_progress" for e in bus.recent(100)):
                break
            time.sleep(0.1)
        print(json.dumps([e.to_json() for e in bus.recent(100)]))
        """,
        env={"ZEN_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"step": "x", "share": 0.5} in [event["payload"] for event in events]
