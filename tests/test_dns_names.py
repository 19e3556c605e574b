"""The DNS face's pieces without a network: the naming rule, the records a value becomes,
and the hot path's query parser and answer store."""

from __future__ import annotations

import struct

import dns.message
import dns.name
import dns.rdatatype
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from resolver.dns_names import NotNameable, handle_for, name_for
from resolver.errors import InvalidHandle
from resolver.faces import dns_records
from resolver.values import HandleValue

ZONE = dns.name.from_text("id.tierid.test.")

segment = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_", min_size=1)
suffix = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f"),
    min_size=1,
    max_size=80,
)


@given(st.lists(segment.map(lambda s: s[:12]), min_size=1, max_size=4), suffix)
def test_every_nameable_identifier_round_trips(segments: list[str], tail: str) -> None:
    handle = ".".join(segments) + "/" + tail
    try:
        name = name_for(handle, ZONE)
    except NotNameable:
        assume(False)
    assert name.is_subdomain(ZONE)
    assert handle_for(name, ZONE) == handle
    # and through the wire's text form, as dig would send it
    assert handle_for(dns.name.from_text(name.to_text()), ZONE) == handle


@pytest.mark.parametrize(
    ("handle", "name"),
    [
        ("88.118.8/PUMP-000123", "PUMP-000123.8.118.88.id.tierid.test."),
        ("88/x_1", "x_1.88.id.tierid.test."),
        # a suffix with "--" at 3-4 is reserved for the encoded form, like IDNA's "xn--"
        ("88.1/ab--x", "x1--mfrc2lly.1.88.id.tierid.test."),
        ("88.1/a/b", "x1--mexwe.1.88.id.tierid.test."),
        ("88.1/a.b", "x1--mexg e.1.88.id.tierid.test.".replace(" ", "")),
    ],
)
def test_names_follow_the_documented_rule(handle: str, name: str) -> None:
    assert name_for(handle, ZONE).to_text() == name


def test_encoded_suffixes_are_read_in_any_case() -> None:
    name = name_for("88.1/Mixed Case/é", ZONE)
    upper = dns.name.from_text(name.to_text().upper())
    assert handle_for(upper, ZONE) == "88.1/Mixed Case/é"


def test_a_long_suffix_spans_several_labels() -> None:
    handle = "88.1/" + "S/" * 40
    name = name_for(handle, ZONE)
    assert name.labels[0].startswith(b"x3--")
    assert handle_for(name, ZONE) == handle


@pytest.mark.parametrize(
    "handle",
    ["88.1/" + "é" * 120, "A" * 64 + "/x"],
)
def test_identifiers_too_long_for_dns_say_so(handle: str) -> None:
    with pytest.raises(NotNameable):
        name_for(handle, ZONE)


@pytest.mark.parametrize(
    "text",
    [
        "id.tierid.test.",  # the apex
        "PUMP.id.tierid.test.",  # no prefix label
        "ab--c.88.id.tierid.test.",  # reserved form that is not an encoded suffix
        "x1--!!!.88.id.tierid.test.",  # not base32
        "x1--a.88.id.tierid.test.",  # base32 of a wrong length
        "x1--7777777777777777.88.id.tierid.test.",  # base32, but not UTF-8
        "x3--mexwe.88.id.tierid.test.",  # says 3 labels, leaves no prefix
        "PUMP.a\\.b.88.id.tierid.test.",  # a dot inside a label is no prefix segment
        "PUMP.a\\@b.88.id.tierid.test.",
        "PUMP.88.example.com.",  # another zone
    ],
)
def test_names_that_are_no_identifier_are_rejected(text: str) -> None:
    with pytest.raises(InvalidHandle):
        handle_for(dns.name.from_text(text), ZONE)


# --- records -----------------------------------------------------------------------------


def _value(index: int, type_: str, data: bytes) -> HandleValue:
    return HandleValue(index, type_, data)


def _no_alias(target: str) -> None:
    return None


