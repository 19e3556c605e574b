"""What reaches a person or a camera: QR labels (segno) and barcodes made and read back by
zxing-cpp, resolved through a running federation, and the product page as headless Chromium
renders it (the screenshot is kept in ``artefacts/``)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import zxingcpp
from PIL import Image

from tests.conftest import NodeProcess, gs1_federation, tierid_cli

PREFIX = "88.120.1"
GCP = "69055501"
GTIN = "06905550100016"
ITEM = f"{PREFIX}/PUMP-000123"
MOTOR = f"{PREFIX}/MOTOR-77"
ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts"
RECORDS = {
    ITEM: [
        {"type": "DESC", "data": "Centrifugal pump CP-200, No. 000123"},
        {"type": "MODEL", "data": "CP-200"},
        {"type": "PRODUCTION_DATE", "data": "2024-07-15"},
        {"type": "REF.MOTOR", "data": MOTOR},
        {"type": "COST", "data": "1830.00 CNY", "permissions": "1100"},
        {"type": "GS1.LINK", "data": '{"linkType": "gs1:instructions", "title": "Manual",'
                                     ' "href": "https://pumps.example/m.pdf"}'},
    ],
    MOTOR: [{"type": "DESC", "data": "Induction motor YE3-132"}],
    f"{PREFIX}/01/{GTIN}": [
        {"type": "DESC", "data": "Centrifugal pump CP-200 (model)"},
        {"type": "GS1.RULE", "data": f"{PREFIX}/PUMP-{{21}}"},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    with gs1_federation(tmp_path_factory.mktemp("labels"), PREFIX, GCP, RECORDS) as (_, node):
        yield node


def _scan(node: NodeProcess, barcode: zxingcpp.Barcode) -> dict:
    """Decode the barcode's image as a scanner would send it: symbology identifier, then
    the data with FNC1 as GS; and resolve that."""
    (read,) = zxingcpp.read_barcodes(barcode.to_image(scale=4), text_mode=zxingcpp.TextMode.Plain)
    scanned = read.symbology_identifier + read.text
    r = requests.post(f"{node.url}/api/scan", json={"scan": scanned}, timeout=10)
    assert r.status_code == 200, (scanned, r.text)
    return r.json()


@pytest.mark.parametrize(
    ("barcode_format", "data", "symbology"),
    [
        ("DataMatrix", f"(01){GTIN}(10)LOT7(21)000123", "]d2"),
        ("QRCode", f"(01){GTIN}(21)000123", "]Q3"),
        ("Code128", f"(01){GTIN}(21)000123", "]C1"),
    ],
)
def test_gs1_barcodes_read_back_resolve_to_the_item(
    resolver: NodeProcess, barcode_format: str, data: str, symbology: str
) -> None:
    barcode = zxingcpp.create_barcode(
        data, getattr(zxingcpp.BarcodeFormat, barcode_format), gs1=True
    )
    body = _scan(resolver, barcode)
    assert body["scan"]["symbology"] and body["handle"] == ITEM
    assert barcode.symbology_identifier == symbology


def test_a_digital_link_qr_and_an_ean13_resolve(resolver: NodeProcess) -> None:
    link = zxingcpp.create_barcode(
        f"https://id.example.com/01/{GTIN}/21/000123", zxingcpp.BarcodeFormat.QRCode
    )
    assert _scan(resolver, link)["handle"] == ITEM
    ean = zxingcpp.create_barcode(GTIN[1:], zxingcpp.BarcodeFormat.EAN13)
    assert _scan(resolver, ean)["handle"] == f"{PREFIX}/01/{GTIN}"


def _decoded_url(png: bytes) -> str:
    (read,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert read.symbology_identifier == "]Q1"
    return read.text


def test_a_png_label_scans_to_the_items_page(resolver: NodeProcess) -> None:
    r = requests.get(f"{resolver.url}/api/labels/{ITEM.lower()}?format=png", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    url = _decoded_url(r.content)
    # capitals keep the QR code in alphanumeric mode; the identifier is as registered
    assert url == f"{resolver.url}/{ITEM}".upper()
    # no URL value: the web proxy shows the page instead of redirecting
    page = requests.get(url, timeout=10, allow_redirects=False)
    assert page.status_code == 200 and "Centrifugal pump CP-200, No. 000123" in page.text
    assert requests.get(f"{resolver.url}/api/labels/{PREFIX}/NOPE", timeout=10).status_code == 404
    bad = requests.get(f"{resolver.url}/api/labels/{ITEM}?format=gif", timeout=10)
    assert bad.status_code == 400 and "svg or png" in bad.json()["message"]


def test_the_cli_writes_a_label(resolver: NodeProcess, tmp_path: Path) -> None:
    out = tmp_path / "label.png"
    done = tierid_cli("label", ITEM, "--format", "png", "--out", str(out), "--node", resolver.url,
                      "--root", "https://id.example.cn")  # fmt: skip
    assert "QR code of HTTPS://ID.EXAMPLE.CN/88.120.1/PUMP-000123" in done.stdout
    assert _decoded_url(out.read_bytes()) == "HTTPS://ID.EXAMPLE.CN/88.120.1/PUMP-000123"
    missing = tierid_cli("label", f"{PREFIX}/NOPE", "--node", resolver.url, check=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def _chromium(*args: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    assert browser, "chromium is not installed (make test installs Debian's chromium)"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", "--hide-scrollbars",
               # loopback only: any other host fails to resolve inside the browser
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


def test_the_product_page_in_headless_chromium(resolver: NodeProcess) -> None:
    url = f"{resolver.url}/{ITEM}?noredirect"
    dom = _chromium("--dump-dom", url).stdout
    assert "<h1>Centrifugal pump CP-200, No. 000123</h1>" in dom
    assert "<dt>Production date</dt><dd>2024-07-15</dd>" in dom
    assert f'<a href="/{MOTOR}?noredirect">{MOTOR}</a>' in dom  # a linked identifier
    assert ">Manual</a>" in dom and "gs1:instructions" in dom  # its GS1 link, by title
    assert "COST" not in dom and "1830" not in dom  # private values never reach the page
    ARTEFACTS.mkdir(exist_ok=True)
    shot = ARTEFACTS / "product-page.png"
    shot.unlink(missing_ok=True)
    _chromium("--window-size=390,844", f"--screenshot={shot}", url)  # a phone's viewport
    image = Image.open(shot).convert("L")
    assert image.size == (390, 844)
    dark = sum(image.histogram()[:100])
    assert dark > 2000, "the screenshot shows no text"


def test_an_svg_label_renders_and_scans(resolver: NodeProcess) -> None:
    r = requests.get(f"{resolver.url}/api/labels/{ITEM}?format=svg", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/svg+xml"
    assert f">{ITEM}</text></svg>" in r.text
    ARTEFACTS.mkdir(exist_ok=True)
    svg, shot = ARTEFACTS / "label.svg", ARTEFACTS / "label-svg.png"
    svg.write_text(r.text)
    shot.unlink(missing_ok=True)
    _chromium("--window-size=400,400", f"--screenshot={shot}", svg.as_uri())
    assert _decoded_url(shot.read_bytes()) == f"{resolver.url}/{ITEM}".upper()


def test_label_files_of_two_identifiers_never_collide() -> None:
    from tierid.commands.records import label_name

    names = {label_name(h) for h in ("88.118.8/泵-1", "88.118.8/阀-1", "88.118.8/_-1")}
    assert len(names) == 3
    assert label_name("88.118.8/PUMP-1") == "88.118.8_PUMP-1"  # plain ones stay readable
    assert len(label_name("88.118.8/" + "X" * 246)) < 120  # a file name the system takes


def test_a_label_url_keeps_dot_segments() -> None:
    """A scanner's browser drops "/../" from a URL: the label encodes it (in capitals, as
    every character then fits QR's alphanumeric mode)."""
    from resolver.labels import label_url

    url = label_url("https://id.example.cn", "88.1/Y/../S")
    assert url == "HTTPS://ID.EXAMPLE.CN/88.1/Y/%2E%2E/S"


def test_a_long_identifier_is_printed_whole_within_the_label() -> None:
    """It was one line of about 1,500 px under a 260 px symbol, cut at both edges."""
    from resolver.labels import label_svg, label_url

    handle = "88.118.8/" + "LONG-SERIAL-" * 12
    svg = label_svg(handle, label_url("https://id.example.cn", handle))
    width = float(re.search(r'<svg[^>]* width="([\d.]+)"', svg).group(1))
    font = float(re.search(r'font-size="([\d.]+)"', svg).group(1))
    lines = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "".join(lines) == handle and len(lines) > 1
    assert all(len(line) * 0.6 * font <= width for line in lines)
