"""zen's packages import one way: the import-linter contracts in pyproject.toml hold.

The contracts count module-level, function-level and ``TYPE_CHECKING`` imports, so a lazy import
cannot hide an upward dependency.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [executable, "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_packages_import_one_way() -> None:
    result = lint_imports(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_the_check_sees_an_upward_import(tmp_path) -> None:
    """The same check with zen.compute placed above zen.neural must fail: the contract reads
    zen's real import graph rather than passing vacuously."""
    config = tmp_path / "layers.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "zen"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "wrong on purpose"\ntype = "layers"\n'
        'layers = ["zen.compute", "zen.neural"]\n'
    )
    result = lint_imports(config)
    assert result.returncode != 0
    assert "zen.neural" in result.stdout and "zen.compute" in result.stdout