def test_url_values_become_terminal_naptr_rules_and_uri_records() -> None:
    values = [
        _value(1, "URL", b"https://p.example/1"),
        _value(3, "URL.MANUAL", b"https://p.example/m!1#x|y~z%q^w"),
        _value(4, "EMAIL", b"ops@example.cn"),
        _value(2, "DESC", b"a pump"),
    ]
    naptr = [rd.to_text() for rd in dns_records.rdatas(dns.rdatatype.NAPTR, values, _no_alias)]
    assert naptr == [
        '100 1 "U" "hdl+url" "!^.*$!https://p.example/1!" .',
        # every candidate delimiter occurs in the URL: "!" is escaped
        '100 3 "U" "hdl+url.manual" "!^.*$!https://p.example/m\\\\!1#x|y~z%q^w!" .',
        '100 4 "U" "hdl+email" "!^.*$!mailto:ops@example.cn!" .',
    ]
    uri = [rd.to_text() for rd in dns_records.rdatas(dns.rdatatype.URI, values, _no_alias)]
    assert uri == [
        '1 1 "https://p.example/1"',
        '3 1 "https://p.example/m!1#x|y~z%q^w"',
        '4 1 "mailto:ops@example.cn"',
    ]


def test_an_alias_is_a_non_terminal_naptr_rule_to_the_targets_name() -> None:
    values = [_value(1, "HS_ALIAS", b"88.118.8/PUMP-1")]
    [rule] = dns_records.rdatas(dns.rdatatype.NAPTR, values, lambda t: name_for(t, ZONE))
    assert rule.flags == b"" and rule.service == b"hdl+alias"
    assert rule.replacement == name_for("88.118.8/PUMP-1", ZONE)


def test_txt_carries_every_value_binary_ones_in_base64_long_ones_split() -> None:
    values = [
        _value(2, "DESC", "泵 CP-200".encode()),
        _value(100, "HS_ADMIN", b"\x0f\xff\x00"),
        _value(5, "NOTE", b"n" * 600),
    ]
    txt = dns_records.rdatas(dns.rdatatype.TXT, values, _no_alias)
    assert txt[0].strings == ("2 DESC=泵 CP-200".encode(),)
    assert txt[1].strings == (b"100 HS_ADMIN;base64=D/8A",)
    assert [len(s) for s in txt[2].strings] == [255, 255, 97]
    assert b"".join(txt[2].strings) == b"5 NOTE=" + b"n" * 600


# --- the hot path --------------------------------------------------------------------------


def _query(name: str, rdtype: str = "NAPTR", **kw: object) -> bytes:
    return dns.message.make_query(name, rdtype, **kw).to_wire()


def test_question_key_is_case_blind_and_tells_edns_and_do_apart(dns_hot_impl) -> None:
    question_key = dns_hot_impl.question_key
    plain = question_key(_query("PUMP.88.id.tierid.test.", use_edns=False), 1232)
    lower = question_key(_query("pump.88.id.tierid.test.", use_edns=False), 1232)
    edns = question_key(_query("pump.88.id.tierid.test.", use_edns=0, payload=4096), 1232)
    do = question_key(_query("pump.88.id.tierid.test.", want_dnssec=True, payload=800), 1232)
    assert plain is not None and lower is not None and edns is not None and do is not None
    assert plain[0] == lower[0]
    assert len({plain[0], edns[0], do[0]}) == 3
    assert (plain[2], edns[2], do[2]) == (512, 1232, 800)


def _with_header(wire: bytes, **fields: int) -> bytes:
    ident, flags, qd, an, ns, ar = struct.unpack("!6H", wire[:12])
    values = {"flags": flags, "qd": qd, "an": an, "ns": ns, "ar": ar, **fields}
    head = struct.pack(
        "!6H", ident, values["flags"], values["qd"], values["an"], values["ns"], values["ar"]
    )
    return head + wire[12:]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda w: w[:20],  # truncated inside the question
        lambda w: w + b"\x00",  # trailing byte
        lambda w: _with_header(w, flags=0x8000),  # a response
        lambda w: _with_header(w, flags=0x2800),  # opcode UPDATE
        lambda w: _with_header(w, qd=2),
        lambda w: _with_header(w, an=1),
        lambda w: _with_header(w, ar=2),
        lambda w: w[:-2] + b"\xff\xff",  # OPT rdata length lying
        lambda w: w[:-5] + b"\x01" + w[-4:],  # EDNS version 1
        lambda w: w[:12] + b"\xc0\x0c" + w[-15:],  # compression pointer in the question
    ],
)
def test_question_key_leaves_anything_unusual_to_the_full_path(mangle, dns_hot_impl) -> None:
    question_key = dns_hot_impl.question_key
    wire = _query("pump.88.id.tierid.test.", use_edns=0)
    assert question_key(wire, 1232) is not None
    assert question_key(mangle(wire), 1232) is None


