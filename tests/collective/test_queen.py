"""The Queen on a real cluster: refuses a step that fits no node, queues a full cube and says
so on the bus, and notes predicted against actual cost."""

from __future__ import annotations

import json

import pytest

from cluster_harness import RayCluster


@pytest.mark.slow
def test_the_queen_refuses_queues_and_reports(ray_two_nodes: RayCluster) -> None:
    done = ray_two_nodes.python(
        f"""
        import json, time
        from zen.collective import Cluster, RayBus
        from zen.collective.cubes import Cube
        from zen.orchestrator.workflow import Step, Workflow, run_workflow

        def nap(seconds):
            time.sleep(seconds)
            return seconds

        cluster = Cluster.connect("{ray_two_nodes.address}")
        too_big = Workflow([Step(name="huge", fn=nap, params={{"seconds": 0}})])
        refused = run_workflow(too_big, executor=cluster.executor(num_cpus=64))

        # The default cube may use one CPU at a time: the second step waits for the first.
        executor = cluster.executor(cubes=(Cube("default", quota_cpus=1),))
        flow = Workflow([Step(name=f"n{{i}}", fn=nap, params={{"seconds": 1.5}}) for i in range(2)])
        started = time.time()
        queued = run_workflow(flow, executor=executor)
        took = time.time() - started
        executor.shutdown()
        bus = RayBus.find(cluster)
        for _ in range(50):  # the Drones' last events may still be on their way
            if not bus.running():
                break
            time.sleep(0.1)
        kinds = [e.kind for e in bus.recent(500)]
        running = bus.running()
        print(json.dumps({{
            "refused": [refused["huge"].status.value, refused["huge"].error,
                        refused["huge"].attempts],
            "queued": {{n: [r.status.value, r.notes.get("predicted_s")]
                       for n, r in queued.steps.items()}},
            "took": took, "kinds": kinds, "running": running,
        }}))
        """
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    status, error, attempts = seen["refused"]
    assert status == "failed" and attempts == 1
    assert "step 'huge-" in error and "needs 64 CPUs" in error
    assert all(state == "done" and predicted > 0 for state, predicted in seen["queued"].values())
    assert seen["took"] >= 3.0  # one after the other, not side by side on the two nodes
    assert "quota_exceeded" in seen["kinds"] and "step_placed" in seen["kinds"]
    # Each Drone says when its step ends, so nothing stays "running" on the bus.
    assert seen["kinds"].count("step_finished") >= 2 and seen["running"] == []
