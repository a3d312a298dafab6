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


def test_progress_updates_a_running_step_and_is_not_saved(tmp_path: Path) -> None:
    with History(tmp_path / "zen.db") as history:
        bus = InMemoryBus(history)
        # Two runs train a step called "MLP" at once: their tokens keep them apart.
        for token in ("t1", "t2"):
            bus.publish(Event("step_started", {"step": "MLP", "token": token, "node": "n"}))
        bus.publish(Event("step_progress", {"step": "MLP", "token": "t2", "epoch": 7,
                                            "val_loss": 0.5}))  # fmt: skip
        bus.publish(Event("step_progress", {"step": "MLP", "token": "gone", "epoch": 1}))
        running = {entry["token"]: entry for entry in bus.running()}
        assert "epoch" not in running["t1"] and running["t2"]["epoch"] == 7
        assert running["t2"]["val_loss"] == 0.5 and "gone" not in running
        bus.publish(Event("step_finished", {"step": "MLP", "token": "t2"}))
        assert [entry["token"] for entry in bus.running()] == ["t1"]
        saved = [event.kind for event in history.events()]
    assert saved == ["step_started", "step_started", "step_finished"]
    assert "step_progress" not in [event.kind for event in bus.recent(10)]


@pytest.mark.slow
def test_drones_report_epochs_that_the_driver_reads_and_history_keeps_the_rest(
    ray_two_nodes: RayCluster, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    done = ray_two_nodes.python(
        f"""
        import json, threading, time
        from zen.collective import Cluster, RayBus
        from zen.collective.executor import RayExecutor
        from zen.orchestrator.workflow import Step, Workflow, run_workflow

        def train(epochs):
            import torch
            from zen.neural import Callback, Trainer

            class Slow(Callback):
                def on_epoch_end(self, trainer, epoch, logs):
                    time.sleep(0.2)

            X, y = torch.randn(64, 3), torch.randn(64, 1)
            Trainer(max_epochs=epochs, seed=0, val_split=0.25, callbacks=[Slow()]).fit(
                torch.nn.Linear(3, 1), X, y)
            return epochs

        cluster = Cluster.connect("{ray_two_nodes.address}")
        executor = RayExecutor(cluster)
        seen = []
        stop = threading.Event()
        def poll():
            while not stop.wait(0.3):
                seen.append(executor.progress())
        thread = threading.Thread(target=poll); thread.start()
        flow = Workflow([Step(name="fit", fn=train, params={{"epochs": 25}})])
        result = run_workflow(flow, executor=executor)
        stop.set(); thread.join()
        time.sleep(0.5)
        bus = RayBus.find(cluster)
        print(json.dumps({{
            "status": result["fit"].status.value,
            "progress": [p["fit"] for p in seen if "fit" in p],
            "running": bus.running(),
            "kinds": [e.kind for e in bus.recent(500)],
        }}))
        executor.shutdown()
        """,
        env={"ZEN_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["status"] == "done"
    epochs = [entry["epoch"] for entry in seen["progress"] if "epoch" in entry]
    # About one report a second over a five-second fit, each with the newest losses.
    assert len(set(epochs)) >= 2 and epochs == sorted(epochs) and max(epochs) <= 25
    assert all("val_loss" in entry for entry in seen["progress"] if "epoch" in entry)
    assert seen["running"] == []  # the Drone said it finished
    assert {"step_started", "step_finished"} <= set(seen["kinds"])
    assert "step_progress" not in seen["kinds"]
