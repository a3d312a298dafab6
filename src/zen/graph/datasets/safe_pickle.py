"""Reading pickled arrays, sparse matrices and dicts without running code from the file.

A pickle is a program: a ``GLOBAL`` names any importable object and ``REDUCE`` calls it with
arguments from the file, so ``pickle.load`` runs whatever the file's author chose. Allowing
whole packages is not enough: ``numpy.testing`` has a function that calls ``exec``,
``numpy.load`` unpickles again, and from protocol 4 on a dotted name such as
``numpy``/``ma.core.builtins.eval`` walks from an allowed module to anything it imports.

:func:`read_pickle` reads the pickles that data sets such as Planetoid ship (written by
Python 2 or 3, NumPy 1 or 2, SciPy old or new) as data only:

1. The file's globals are looked up in an exact table of (module, name) pairs (the paths
   ``ndarray``, ``dtype``, SciPy's ``csr_matrix``, ``defaultdict(list)`` and ``bytes`` are
   pickled under); anything else is refused. The table maps each to an inert stand-in that
   only records its arguments, so not even NumPy's or SciPy's own reconstructors see the
   file's state.
2. After the whole file is read, the stand-ins become real objects through public
   constructors that check them: :func:`numpy.frombuffer` (the bytes must fill the shape),
   :class:`scipy.sparse.csr_matrix` with a full format check. Arrays hold booleans, integers
   or floats only, never Python objects.

Every failure, whether a refused global or a damaged file, is a :class:`~zen.errors.DataError`
naming the file.
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zen.errors import BackendUnavailable, DataError
from zen.graph.convert import require

__all__ = ["read_pickle"]

#: The dtypes an array may have: booleans, integers and floats (never objects or records).
DTYPE_CODES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"})
_BYTE_ORDERS = frozenset({"<", ">", "=", "|"})
_MAX_DIMS = 32  # NumPy's own limit is 64; real data has 1 or 2
_SCALARS = (type(None), bool, int, float, str, bytes)


def read_pickle(path: str | Path) -> Any:
    """Unpickle ``path``, accepting only data: NumPy arrays, SciPy CSR matrices and containers.

    Returns:
        The file's object, built only from ``None``, ``bool``, ``int``, ``float``, ``str``,
        ``bytes``, ``list``, ``tuple``, ``dict`` (a pickled ``defaultdict(list)`` comes back as a
        plain ``dict``), :class:`numpy.ndarray` of boolean, integer or float dtype and
        :class:`scipy.sparse.csr_matrix`. Python 2 byte strings are read as latin-1 text.

    Raises:
        DataError: the file names any other global (a damaged file, or one made to run code),
            or is not a readable pickle; the message names the file.

    Example:
        >>> import pickle, tempfile, numpy as np
        >>> path = Path(tempfile.mkdtemp()) / "labels.pkl"
        >>> _ = path.write_bytes(pickle.dumps({0: [1, 2], 1: np.arange(3)}, protocol=2))
        >>> read_pickle(path)
        {0: [1, 2], 1: array([0, 1, 2])}
    """
    path = Path(path)
    try:
        # Read whole first: from a bytes buffer a length field larger than the file is a
        # truncation error, not a request to read (or allocate) that much.
        data = path.read_bytes()
        recorded = _Unpickler(io.BytesIO(data), encoding="latin1").load()
        return _Builder().build(recorded)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    except BackendUnavailable:
        raise
    except Exception as error:  # a damaged file can fail in any opcode; all of it is bad data
        raise DataError(
            f"{path}: not a readable pickle of arrays, sparse matrices and dicts"
            f" ({type(error).__name__}: {error})"
        ) from None


# ------------------------------------------------------------------------------- stand-ins
class _StandIn:
    """Base of everything the file's globals resolve to.

    Its ``__setstate__`` refuses, so the pickle ``BUILD`` opcode cannot set attributes on a
    shared stand-in; the few that take a state (arrays, dtypes, matrices) override it.
    """

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise DataError(f"the file sets a state on {self!r}, which takes none")


class _Marker(_StandIn):
    """A global that is only ever an argument (``numpy.ndarray``, ``list``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


class _Call(_StandIn):
    """A global the file calls (``REDUCE``): runs a checked function of ours instead."""

    __slots__ = ("function", "name")

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        self.name = name
        self.function = function

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    def __repr__(self) -> str:
        return self.name


class _PickledArray(_StandIn):
    """An ndarray as the file describes it: ``state = (shape, dtype, fortran_order, data)``."""

    __slots__ = ("state",)

    def __init__(self, state: Any = None) -> None:
        self.state = state

    def __setstate__(self, state: Any) -> None:
        # ndarray.__reduce__ state: (version, shape, dtype, is_fortran, raw); NumPy < 1.0 had
        # no version.
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise DataError("an array's state is not (version, shape, dtype, order, data)")
        self.state = state[-4:]

    def __repr__(self) -> str:
        return "numpy.ndarray"


class _PickledDtype(_StandIn):
    """``numpy.dtype(code, align, copy)`` and the byte order its state sets."""

    __slots__ = ("code", "state")

    def __init__(self, code: Any, align: Any = False, copy: Any = False) -> None:
        if code not in DTYPE_CODES:
            raise DataError(
                f"refused dtype {code!r}: arrays may hold booleans, integers or floats"
                f" ({', '.join(sorted(DTYPE_CODES))})"
            )
        self.code: str = code
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return "numpy.dtype"


class _PickledCsr(_StandIn):
    """A ``scipy.sparse.csr_matrix``, made by ``NEWOBJ``: its state is the instance dict."""

    __slots__ = ("state",)

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return "scipy.sparse.csr_matrix"


_NDARRAY = _Marker("numpy.ndarray")
_LIST = _Marker("list")


def _reconstruct(subtype: Any, shape: Any, typecode: Any) -> _PickledArray:
    # ndarray.__reduce__ makes an empty array with this, then BUILD fills it.
    if subtype is not _NDARRAY:
        raise DataError(f"refused _reconstruct of {subtype!r}: only plain ndarrays are read")
    return _PickledArray()


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> _PickledArray:
    # Protocol 5 pickles of contiguous arrays: _frombuffer(PickleBuffer, dtype, shape, order).
    if order not in ("C", "F"):
        raise DataError(f"an array's order is {order!r}; expected 'C' or 'F'")
    return _PickledArray((shape, dtype, order == "F", buffer))


def _defaultdict(*args: Any) -> dict[Any, Any]:
    # The only factory allowed is list (the Planetoid graphs); the result is a plain dict,
    # which nothing can make call a factory later.
    if args != (_LIST,):
        raise DataError(f"refused defaultdict{args!r}: only defaultdict(list) is read")
    return {}


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    # Python 3 pickles bytes at protocol <= 2 as _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise DataError(f"refused _codecs.encode{(text, encoding)!r}: only latin-1 is read")
    return text.encode("latin1")


def _bytes(*args: Any) -> bytes:
    # ... and the empty bytes at protocol <= 2 as bytes().
    if args:
        raise DataError("refused bytes(...) with arguments: only bytes() is read")
    return b""


def _table(names: list[tuple[str, str]], target: object) -> dict[tuple[str, str], object]:
    return dict.fromkeys(names, target)


#: Every global a file may name: the paths of the same object under Python 2 and 3, NumPy 1
#: (``numpy.core``) and 2 (``numpy._core``), SciPy before 1.8 (``scipy.sparse.csr``) and after.
_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Call("numpy.dtype", _PickledDtype),
    **_table(
        [("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")],
        _Call("numpy._reconstruct", _reconstruct),
    ),
    **_table(
        [("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")],
        _Call("numpy._frombuffer", _frombuffer),
    ),
    **_table(
        [
            ("scipy.sparse", "csr_matrix"),
            ("scipy.sparse.csr", "csr_matrix"),
            ("scipy.sparse._csr", "csr_matrix"),
        ],
        _PickledCsr,  # a class: NEWOBJ calls cls.__new__(cls)
    ),
    ("collections", "defaultdict"): _Call("collections.defaultdict", _defaultdict),
    **_table([("__builtin__", "list"), ("builtins", "list")], _LIST),
    **_table([("__builtin__", "bytes"), ("builtins", "bytes")], _Call("bytes", _bytes)),
    ("_codecs", "encode"): _Call("_codecs.encode", _encode),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Overriding find_class also turns off pickle's Python 2 name mapping and its dotted
        # name walk (protocol 4): the table holds the exact names, old and new.
        try:
            return _GLOBALS[module, name]
        except (KeyError, TypeError):
            raise DataError(
                f"refused {module}.{name}: only NumPy arrays, SciPy CSR matrices and"
                " dicts of lists are read from pickles, and this file names other code"
                " (a damaged file, or one made to run code); do not load it"
            ) from None


# --------------------------------------------------------------------------------- building
class _Builder:
    """Turns what the unpickler recorded into real objects, checking each stand-in.

    Shared objects are built once (a file can reference one list from many places, so
    rebuilding each reference could take exponential time) and a container holding itself
    is refused.
    """

    def __init__(self) -> None:
        self.built: dict[int, Any] = {}
        self.open: set[int] = set()

    def build(self, value: Any) -> Any:
        if isinstance(value, _SCALARS):
            return value
        key = id(value)
        if key in self.built:
            return self.built[key]
        if key in self.open:
            raise DataError(f"a {type(value).__name__} in the file contains itself")
        self.open.add(key)
        result = self._build(value)
        self.open.discard(key)
        self.built[key] = result
        return result

    def _build(self, value: Any) -> Any:
        if isinstance(value, bytearray):  # protocol 5's in-band buffers
            return bytes(value)
        if type(value) is list:
            return [self.build(item) for item in value]
        if type(value) is tuple:
            return tuple(self.build(item) for item in value)
        if type(value) is dict:
            return {self._key(key): self.build(item) for key, item in value.items()}
        if isinstance(value, _PickledArray):
            return self._array(value)
        if isinstance(value, _PickledCsr):
            return self._csr(value)
        raise DataError(f"unexpected {value!r} ({type(value).__name__}) in the file")

    @staticmethod
    def _key(key: Any) -> Any:
        if not isinstance(key, _SCALARS):
            raise DataError(f"a dict key is a {type(key).__name__}; expected a number or text")
        return key

    def _array(self, pickled: _PickledArray) -> np.ndarray:
        if pickled.state is None:
            raise DataError("an array has no data (its BUILD is missing)")
        shape, dtype_state, fortran, data = pickled.state
        shape = _shape(shape)
        dtype = _dtype(dtype_state)
        if type(fortran) not in (bool, int) or fortran not in (0, 1):
            raise DataError(f"an array's order flag is {fortran!r}; expected a bool")
        if isinstance(data, str):
            data = data.encode("latin1")  # a Python 2 byte string, read as latin-1 text
        if not isinstance(data, (bytes, bytearray)):
            raise DataError(f"an array's data is a {type(data).__name__}; expected bytes")
        count = math.prod(shape)
        if len(data) != count * dtype.itemsize:
            raise DataError(
                f"an array of shape {shape} and dtype {dtype} needs"
                f" {count * dtype.itemsize} bytes of data; the file has {len(data)}"
            )
        flat = np.frombuffer(data, dtype=dtype, count=count)
        if dtype.kind == "b":  # a byte other than 0 or 1 is not a valid NumPy bool
            flat = flat.view(np.uint8) != 0
        # A copy: frombuffer's array is a read-only view of the file's bytes.
        return flat.reshape(shape, order="F" if fortran else "C").copy()

    def _csr(self, pickled: _PickledCsr) -> Any:
        state = getattr(pickled, "state", None)
        if not isinstance(state, dict):
            raise DataError("a csr_matrix has no state dict")
        missing = [key for key in ("data", "indices", "indptr", "_shape") if key not in state]
        if missing:
            raise DataError(f"a csr_matrix lacks {', '.join(missing)}")
        data, indices, indptr = (self.build(state[key]) for key in ("data", "indices", "indptr"))
        for name, array in (("data", data), ("indices", indices), ("indptr", indptr)):
            if not isinstance(array, np.ndarray) or array.ndim != 1:
                raise DataError(f"a csr_matrix's {name} is not a 1-D array")
        if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
            raise DataError("a csr_matrix's indices and indptr must be integers")
        shape = _shape(state["_shape"])
        if len(shape) != 2:
            raise DataError(f"a csr_matrix's shape is {shape}; expected (rows, columns)")
        sparse = require("scipy.sparse")
        matrix = sparse.csr_matrix((data, indices, indptr), shape=shape)
        # The constructor checks lengths only; the full check also bounds every index, so
        # that todense() and friends cannot read or write outside the matrix.
        matrix.check_format(full_check=True)
        return matrix


def _shape(value: Any) -> tuple[int, ...]:
    if (
        type(value) is not tuple
        or len(value) > _MAX_DIMS
        or not all(type(size) is int and size >= 0 for size in value)
    ):
        raise DataError(f"a shape is {value!r}; expected a tuple of sizes")
    return value


def _dtype(value: Any) -> np.dtype:
    if not isinstance(value, _PickledDtype):
        raise DataError(f"an array's dtype is {value!r}; expected a numpy.dtype")
    dtype = np.dtype(value.code)
    state = value.state
    if state is None:
        return dtype
    # (version, byte order, subarray, names, fields, elsize, alignment, flags[, metadata]):
    # the code already fixed the type; only the byte order may vary, the rest must be empty.
    if (
        type(state) is not tuple
        or len(state) not in (8, 9)
        or state[1] not in _BYTE_ORDERS
        or any(part is not None for part in state[2:5])
    ):
        raise DataError(f"a dtype's state is {state!r}; expected that of a plain number type")
    return dtype.newbyteorder(state[1]) if state[1] in "<>" else dtype
