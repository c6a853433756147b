"""String columns of NumPy inserts written by the Rust codec, not value by value.

clickhouse-driver writes a NumPy ``String`` column by turning it into a list of Python
``bytes`` and writing each with its length: about 60 ns a value, and the worker inserts
seven such columns of about seven rows a frame (3 us a frame, a tenth of its budget).
``hj212.native_strings`` writes the same bytes from the array's memory in one call,
without the GIL.

The driver has no way to plug in a column writer, so ``install`` wraps the ``write_items``
of its two NumPy string column classes: an ``S`` array goes through the codec, anything
else (``U`` or object arrays) through the driver as before. The bytes on the wire are
the driver's own (``tests/unit/test_native_strings.py`` holds the two to equality).
"""

from __future__ import annotations

from typing import Any

import hj212
import numpy as np
from clickhouse_driver.columns.numpy import stringcolumn  # type: ignore[import-untyped,unused-ignore]

#: the classes wrapped, with their own write_items
_WRAPPED: dict[Any, Any] = {}


def encode(items: np.ndarray[Any, Any]) -> bytes:
    """The Native form of a NumPy ``S`` column (what the driver would write for it)."""
    column = np.ascontiguousarray(items)
    return hj212.native_strings(column.view(np.uint8).reshape(-1), column.dtype.itemsize)


def _writer(original: Any) -> Any:
    def write_items(self: Any, items: Any, buf: Any) -> Any:
        if isinstance(items, np.ndarray) and items.dtype.kind == "S" and items.ndim == 1:
            return buf.write(encode(items))
        return original(self, items, buf)

    return write_items


def install() -> None:
    """Wrap the driver's NumPy string writers (once; later calls do nothing)."""
    for cls in (stringcolumn.NumpyStringColumn, stringcolumn.NumpyByteStringColumn):
        if cls not in _WRAPPED:
            _WRAPPED[cls] = cls.write_items
            cls.write_items = _writer(_WRAPPED[cls])


def installed() -> bool:
    """Whether the driver's writers are wrapped now."""
    return bool(_WRAPPED)


def uninstall() -> None:
    """Put the driver's own writers back (for the tests that compare the two)."""
    for cls, original in _WRAPPED.items():
        cls.write_items = original
    _WRAPPED.clear()
