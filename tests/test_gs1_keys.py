"""GS1 keys: check digits, GTIN forms, company-prefix candidates, binding suffixes, walk-up
and rules, and their ONS-style DNS names."""

from __future__ import annotations

import dns.name
import pytest

from resolver.dns_names import NotNameable, gtin_name, gtin_of, handle_for, name_for
from resolver.errors import InvalidHandle
from resolver.gs1.keys import Gs1Key, InvalidGs1Key, apply_rule, check_digit, gtin14

ZONE = dns.name.from_text("id.tierid.test.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00614141322602", "00614141322602"),  # GTIN-14
        ("4006381333931", "04006381333931"),  # GTIN-13
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("96385074", "00000096385074"),  # GTIN-8
    ],
)
def test_gtins_of_every_length_become_14_digits(text: str, expected: str) -> None:
    assert gtin14(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("00614141322603", "check digit is 3, expected 2"),
        ("00614141322", "must be 8, 12, 13 or 14 digits"),
        ("0061414132260A", "must be 8, 12, 13 or 14 digits"),
        ("", "must be 8, 12, 13 or 14 digits"),
    ],
)
def test_bad_gtins_are_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidGs1Key, match=message):
        gtin14(text)


def test_check_digit_follows_gs1_mod_10() -> None:
    assert check_digit("0061414132260") == 2
    assert check_digit("629104150021") == 3  # GS1's worked example (GTIN-13 6291041500213)


def test_company_prefix_candidates_start_where_the_dictionary_puts_them() -> None:
    assert Gs1Key("01", "06901234000016").company_prefixes() == [
        "6901", "69012", "690123", "6901234", "69012340", "690123400", "6901234000",
        "69012340000", "690123400001",
    ]  # fmt: skip
    # a GLN starts with its company prefix; a GRAI after its leading zero; a GIAI's
    # alphanumeric serial part is not part of any prefix
    assert Gs1Key("414", "6901234000057").company_prefixes()[3] == "6901234"
    assert Gs1Key("8003", "06901234000013SN").company_prefixes()[0] == "6901"
    assert Gs1Key("8004", "69012ABC").company_prefixes() == ["6901", "69012"]
    assert Gs1Key("00", "069012340000000018").company_prefixes()[-1] == "690123400000"


def test_bindings_follow_digital_link_order_and_walk_up_serial_lot_gtin() -> None:
    key = Gs1Key.of("01", "06901234000016", {"21": "S1", "10": "L7", "22": "V2"})
    assert key.path == "01/06901234000016/22/V2/10/L7/21/S1"
    assert [level.path for level in key.walk_up()] == [
        "01/06901234000016/22/V2/10/L7/21/S1",
        "01/06901234000016/22/V2/10/L7",
        "01/06901234000016/22/V2",
        "01/06901234000016",
    ]
    assert Gs1Key.of("01", "06901234000016", {"10": "A/B"}).uri_path == (
        "/01/06901234000016/10/A%2FB"
    )
    assert Gs1Key.of("414", "6901234000057", {"254": "DOCK-3"}).path == (
        "414/6901234000057/254/DOCK-3"
    )
    with pytest.raises(InvalidGs1Key, match="AI 17 cannot qualify"):
        Gs1Key.of("01", "06901234000016", {"17": "260101"})
    with pytest.raises(InvalidGs1Key, match=r"AI 10, 235 cannot qualify \(01\)"):
        Gs1Key.of("01", "06901234000016", {"235": "X", "10": "L"})
    with pytest.raises(InvalidGs1Key, match=r"\(10\) is not a GS1 primary key"):
        Gs1Key.of("10", "L7")


def test_rules_fill_ais_or_say_they_cannot() -> None:
    rule = "88.118.8/PUMP-{01}-{21}"
    serial = Gs1Key.of("01", "06901234000016", {"21": "7"})
    assert apply_rule(rule, serial) == "88.118.8/PUMP-06901234000016-7"
    assert apply_rule(rule, Gs1Key("01", "06901234000016")) is None
    assert apply_rule("88.118.8/ASSET-{8004}", Gs1Key("8004", "69012X")) == "88.118.8/ASSET-69012X"


def test_gtin_names_are_ons_style_and_read_back() -> None:
    name = gtin_name("00614141322602", ZONE)
    assert name.to_text() == "0.0.6.2.2.3.1.4.1.4.1.6.0.gtin.id.tierid.test."
    assert gtin_of(name, ZONE) == "00614141322602"
    assert gtin_of(dns.name.from_text("PUMP.8.118.88.id.tierid.test."), ZONE) is None
    for bad in ("1.2.gtin.id.tierid.test.", "x.0.6.2.2.3.1.4.1.4.1.6.0.gtin.id.tierid.test."):
        with pytest.raises(InvalidGs1Key):
            gtin_of(dns.name.from_text(bad), ZONE)


def test_the_gtin_label_is_kept_out_of_identifier_names() -> None:
    with pytest.raises(NotNameable):
        name_for("gtin.5/X", ZONE)
    with pytest.raises(InvalidHandle):
        handle_for(dns.name.from_text("X.5.gtin.id.tierid.test."), ZONE)
