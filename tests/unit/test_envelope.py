"""The gateway envelope read a batch at a time in Rust (``decode_many``, which the worker
uses) against the reference reader (``envelope.decode``): on envelopes the gateway
writes, on envelopes with texts that are not UTF-8 or ASCII, and on every cut, flipped
byte or foreign value, the same fields or the same refusal, value by value."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.gateway.envelope import (
    ACCEPTED,
    EnvelopeError,
    decode,
    decode_many,
    encode,
    encode_accepted,
    sender_part,
)

envelopes = st.builds(
    encode,
    st.integers(0, 255), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
    st.one_of(st.just(b"gw-1"), st.binary(max_size=255), st.text(max_size=60).map(
        lambda t: t.encode()[:255])),
    st.one_of(st.just(b"10.0.0.7:40312"), st.binary(max_size=255)),
    st.one_of(st.just(b""), st.binary(max_size=300), st.just("格式错误".encode())),
    st.one_of(st.just(b"##0101QN=1;ST=32\r\n"), st.binary(max_size=600)))


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    value = draw(envelopes)
    how = draw(st.sampled_from(["whole", "cut", "flip", "grow", "foreign"]))
    if how == "cut":
        return value[:draw(st.integers(0, len(value)))]
    if how == "flip" and value:
        at = draw(st.integers(0, len(value) - 1))
        return value[:at] + bytes([draw(st.integers(0, 255))]) + value[at + 1:]
    if how == "grow":
        return value + draw(st.binary(min_size=1, max_size=8))
    if how == "foreign":
        return draw(st.binary(max_size=80))
    return value


@settings(max_examples=400, deadline=None)
@given(st.lists(damaged(), max_size=12))
def test_the_batch_reader_reads_each_value_as_the_reference_does(values: list[bytes]) -> None:
    got, errors = decode_many(values)
    refused = dict(errors)
    k = 0
    for i, value in enumerate(values):
        try:
            want = decode(value)
        except EnvelopeError:
            assert i in refused, f"value {i} ({value!r}) read by Rust but refused by Python"
            assert refused[i]
            continue
        assert i not in refused, f"value {i}: Rust refused ({refused.get(i)}), Python read it"
        # receive ns past 2**63 - 1 (the year 2262) stays at that in the int64 column
        assert (int(got.kind[k]), int(got.receive_ns[k]), int(got.seq[k])) == (
            want.kind, min(want.receive_ns, 2**63 - 1), want.seq)
        assert got.gateway[k] == want.gateway and got.peer[k] == want.peer
        assert got.reason[k] == want.reason and got.raw[k] == want.raw
        k += 1
    assert k == len(got)


def test_the_gateways_hot_path_envelope_reads_back_with_receive_seconds() -> None:
    sender = sender_part(b"gw-a", b"192.168.1.9:5000")
    values = [encode_accepted(1_700_000_000_123_456_789 + i, i, sender, b"##0005abcde\r\n")
              for i in range(3)]
    got, errors = decode_many(values)
    assert errors == []
    assert got.kind.tolist() == [ACCEPTED] * 3 and got.seq.tolist() == [0, 1, 2]
    assert got.receive_s.tolist() == [1_700_000_000] * 3
    assert got.gateway == ["gw-a"] * 3 and got.peer == ["192.168.1.9:5000"] * 3
    # one string object per distinct gateway in a batch
    assert got.gateway[0] is got.gateway[2]
