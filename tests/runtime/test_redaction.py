"""redact_paths: no file of the server in what clients see, and nothing else taken out."""

from __future__ import annotations

from pathlib import Path

import pytest

from zen.runtime.redaction import redact_paths


def test_a_known_root_goes_and_what_follows_it_stays(tmp_path: Path) -> None:
    models = tmp_path / "my models" / "churn v2"  # spaces: no token pattern could find its end
    text = f"{models}/config.json: not valid JSON"
    assert redact_paths(text, [models]) == "<path>/config.json: not valid JSON"


def test_a_root_is_found_as_given_expanded_and_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    for spelling in ("link/model", f"{real}/model", f"{tmp_path}/link/model"):
        assert redact_paths(f"{spelling}: not found", ["link"]) == "<path>/model: not found"


def test_a_root_only_matches_whole_components() -> None:
    # (/zen-test-data is no directory at /, so only the root can match here.)
    text = "/zen-test-data/application/x and /zen-test-data/app/y"
    shown = redact_paths(text, ["/zen-test-data/app"])
    assert shown == "/zen-test-data/application/x and <path>/y"


@pytest.mark.parametrize(
    "template",
    [
        "file not found: {path}",
        "onnxruntime cannot load it: [ONNXRuntimeError] : 2 : {path} failed",
        "cannot read '{path}' ({path}: permission denied)",
        "in ({path}), see the log",
    ],
)
def test_unknown_absolute_paths_under_this_machines_root_go(tmp_path: Path, template) -> None:
    path = tmp_path / "cache" / "model.onnx"  # /tmp/...: its first component exists at /
    shown = redact_paths(template.format(path=path))
    assert str(tmp_path) not in shown and "/tmp" not in shown
    assert shown == template.format(path="<path>")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (r"see C:\Users\ana\models\x.json", "see <path>"),
        ("see ~/models/x.json", "see <path>"),
    ],
)
def test_home_and_windows_paths_go(text: str, shown: str) -> None:
    assert redact_paths(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "POST /v1/models/churn/predict",
        "12 rows/s, 1/2 of the budget, https://example.com/a/b",
        "expected rows of 8 features (shape (rows, 8))",
        "/healthz",
    ],
)
def test_routes_units_and_urls_stay(text: str) -> None:
    assert redact_paths(text) == text
