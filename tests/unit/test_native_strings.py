"""String columns of NumPy inserts (pipeline/store/native_strings.py): the bytes the codec
writes must be the bytes clickhouse-driver writes for the same column, for any value:
inner and trailing NULs, non-ASCII bytes, lengths past 127 (a two-byte length)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from clickhouse_driver.bufferedwriter import BufferedSocketWriter  # type: ignore[import-untyped]
from clickhouse_driver.columns.numpy import stringcolumn  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.store import native_strings


class Sink:
    """What the driver's writer sends, kept (it writes to a socket's ``sendall``)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def sendall(self, data: bytes) -> None:
        self.data += data


def written(cls: Any, items: Any, *, through_codec: bool) -> bytes:
    sink = Sink()
    buf = BufferedSocketWriter(sink, 1 << 12)
    column = cls.__new__(cls)  # write_items uses no column state but the encoding
    column.encoding = "utf-8"
    installed = native_strings.installed()
    if through_codec:
        native_strings.install()
    else:
        native_strings.uninstall()
    try:
        column.write_items(items, buf)
    finally:
        native_strings.uninstall()
        if installed:  # as the test found it (a FrameSink made earlier installed it)
            native_strings.install()
    buf.flush()
    return bytes(sink.data)


columns = st.integers(1, 300).flatmap(lambda width: st.lists(
    st.binary(max_size=width), max_size=60).map(
        lambda values: np.array(values, dtype=f"S{width}")))


@settings(max_examples=300, deadline=None)
@given(items=columns)
def test_the_codec_writes_what_the_driver_writes(items: np.ndarray[Any, Any]) -> None:
    for cls in (stringcolumn.NumpyByteStringColumn, stringcolumn.NumpyStringColumn):
        assert written(cls, items, through_codec=True) == \
            written(cls, items, through_codec=False)


def test_long_values_and_their_two_byte_lengths_are_written_as_the_driver_writes() -> None:
    items = np.array([b"x" * 127, b"y" * 128, b"z" * 300, b"", b"\xff" * 200], dtype="S300")
    assert written(stringcolumn.NumpyByteStringColumn, items, through_codec=True) == \
        written(stringcolumn.NumpyByteStringColumn, items, through_codec=False)


class NoList(np.ndarray):  # type: ignore[type-arg]
    """An ``S`` column that refuses to become a list of ``bytes``: the driver's own
    writer needs that list; the codec reads the array's memory."""

    def tolist(self) -> Any:  # type: ignore[override]
        raise AssertionError("the column was turned into Python objects")


def test_installed_an_s_column_is_written_without_a_python_object_per_value() -> None:
    items = np.array([b"a01012", b"N", b""], dtype="S8").view(NoList)
    with pytest.raises(AssertionError, match="Python objects"):
        written(stringcolumn.NumpyByteStringColumn, items, through_codec=False)
    assert written(stringcolumn.NumpyByteStringColumn, items, through_codec=True) == \
        b"\x06a01012\x01N\x00"


def test_slices_and_strided_views_are_written_as_their_values() -> None:
    base = np.array([b"a01012", b"", b"w00000\x00x", b"N"] * 5, dtype="S10")
    for items in (base[3:11], base[::3], base[:0]):
        assert native_strings.encode(items) == b"".join(
            bytes([len(v)]) + v for v in items.tolist())


def test_other_arrays_still_go_through_the_driver() -> None:
    items = np.array(["站点", "a"], dtype="U4")
    assert written(stringcolumn.NumpyStringColumn, items, through_codec=True) == \
        written(stringcolumn.NumpyStringColumn, items, through_codec=False)


def test_a_width_that_does_not_divide_the_data_is_refused() -> None:
    import hj212
    with pytest.raises(ValueError, match="width=4 does not divide the 10 bytes"):
        hj212.native_strings(np.zeros(10, dtype=np.uint8), 4)
