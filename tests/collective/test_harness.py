"""The cluster harness itself: a real two-node Ray cluster and a real PostgreSQL server start,
are reachable on loopback only, and stop."""

from __future__ import annotations

import json

from cluster_harness import Postgres, RayCluster


def test_two_ray_nodes_run_tasks_on_loopback(ray_two_nodes: RayCluster) -> None:
    done = ray_two_nodes.python(
        f"""
        import json, ray
        ray.init(address="{ray_two_nodes.address}", logging_level="ERROR")

        @ray.remote(num_cpus=1, resources={{"cube_graph": 0.01}})
        def where():
            return ray.get_runtime_context().get_node_id()

        nodes = [n for n in ray.nodes() if n["Alive"]]
        ips = sorted({{n["NodeManagerAddress"] for n in nodes}})
        graph_node = ray.get(where.remote())
        print(json.dumps({{"nodes": len(nodes), "ips": ips, "graph_node": graph_node}}))
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["nodes"] == 2 and seen["ips"] == ["127.0.0.1"]
    assert seen["graph_node"]


def test_postgres_accepts_connections(postgres: Postgres) -> None:
    import psycopg

    with psycopg.connect(postgres.url) as connection:
        assert connection.execute("select 1 + 1").fetchone() == (2,)
