"""A Planetoid folder from anywhere is data, never code (issue 14, item 1).

Each payload below runs code through a plain ``pickle.load`` (most of them also got through the
old ``numpy*``/``collections``/``copyreg`` allow-list); every one would create a marker file.
Planetoid must refuse each with a DataError naming the file, and the marker must not exist.
"""

from __future__ import annotations

import copyreg
import os
import pickle
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing._private.utils import runstring

from zen.errors import DataError
from zen.graph import Graph
from zen.graph.datasets import Planetoid


class Calls:
    """Pickles as ``function(*args)``: what an attacker's object with ``__reduce__`` does."""

    def __init__(self, function: object, *args: object) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple:
        return self.function, self.args


def arguments(*args: object) -> bytes:
    """``(args...)`` as pickle opcodes, to splice after a GLOBAL: MARK, items, TUPLE."""
    return b"(" + b"".join(pickle.dumps(arg, protocol=3)[2:-1] for arg in args) + b"t"


def call(module: str, name: str, *args: object, then: tuple | None = None) -> bytes:
    """A protocol-4 pickle of ``module.name(*args)`` (and of calling that with ``then``).

    ``name`` may be dotted: at protocol 4, ``pickle.Unpickler.find_class`` walks attributes,
    which is how an allowed module reaches anything it imports.
    """
    data = b"\x80\x04c" + f"{module}\n{name}\n".encode() + arguments(*args) + b"R"
    if then is not None:
        data += arguments(*then) + b"R"
    return data + b"."


def nested_npy(scratch: Path, touch: str) -> str:
    """An .npy file whose object array runs ``touch`` when numpy.load unpickles it."""
    path = scratch / "nested.npy"
    np.save(path, np.array([Calls(os.system, touch)], dtype=object), allow_pickle=True)
    return str(path)


#: name -> payload(python_code, shell_command, scratch_folder); both create the marker file.
PAYLOADS: dict[str, Callable[[str, str, Path], bytes]] = {
    "numpy.testing runstring -> exec": lambda code, touch, scratch: pickle.dumps(
        Calls(runstring, code, {}), protocol=2
    ),
    "numpy dotted name -> builtins.eval": lambda code, touch, scratch: call(
        "numpy", "ma.core.builtins.eval", code
    ),
    "numpy.load -> nested pickle": lambda code, touch, scratch: call(
        "numpy", "load", nested_npy(scratch, touch), None, True
    ),
    "scipy.sparse dotted name -> exec": lambda code, touch, scratch: call(
        "scipy.sparse", "_sputils.np.testing._private.utils.runstring", code, {}
    ),
    "scipy.sparse.* prefix -> exec": lambda code, touch, scratch: call(
        "scipy.sparse.csr", "_sputils.np.ma.core.builtins.exec", code
    ),
    "collections -> builtins exec": lambda code, touch, scratch: call(
        "collections", "__builtins__.get", "exec", then=(code,)
    ),
    "copyreg -> builtins exec": lambda code, touch, scratch: call(
        "copyreg", "__builtins__.get", "exec", then=(code,)
    ),
    "copy_reg._reconstructor": lambda code, touch, scratch: pickle.dumps(
        Calls(copyreg._reconstructor, subprocess.Popen, object, None), protocol=0
    ),
    "os.system": lambda code, touch, scratch: pickle.dumps(Calls(os.system, touch), protocol=2),
    "subprocess.check_call": lambda code, touch, scratch: pickle.dumps(
        Calls(subprocess.check_call, touch.split()), protocol=4
    ),
    "builtins.eval": lambda code, touch, scratch: pickle.dumps(Calls(eval, code), protocol=2),
    # getattr(__import__("os"), "system")(touch), written by hand at protocol 0
    "builtins.getattr -> os.system": lambda code, touch, scratch: (
        b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(S'"
        + touch.encode()
        + b"'\ntR."
    ),
    "object array of os.system": lambda code, touch, scratch: pickle.dumps(
        np.array([Calls(os.system, touch)], dtype=object), protocol=2
    ),
}


@pytest.fixture
def cora_copy(cora_root: Path, tmp_path: Path) -> Path:
    """A writable copy of the Cora folder: tmp_path/data/cora."""
    folder = tmp_path / "data" / "cora"
    shutil.copytree(cora_root / "cora", folder)
    return folder


@pytest.mark.parametrize("part", ["x", "graph"])
@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_planetoid_refuses_files_that_would_run_code(
    cora_copy: Path, tmp_path: Path, payload: str, part: str
) -> None:
    marker = tmp_path / "marker"
    code = f"open({str(marker)!r}, 'w').close()"
    path = cora_copy / f"ind.cora.{part}"
    path.write_bytes(PAYLOADS[payload](code, f"touch {marker}", tmp_path))
    with pytest.raises(DataError, match="refused") as raised:
        Planetoid("cora", root=cora_copy.parent)
    assert str(path) in str(raised.value)
    assert not marker.exists()


def test_the_cora_copy_loads_before_tampering(cora_copy: Path) -> None:
    assert Planetoid("cora", root=cora_copy.parent)[0].num_nodes == 2708


def swap(folder: Path, part: str, other: str) -> None:
    shutil.copy(folder / f"ind.cora.{other}", folder / f"ind.cora.{part}")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda folder: swap(folder, "ty", "y"),
            r"ind\.cora\.tx has 1000 rows but .*ind\.cora\.ty has 140",
        ),
        (lambda folder: swap(folder, "allx", "tx"), r"ind\.cora\.allx has 1000 rows"),
        (lambda folder: swap(folder, "graph", "y"), r"ind\.cora\.graph: expected a dict"),
        (lambda folder: swap(folder, "y", "graph"), r"ind\.cora\.y: expected a 2-D array"),
        (
            lambda folder: (folder / "ind.cora.graph").write_bytes(pickle.dumps({0: [1, 5000]})),
            r"ind\.cora\.graph: node ids must be in 0\.\.2707",
        ),
        (
            lambda folder: (folder / "ind.cora.test.index").write_text("1\nabc\n"),
            r"ind\.cora\.test\.index: expected one node index per line",
        ),
    ],
)
def test_files_that_do_not_fit_together_are_named(
    cora_copy: Path, tamper: Callable[[Path], None], message: str
) -> None:
    tamper(cora_copy)
    with pytest.raises(DataError, match=message):
        Planetoid("cora", root=cora_copy.parent)


# ----------------------------------------------------------------------------- property
@pytest.fixture(scope="module")
def cora_scratch(cora_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("planetoid-mutations") / "cora"
    shutil.copytree(cora_root / "cora", folder)
    return folder


# The files without a sparse matrix: a damaged shape in one of those could ask for a large dense
# matrix (refused only above 2**31 values), too much for a test.
MUTABLE = ["y", "ty", "ally", "graph", "test.index"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    part=st.sampled_from(MUTABLE),
    edits=st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 2**16),
)
def test_a_damaged_planetoid_file_gives_a_graph_or_a_data_error(
    cora_scratch: Path, part: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    path = cora_scratch / f"ind.cora.{part}"
    original = path.read_bytes()
    data = bytearray(original)
    for position, value in edits:
        data[position % len(data)] = value
    try:
        path.write_bytes(bytes(data[:cut]))
        graph = Planetoid("cora", root=cora_scratch.parent)[0]
        assert isinstance(graph, Graph) and graph.num_nodes > 0
    except DataError as error:
        assert "ind.cora." in str(error)
    finally:
        path.write_bytes(original)
