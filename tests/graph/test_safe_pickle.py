"""read_pickle: the data pickles hold (arrays, CSR matrices, dicts) come back; code never runs.

Payloads that run code through a plain ``pickle.load`` are in test_planetoid_security.py; here
are the formats read_pickle must accept, the objects it must refuse, and a property test that
random or damaged bytes only ever raise DataError.
"""

from __future__ import annotations

import collections
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zen.errors import DataError
from zen.graph.datasets.safe_pickle import read_pickle


def written(tmp_path: Path, data: bytes, name: str = "data.pkl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------- accepted
@pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")
@pytest.mark.parametrize("part", ["x", "tx", "allx", "y", "ty", "ally", "graph"])
def test_real_planetoid_files_read_as_pickle_itself_reads_them(cora_root: Path, part: str) -> None:
    # The files are trusted here only to get the golden answer from an unrestricted load.
    path = cora_root / "cora" / f"ind.cora.{part}"
    with path.open("rb") as handle:
        expected = pickle.load(handle, encoding="latin1")
    got = read_pickle(path)
    if part == "graph":
        assert type(got) is dict and got == dict(expected)
    elif sp.issparse(expected):
        assert isinstance(got, sp.csr_matrix) and got.shape == expected.shape
        assert (got != expected).nnz == 0
    else:
        assert got.dtype == expected.dtype and got.flags.writeable
        np.testing.assert_array_equal(got, expected)


ARRAYS = {
    "float32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "int64": np.arange(-3, 3, dtype=np.int64),
    "big-endian": np.arange(4, dtype=">i4"),
    "fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
    "bool": np.array([True, False, True]),
    "empty": np.zeros((0, 5), dtype=np.float32),
    "uint8": np.arange(5, dtype=np.uint8),
}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("name", list(ARRAYS))
def test_arrays_of_every_protocol_round_trip(tmp_path: Path, protocol: int, name: str) -> None:
    array = ARRAYS[name]
    got = read_pickle(written(tmp_path, pickle.dumps(array, protocol=protocol)))
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_csr_matrices_and_adjacency_dicts_round_trip(tmp_path: Path, protocol: int) -> None:
    matrix = sp.random(20, 7, density=0.2, format="csr", random_state=0, dtype=np.float32)
    graph = collections.defaultdict(list, {0: [1, 2], 1: [0], 2: [0]})
    got = read_pickle(written(tmp_path, pickle.dumps((matrix, graph), protocol=protocol)))
    assert isinstance(got, tuple) and isinstance(got[0], sp.csr_matrix)
    np.testing.assert_array_equal(got[0].toarray(), matrix.toarray())
    assert type(got[1]) is dict and got[1] == {0: [1, 2], 1: [0], 2: [0]}


def test_shared_references_are_built_once(tmp_path: Path) -> None:
    # 40 levels of [x, x]: 2**40 leaves if every reference were rebuilt separately.
    value: list = []
    for _ in range(40):
        value = [value, value]
    got = read_pickle(written(tmp_path, pickle.dumps(value, protocol=2)))
    assert got[0] is got[1]


# ----------------------------------------------------------------------------- refused
class _Calls:
    """Pickles as a call of ``function(*args)``, the way an attacker's object would."""

    def __init__(self, function: object, *args: object) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple:
        return self.function, self.args


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.array([1, "a"], dtype=object), r"refused dtype '\|O'|refused dtype 'O8'"),
        (np.zeros(2, dtype=[("a", "i4")]), "refused dtype 'V4'"),
        (np.array(["text"]), "refused dtype 'U4'"),
        (np.ma.masked_array([1, 2]), "refused numpy.ma.core"),
        (np.float64(1.5), r"refused numpy\._core\.multiarray\.scalar"),
        (np.memmap, r"refused numpy\.memmap"),
        (sp.coo_matrix(np.eye(2)), "refused scipy.sparse._coo.coo_matrix"),
        (collections.OrderedDict(a=1), "refused collections.OrderedDict"),
        (collections.defaultdict(set), r"refused __builtin__\.set"),
        (_Calls(np.dtype, "f8", False, True), "unexpected numpy.dtype"),  # only inside arrays
        (_Calls(int, "7"), r"refused __builtin__\.long"),  # int, as Python 2 names it
    ],
    ids=lambda value: type(value).__name__,
)
def test_anything_but_plain_data_is_refused(tmp_path: Path, value: object, message) -> None:
    path = written(tmp_path, pickle.dumps(value, protocol=2))
    with pytest.raises(DataError, match=str(path)) as raised:
        read_pickle(path)
    assert raised.match(message)


def test_a_state_cannot_be_set_on_a_shared_stand_in(tmp_path: Path) -> None:
    # GLOBAL numpy.ndarray, then BUILD (None, {"name": ...}): would overwrite the slot of the
    # one marker every later file resolves numpy.ndarray to.
    data = b"\x80\x02cnumpy\nndarray\nN}X\x04\x00\x00\x00nameX\x01\x00\x00\x00xs\x86b."
    with pytest.raises(DataError, match="takes none"):
        read_pickle(written(tmp_path, data))
    assert read_pickle(written(tmp_path, pickle.dumps(np.arange(3), protocol=2))).tolist() == [
        0,
        1,
        2,
    ]


def test_a_list_that_contains_itself_is_refused(tmp_path: Path) -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(DataError, match="contains itself"):
        read_pickle(written(tmp_path, pickle.dumps(loop, protocol=2)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a readable pickle"),
        (b"\x80\x02K", "not a readable pickle"),  # truncated
        (b"\x80\x05\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.", "not a readable pickle"),  # 2**63 B
        (b"\x80\x02cnumpy\nndarray\n.", "unexpected numpy.ndarray"),
        (pickle.dumps({1, 2}, protocol=4), "unexpected .*set"),
        (b"\x80\x02ccollections\ndefaultdict\ncnumpy\nndarray\n\x85R.", "only defaultdict"),
    ],
)
def test_damaged_files_raise_data_error_naming_the_file(tmp_path: Path, data, message) -> None:
    path = written(tmp_path, data)
    with pytest.raises(DataError, match=message) as raised:
        read_pickle(path)
    assert str(path) in str(raised.value)


# ----------------------------------------------------------------------------- properties
@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("safe-pickle") / "data.pkl"


def read_or_data_error(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        read_pickle(path)
    except DataError as error:
        assert str(path) in str(error)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400))
def test_random_bytes_only_ever_raise_data_error(scratch: Path, data: bytes) -> None:
    read_or_data_error(scratch, b"\x80\x02" + data)
    read_or_data_error(scratch, data)


@pytest.fixture(scope="module")
def real_files(cora_root: Path) -> list[bytes]:
    # x, y and graph hold every kind of object the Planetoid files have; each under 60 KB.
    return [(cora_root / "cora" / f"ind.cora.{part}").read_bytes() for part in ("x", "y", "graph")]


@st.composite
def mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few bytes replaced, inserted or deleted, or cut short; half of the
    edits land on an opcode, where they change the structure rather than a number."""
    opcodes = [position for _, _, position in pickletools.genops(original)]
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        position = draw(
            st.sampled_from([p for p in opcodes if p < len(data)] or [0])
            | st.integers(0, len(data) - 1)
        )
        edit = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        if edit == "replace":
            data[position] = draw(st.integers(0, 255))
        elif edit == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        else:
            del data[position:]
    return bytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_planetoid_files_only_ever_raise_data_error(
    scratch: Path, real_files: list[bytes], data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(real_files), label="file")
    read_or_data_error(scratch, data.draw(mutations(original), label="mutated"))
