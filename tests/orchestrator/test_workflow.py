"""The workflow engine: DAG checks, parallel steps, cache and resume, retries, failures, budget."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zen import ConfigError
from zen.orchestrator.executors import InlineExecutor, LocalProcessExecutor
from zen.orchestrator.workflow import (
    Step,
    StepStatus,
    Workflow,
    fingerprint,
    run_workflow,
)

DONE, CACHED, FAILED = StepStatus.DONE, StepStatus.CACHED, StepStatus.FAILED
SKIPPED, TIMED_OUT = StepStatus.SKIPPED, StepStatus.TIMED_OUT


# Steps live at module level so that worker processes can import them by name.


def constant(value: object = 1) -> object:
    return value


def double(x: int) -> int:
    return 2 * x


def pair(first: object, second: object) -> tuple[object, object]:
    return first, second


def fail(*inputs: object, message: str = "boom") -> None:
    raise RuntimeError(message)


def counted(*inputs: int, log: str, tag: str, value: int | None = None) -> int:
    """Append ``tag`` to the ``log`` file, so a test sees which steps really ran."""
    with open(log, "a") as file:
        file.write(tag + "\n")
    return value if value is not None else sum(inputs)


def counted_in_run(*, log: str, tag: str, value: int, run_id: int) -> int:
    """:func:`counted`, with the id of the run it belongs to (which does not change its output)."""
    return counted(log=log, tag=tag, value=value)


def fail_first_time(x: int, marker: str) -> int:
    """Stands for a run that crashed in this step: fails until ``marker`` exists."""
    if not os.path.exists(marker):
        Path(marker).touch()
        raise RuntimeError("crashed")
    return x + 1


def succeed_on_attempt(attempt: int, directory: str) -> str:
    """Fail until called for the ``attempt``-th time (counted with files in ``directory``)."""
    calls = len(list(Path(directory).iterdir())) + 1
    (Path(directory) / str(calls)).touch()
    if calls < attempt:
        raise ConnectionError(f"attempt {calls} failed")
    return f"ok on attempt {calls}"


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def meet(directory: str, me: str, other: str, limit_s: float = 20.0) -> str:
    """Write start and end times; end only once ``other`` has started (both must run at once)."""
    folder = Path(directory)
    (folder / f"{me}.start").write_text(repr(time.time()))
    deadline = time.monotonic() + limit_s
    while not (folder / f"{other}.start").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} did not start while {me} ran")
        time.sleep(0.01)
    (folder / f"{me}.end").write_text(repr(time.time()))
    return me


def wait_for(upstream: object, directory: str, limit_s: float = 60.0) -> object:
    """Signal that it started, then wait for a ``release`` file that never comes."""
    folder = Path(directory)
    (folder / "started").touch()
    deadline = time.monotonic() + limit_s
    while not (folder / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    (folder / "finished").touch()
    return upstream


def exit_worker_once(marker: str) -> str:
    """Kill the worker process itself the first time, as the OOM killer would."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return "recovered"


