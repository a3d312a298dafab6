"""`zen fit FOLDER` on a Planetoid folder from elsewhere: a file that would run code is refused
with one clear error, the code never runs, and no run directory is left behind."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
from numpy.testing._private.utils import runstring
from typer.testing import CliRunner

from zen.cli import app

runner = CliRunner()


class Calls:
    def __init__(self, function: object, *args: object) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple:
        return self.function, self.args


def test_zen_fit_refuses_a_planetoid_file_that_would_run_code(
    shared_data: Path, tmp_path: Path
) -> None:
    cora = shared_data / "graph" / "cora"
    if not (cora / "ind.cora.x").is_file():
        pytest.skip(f"Planetoid Cora files not found under {cora}")
    folder = tmp_path / "downloaded" / "cora"
    shutil.copytree(cora, folder)
    marker = tmp_path / "marker"
    # numpy.testing's runstring calls exec: it passed the old "any numpy.*" allow-list.
    payload = Calls(runstring, f"open({str(marker)!r}, 'w').close()", {})
    (folder / "ind.cora.x").write_bytes(pickle.dumps(payload, protocol=2))
    runs = tmp_path / "runs"

    result = runner.invoke(app, ["fit", str(folder), "--runs-dir", str(runs), "--no-progress"])

    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert "refused numpy.testing._private.utils.runstring" in output
    assert "ind.cora.x" in output
    assert not marker.exists()
    assert not runs.exists() or not any(runs.iterdir())
