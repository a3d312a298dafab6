"""Exit codes of the `zen` process (0 done, 2 usage or input error, 1 internal error, 130
Ctrl-C), `zen --version` and shell completion.

Run as real processes (``python -m zen.cli``), since the code a shell sees is what scripts rely
on; a library call is replaced in the child to make an internal error or an interrupt happen.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import zen
from zen.cli import app

# ``zen info`` calls zen.compute.device_info; the child replaces it before running the command.
_RAISING = (
    "import sys, zen.compute\n"
    "def fail(*args, **kwargs):\n"
    "    raise {error}\n"
    "zen.compute.device_info = fail\n"
    "from zen.cli import main\n"
    "sys.argv = ['zen', 'info']\n"
    "main()\n"
)


def run_zen(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zen.cli", *arguments], capture_output=True, text=True, timeout=300
    )


def run_raising(error: str) -> subprocess.CompletedProcess[str]:
    script = _RAISING.format(error=error)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )


def test_version_exits_0_and_prints_it() -> None:
    done = run_zen("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"zen-neural {zen.__version__}"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["fit", "--no-such-option"], "No such option"),  # typer's usage error
        (["fit", "missing.csv", "--target", "y"], "error: data: file 'missing.csv' not found"),
    ],
)
def test_usage_and_input_errors_exit_2(arguments, message) -> None:
    done = run_zen(*arguments)
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_an_internal_error_exits_1_with_a_request_to_report_it() -> None:
    done = run_raising("RuntimeError('device probe crashed')")
    assert done.returncode == 1, done.stderr
    assert "internal error: RuntimeError: device probe crashed" in " ".join(done.stderr.split())
    assert "please report it" in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_exits_130() -> None:
    done = run_raising("KeyboardInterrupt")
    assert done.returncode == 130, done.stderr
    assert "interrupted" in done.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [(RuntimeError("boom"), 1), (KeyboardInterrupt(), 130), (zen.DataError("x"), 2)],
)
def test_the_same_mapping_in_process(monkeypatch, error, code) -> None:
    import zen.compute

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(zen.compute, "device_info", fail)
    assert CliRunner().invoke(app, ["info"]).exit_code == code


def test_shell_completion_completes_command_names() -> None:
    """What `zen --install-completion` wires into the shell: zen answers completion requests."""
    environment = {**os.environ, "_ZEN_COMPLETE": "complete_bash", "COMP_WORDS": "zen pre",
                   "COMP_CWORD": "1"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "zen.cli"], capture_output=True, text=True, timeout=300,
        env=environment,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["predict"]