def _answer_for(query: bytes) -> bytes:
    msg = dns.message.from_wire(query)
    resp = dns.message.make_response(msg)
    resp.flags |= dns.flags.AA
    rrset = resp.find_rrset(resp.answer, msg.question[0].name, 1, dns.rdatatype.TXT, create=True)
    rrset.add(dns.rdata.from_text(1, dns.rdatatype.TXT, '"hello"'), 60)
    return resp.to_wire()


def test_a_stored_answer_echoes_the_clients_id_spelling_and_rd(dns_hot_impl) -> None:
    HotAnswers = dns_hot_impl.HotAnswers
    clock = [100.0]
    hot = HotAnswers(10, 1232, clock=lambda: clock[0])
    first = _query("pump.88.id.tierid.test.", "TXT")
    hot.store(first, _answer_for(first), "88/PUMP", 60)
    second = dns.message.make_query("PuMp.88.id.tierid.test.", "TXT")
    second.flags &= ~dns.flags.RD
    wire = second.to_wire()
    out = hot.answer(wire)
    assert out is not None
    msg = dns.message.from_wire(out)
    assert msg.id == second.id and not msg.flags & dns.flags.RD
    assert msg.answer[0].name.to_text() == "PuMp.88.id.tierid.test."
    assert out[12 : 12 + len(wire) - 12] == wire[12:]
    clock[0] += 1.01  # reused at most a second
    assert hot.answer(wire) is None and len(hot) == 0


def test_stored_answers_are_dropped_with_their_cache_key_and_bounded(dns_hot_impl) -> None:
    HotAnswers = dns_hot_impl.HotAnswers
    hot = HotAnswers(2, 1232)
    queries = [_query(f"p{i}.88.id.tierid.test.", "TXT") for i in range(3)]
    for i, q in enumerate(queries):
        hot.store(q, _answer_for(q), f"88/P{i}", 60)
    assert len(hot) == 2 and hot.answer(queries[0]) is None  # oldest went first
    hot.drop("88/P1")
    assert hot.answer(queries[1]) is None and hot.answer(queries[2]) is not None
    hot.drop(None)
    assert len(hot) == 0


def test_a_stored_answer_larger_than_the_clients_buffer_is_not_used(dns_hot_impl) -> None:
    HotAnswers = dns_hot_impl.HotAnswers
    hot = HotAnswers(10, 1232)
    big = _query("p.88.id.tierid.test.", "TXT", use_edns=0, payload=4096)
    msg = dns.message.from_wire(big)
    resp = dns.message.make_response(msg)
    rrset = resp.find_rrset(resp.answer, msg.question[0].name, 1, dns.rdatatype.TXT, create=True)
    for i in range(8):
        rrset.add(dns.rdata.from_text(1, dns.rdatatype.TXT, f'"{i}{"x" * 100}"'), 60)
    hot.store(big, resp.to_wire(), "88/P", 60)
    assert hot.answer(big) is not None
    small = _query("p.88.id.tierid.test.", "TXT", use_edns=0, payload=600)
    assert hot.answer(small) is None
    assert hot.answer(small, tcp=True) is not None


def test_a_store_of_size_zero_keeps_nothing(dns_hot_impl) -> None:
    HotAnswers = dns_hot_impl.HotAnswers
    hot = HotAnswers(0, 1232)
    q = _query("p.88.id.tierid.test.", "TXT")
    hot.store(q, _answer_for(q), "88/P", 60)
    assert len(hot) == 0 and hot.answer(q) is None


@given(st.binary(max_size=120), st.integers(0, 60), st.integers(512, 4096))
def test_both_twins_read_any_packet_alike(noise: bytes, cut: int, max_udp: int) -> None:
    from resolver import dns_hot_py

    compiled = pytest.importorskip("resolver._dns_hot")
    base = _query("pump.88.id.tierid.test.", use_edns=0, want_dnssec=bool(cut % 2))
    for packet in (noise, base[:cut] + noise, base[: len(base) - cut % 12] + noise[:3], base):
        assert compiled.question_key(packet, max_udp) == dns_hot_py.question_key(packet, max_udp)
