"""Names that moved out of zen.compute stay importable from it, with a DeprecationWarning."""

from __future__ import annotations

import pytest

import zen.compute
import zen.export
import zen.neural


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("export_onnx", zen.export),
        ("load_onnx_session", zen.export),
        ("quantize_int8", zen.export),
        ("convert_fp16", zen.export),
        ("ExportReport", zen.export),
        ("QuantizeReport", zen.export),
        ("MonitorCallback", zen.neural),
    ],
)
def test_moved_names_warn_and_resolve_to_their_new_home(name, home) -> None:
    with pytest.warns(DeprecationWarning, match=f"moved to {home.__name__}.{name}"):
        moved = getattr(zen.compute, name)
    assert moved is getattr(home, name)


def test_unknown_names_are_still_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'export'"):
        zen.compute.export  # noqa: B018