class Recorder:
    """An ``on_event`` callback that keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, StepStatus]] = []

    def __call__(self, step: str, status: StepStatus) -> None:
        self.events.append((step, status))

    def index(self, step: str, status: StepStatus) -> int:
        return self.events.index((step, status))


def run_inline(workflow: Workflow, **kwargs: object) -> object:
    return run_workflow(workflow, executor=InlineExecutor(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def two_workers() -> Iterator[LocalProcessExecutor]:
    with LocalProcessExecutor(max_workers=2) as executor:
        yield executor


# --------------------------------------------------------------------------- order and parallelism


def test_steps_run_after_their_needs_and_get_outputs_in_needs_order() -> None:
    workflow = Workflow(
        [
            Step("c", pair, needs=("b", "a")),  # defined first, runs last
            Step("a", double, needs=("x",)),
            Step("b", constant, params={"value": 10}),
        ],
        inputs=["x"],
    )
    recorder = Recorder()
    result = run_inline(workflow, inputs={"x": 3}, on_event=recorder)
    assert [step.name for step in workflow] == ["a", "b", "c"]
    assert result.outputs == {"a": 6, "b": 10, "c": (10, 6)}
    assert result.ok and not result.budget_exhausted
    assert all(step.attempts == 1 and step.status is DONE for step in result.steps.values())
    started_c = recorder.index("c", StepStatus.RUNNING)
    assert recorder.index("a", DONE) < started_c and recorder.index("b", DONE) < started_c


def test_independent_steps_run_at_the_same_time_in_worker_processes(two_workers, tmp_path) -> None:
    workflow = Workflow(
        [
            Step("left", meet, params={"directory": str(tmp_path), "me": "l", "other": "r"}),
            Step("right", meet, params={"directory": str(tmp_path), "me": "r", "other": "l"}),
            Step("both", pair, needs=("left", "right")),
        ]
    )
    result = run_workflow(workflow, executor=two_workers)
    assert result.outputs["both"] == ("l", "r"), result.steps
    starts = [float((tmp_path / f"{side}.start").read_text()) for side in "lr"]
    ends = [float((tmp_path / f"{side}.end").read_text()) for side in "lr"]
    assert max(starts) <= min(ends)  # both started before either finished


def test_a_dead_worker_is_retried_on_a_new_pool(two_workers, tmp_path) -> None:
    marker = str(tmp_path / "died")
    step = Step("fragile", exit_worker_once, params={"marker": marker}, retries=1, backoff_s=0)
    result = run_workflow(Workflow([step]), executor=two_workers)
    assert result["fragile"].status is DONE and result["fragile"].attempts == 2
    assert result.outputs == {"fragile": "recovered"}


def test_a_step_that_workers_cannot_import_fails_with_a_clear_error() -> None:
    workflow = Workflow([Step("anonymous", lambda: 1)])
    with LocalProcessExecutor(max_workers=1) as executor:
        result = run_workflow(workflow, executor=executor)
    assert result["anonymous"].status is FAILED
    assert "step 'anonymous'" in result["anonymous"].error
    assert "define it at module level" in result["anonymous"].error


# --------------------------------------------------------------------------- cache and resume


def resumable_workflow(tmp_path: Path, a_value: int = 1) -> Workflow:
    log = str(tmp_path / "calls.log")
    return Workflow(
        [
            Step("a", counted, params={"log": log, "tag": "a", "value": a_value}),
            Step("b", fail_first_time, needs=("a",), params={"marker": str(tmp_path / "m")}),
            Step("c", counted, needs=("b",), params={"log": log, "tag": "c"}),
            Step("d", counted, params={"log": log, "tag": "d", "value": 5}),
        ]
    )


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.log").read_text().split()


def test_a_rerun_after_a_crash_runs_only_the_unfinished_steps(tmp_path) -> None:
    cache = tmp_path / "cache"
    first = run_inline(resumable_workflow(tmp_path), cache_dir=cache)
    assert {name: step.status for name, step in first.steps.items()} == {
        "a": DONE, "b": FAILED, "c": SKIPPED, "d": DONE,
    }  # fmt: skip
    assert calls(tmp_path) == ["a", "d"]

    recorder = Recorder()
    second = run_inline(resumable_workflow(tmp_path), cache_dir=cache, on_event=recorder)
    assert {name: step.status for name, step in second.steps.items()} == {
        "a": CACHED, "b": DONE, "c": DONE, "d": CACHED,
    }  # fmt: skip
    assert calls(tmp_path) == ["a", "d", "c"]  # a and d were not run again
    assert second.outputs == {"a": 1, "b": 2, "c": 2, "d": 5}
    assert second["a"].cache_key == first["a"].cache_key
    assert ("a", CACHED) in recorder.events


def test_changing_a_param_reruns_that_step_and_everything_downstream(tmp_path) -> None:
    cache = tmp_path / "cache"
    (tmp_path / "m").touch()  # b does not fail in this test
    run_inline(resumable_workflow(tmp_path, a_value=1), cache_dir=cache)
    result = run_inline(resumable_workflow(tmp_path, a_value=2), cache_dir=cache)
    statuses = {name: step.status for name, step in result.steps.items()}
    assert statuses == {"a": DONE, "b": DONE, "c": DONE, "d": CACHED}
    assert result.outputs["c"] == 3


def test_an_unreadable_cache_file_is_recomputed(tmp_path, caplog) -> None:
    cache = tmp_path / "cache"
    (tmp_path / "m").touch()
    run_inline(resumable_workflow(tmp_path), cache_dir=cache)
    for path in cache.glob("a-*.pkl"):
        path.write_bytes(b"not a pickle")
    with caplog.at_level(logging.INFO, logger="zen.orchestrator.workflow"):
        result = run_inline(resumable_workflow(tmp_path), cache_dir=cache)
    assert result["a"].status is DONE and result["b"].status is CACHED
    assert "unreadable" in caplog.text
    assert not list(cache.glob(".*"))  # atomic writes leave no temporary files


def test_uncached_params_do_not_change_the_cache_key(tmp_path) -> None:
    log = str(tmp_path / "calls.log")

    def flow(run_id: int) -> Workflow:
        params = {"log": log, "tag": "a", "value": 3, "run_id": run_id}
        return Workflow([Step("a", counted_in_run, params=params, uncached_params=("run_id",))])

    first = run_inline(flow(run_id=1), cache_dir=tmp_path / "cache")
    second = run_inline(flow(run_id=2), cache_dir=tmp_path / "cache")
    assert second["a"].status is CACHED and second.outputs == {"a": 3}
    assert second["a"].cache_key == first["a"].cache_key
    assert calls(tmp_path) == ["a"]


def test_given_input_keys_replace_hashing_the_inputs(tmp_path) -> None:
    log = str(tmp_path / "calls.log")
    workflow = Workflow([Step("a", counted, needs=("x",), params={"log": log, "tag": "a"})],
                        inputs=["x"])  # fmt: skip
    cache = tmp_path / "cache"
    run_inline(workflow, inputs={"x": 1}, cache_dir=cache, input_keys={"x": "data-v1"})
    # Same key, other value: the caller vouches that the content is the same, so it is cached.
    again = run_inline(workflow, inputs={"x": 2}, cache_dir=cache, input_keys={"x": "data-v1"})
    assert again["a"].status is CACHED and again.outputs == {"a": 1}
    changed = run_inline(workflow, inputs={"x": 2}, cache_dir=cache, input_keys={"x": "data-v2"})
    assert changed["a"].status is DONE and changed.outputs == {"a": 2}


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}),
        ({"tags": {"x", "y", "z"}}, {"tags": {"z", "y", "x"}}),
        ({"path": Path("data.csv")}, {"path": Path("data.csv")}),
    ],
)
def test_equal_params_have_equal_fingerprints(left, right) -> None:
    assert fingerprint(left) == fingerprint(right)
    assert fingerprint(left) != fingerprint({**left, "extra": 0})


# --------------------------------------------------------------------------- retries and failures


def test_a_failing_step_is_retried_with_exponential_backoff(tmp_path) -> None:
    step = Step(
        "flaky",
        succeed_on_attempt,
        params={"attempt": 3, "directory": str(tmp_path)},
        retries=3,
        backoff_s=0.5,
        backoff_factor=3,
    )
    sleeps: list[float] = []
    recorder = Recorder()
    result = run_inline(Workflow([step]), sleep=sleeps.append, on_event=recorder)
    assert result["flaky"].status is DONE and result["flaky"].attempts == 3
    assert result.outputs == {"flaky": "ok on attempt 3"}
    assert sleeps == pytest.approx([0.5, 1.5], abs=0.05)
    assert recorder.events.count(("flaky", StepStatus.RETRYING)) == 2


def test_a_failed_step_skips_its_dependents_and_other_branches_finish() -> None:
    workflow = Workflow(
        [
            Step("bad", fail, retries=1, backoff_s=0),
            Step("after_bad", double, needs=("bad",)),
            Step("after_after", double, needs=("after_bad",)),
            Step("good", constant, params={"value": 4}),
            Step("after_good", double, needs=("good",)),
        ]
    )
    result = run_inline(workflow)
    bad = result["bad"]
    assert (bad.status, bad.attempts, bad.error) == (FAILED, 2, "RuntimeError: boom")
    assert "in fail" in bad.traceback
    assert result["after_bad"].status is SKIPPED
    assert result["after_bad"].error == "needs 'bad', which failed"
    assert result["after_after"].error == "needs 'after_bad', which was skipped"
    assert result.outputs == {"good": 4, "after_good": 8}
    assert not result.ok


def test_a_step_over_its_timeout_is_stopped_and_not_retried() -> None:
    workflow = Workflow(
        [
            Step("slow", sleep_for, params={"seconds": 30}, timeout_s=0.2, retries=2),
            Step("after", double, needs=("slow",)),
        ]
    )
    result = run_inline(workflow)
    assert result["slow"].status is TIMED_OUT and result["slow"].attempts == 1
    assert "timeout_s=0.2" in result["slow"].error
    assert result["after"].error == "needs 'slow', which timed out"


# --------------------------------------------------------------------------- time budget


def test_an_exhausted_budget_skips_what_has_not_started() -> None:
    workflow = Workflow(
        [
            Step("first", sleep_for, params={"seconds": 0.2}),
            Step("second", constant),
            Step("after_first", double, needs=("first",)),
        ]
    )
    result = run_inline(workflow, budget_s=0.05)
    assert result.budget_exhausted
    assert result.outputs == {"first": 0.2}  # finished work is kept
    assert result["second"].status is SKIPPED
    assert "budget of 0.05 s ran out before it started" in result["after_first"].error


def test_an_exhausted_budget_abandons_a_running_step_and_shutdown_stops_it(tmp_path) -> None:
    executor = LocalProcessExecutor(max_workers=1)
    try:
        run_workflow(Workflow([Step("warm_up", constant)]), executor=executor)  # worker started
        workflow = Workflow(
            [
                Step("quick", constant, params={"value": "best so far"}),
                Step("stuck", wait_for, needs=("quick",), params={"directory": str(tmp_path)}),
                Step("after", double, needs=("stuck",)),
            ]
        )
        result = run_workflow(workflow, executor=executor, budget_s=1.5)
        assert (tmp_path / "started").exists()
    finally:
        executor.shutdown()  # waits 60 s unless it stops the stuck worker
    assert result.budget_exhausted
    assert result.outputs == {"quick": "best so far"}
    assert result["stuck"].status is TIMED_OUT
    assert result["stuck"].error.startswith("abandoned: the run's budget of 1.5 s ran out")
    assert result["after"].status is SKIPPED
    assert not (tmp_path / "finished").exists()


def test_a_budget_is_not_exhausted_when_everything_finished() -> None:
    result = run_inline(Workflow([Step("a", constant)]), budget_s=60)
    assert result.ok and not result.budget_exhausted


# --------------------------------------------------------------------------- definitions


def test_the_step_decorator_builds_a_workflow_and_returns_the_function() -> None:
    flow = Workflow(inputs=["x"])

    @flow.step(needs=["x"])
    def twice(x: int) -> int:
        return 2 * x

    @flow.step(name="plus_one", needs=["twice"], retries=1)
    def add_one(y: int) -> int:
        return y + 1

    assert add_one(1) == 2  # still the plain function
    assert [step.name for step in flow] == ["twice", "plus_one"] and flow["plus_one"].retries == 1
    assert run_inline(flow, inputs={"x": 5}).outputs == {"twice": 10, "plus_one": 11}
    with pytest.raises(ConfigError, match="needs 'later'"):
        flow.step(needs=["later"])(double)
    assert len(flow) == 2  # a rejected step leaves the workflow as it was


YAML = f"""
inputs: [x]
steps:
  - name: total
    run: operator:add
    needs: [doubled, x]
  - name: doubled
    run: {__name__}:double
    needs: [x]
    retries: 2
    timeout_s: 30
