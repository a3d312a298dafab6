"""zen.collective: the same work on Ray workers and machines (placement, cubes, cost model)."""