"""


@pytest.mark.parametrize("as_file", [False, True])
def test_a_workflow_can_be_read_from_yaml(tmp_path, as_file) -> None:
    source: str | Path = YAML
    if as_file:
        source = tmp_path / "flow.yaml"
        source.write_text(YAML)
    workflow = Workflow.from_yaml(source)
    assert workflow["doubled"].retries == 2 and workflow["doubled"].fn is double
    assert run_inline(workflow, inputs={"x": 4}).outputs == {"doubled": 8, "total": 12}


def steps_yaml(*steps: str) -> str:
    return "steps:\n" + "".join(f"  - {step}\n" for step in steps)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Workflow([Step("a", double, needs=("b",)), Step("b", double, needs=("a",))]),
            "step 'a': steps form a cycle: 'a' needs 'b', which needs 'a'",
        ),
        (lambda: Workflow([Step("a", double, needs=("a",))]), "'a' needs 'a'"),
        (
            lambda: Workflow([Step("load", constant), Step("fit", double, needs=("laod",))]),
            "step 'fit': needs 'laod', which is neither a step nor a workflow input; "
            "did you mean 'load'?",
        ),
        (
            lambda: Workflow([Step("a", constant), Step("a", double)]),
            "step 'a': the name is used twice",
        ),
        (lambda: Step("a", constant, retries=-1), "step 'a': retries must be an integer >= 0"),
        (lambda: Step("a", constant, timeout_s=0), "step 'a': timeout_s must be > 0"),
        (lambda: Step("a", "constant"), "step 'a': fn must be callable"),
        (
            lambda: Workflow.from_yaml(steps_yaml("{name: a, run: no_such_module_zen:f}")),
            "workflow YAML: step 'a': cannot import module 'no_such_module_zen'",
        ),
        (
            lambda: Workflow.from_yaml(steps_yaml("{name: a, run: operator:no_such_function}")),
            "step 'a': module 'operator' has no attribute 'no_such_function'",
        ),
        (
            lambda: Workflow.from_yaml(steps_yaml("{name: a, run: operator.add}")),
            "step 'a': run 'operator.add' is not an import path",
        ),
        (
            lambda: Workflow.from_yaml(steps_yaml("{name: a, run: operator:add, retry: 2}")),
            "step 'a': unknown key 'retry'",
        ),
        (
            lambda: Workflow.from_yaml(steps_yaml("{name: a, run: operator:add, retries: -1}")),
            "workflow YAML: step 'a': retries must be",
        ),
        (
            lambda: Workflow.from_yaml(
                steps_yaml(
                    "{name: a, run: operator:add, needs: [b]}",
                    "{name: b, run: operator:add, needs: [a]}",
                )
            ),
            "workflow YAML: step 'a': steps form a cycle",
        ),
        (lambda: Workflow.from_yaml("steps: [unclosed"), "workflow YAML: not valid YAML"),
        (lambda: Workflow.from_yaml("missing.yaml"), "missing.yaml: workflow file not found"),
    ],
    ids=[
        "cycle", "self-cycle", "unknown-need", "duplicate", "retries", "timeout", "not-callable",
        "yaml-import", "yaml-attribute", "yaml-path", "yaml-key", "yaml-value", "yaml-cycle",
        "yaml-syntax", "yaml-file",
    ],
)  # fmt: skip
def test_bad_definitions_are_rejected_naming_the_step(build, message) -> None:
    with pytest.raises(ConfigError) as caught:
        build()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("inputs", "budget_s", "message"),
    [
        ({}, None, "inputs: missing 'x'"),
        ({"x": 1, "y": 2}, None, "inputs: unknown 'y'; expected: x"),
        ({"x": 1}, 0, "budget_s: expected a positive number"),
    ],
)
def test_bad_run_arguments_are_rejected(inputs, budget_s, message) -> None:
    workflow = Workflow([Step("a", double, needs=("x",))], inputs=["x"])
    with pytest.raises(ConfigError, match=message):
        run_inline(workflow, inputs=inputs, budget_s=budget_s)


def test_input_keys_must_name_inputs() -> None:
    workflow = Workflow([Step("a", double, needs=("x",))], inputs=["x"])
    with pytest.raises(ConfigError, match="input_keys: 'y'"):
        run_inline(workflow, inputs={"x": 1}, cache_dir=None, input_keys={"y": "k"})


def test_uncached_params_must_be_params() -> None:
    with pytest.raises(ConfigError, match="uncached_params names \\['run'\\]"):
        Step("a", double, params={"x": 1}, uncached_params=("run",))
