"""The demo's sample products: pumps, motors, valves, sensors, bearings and a compressor,
registered by each enterprise on the node that hosts its prefix, and linked to each other
by identifier across enterprises and provinces."""

from __future__ import annotations

import json
from typing import Any

from registry.bootstrap import ADMIN_INDEX
from resolver.handle import parse, prefix_record
from resolver.typed_data import ALL_ADMIN_PERMS, AdminRef, admin_perms_to_json
from tierid.federation import Federation, client_for, put_new

SAMPLES = (
    "88.118.8/PUMP-2024-000123",
    "88.118.8/LATEST-PUMP",
    "88.118.9/MOTOR-7781",
    "88.120.1/VALVE-DN50-0042",
    "88.130.5/COMPRESSOR-XK-3",
)

_PRIVATE = "1100"
#: GTINs of the pump model (company prefix 6901234) and the motor (6909876)
PUMP_GTIN = "06901234000016"
MOTOR_GTIN = "06909876000029"


def _v(index: int, type_: str, text: str, permissions: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"index": index, "type": type_, "data": text}
    if permissions:
        value["permissions"] = permissions
    return value


def _link(
    index: int,
    link_type: str,
    href: str,
    title: str,
    language: str,
    *,
    media_type: str = "text/html",
    default: bool = False,
) -> dict[str, Any]:
    link = {
        "linkType": link_type,
        "href": href,
        "title": title,
        "type": media_type,
        "hreflang": [language],
        "default": default,
    }
    return _v(index, "GS1.LINK", json.dumps(link, ensure_ascii=False))


def _admin(prefix: str) -> dict[str, Any]:
    ref = AdminRef(prefix_record(prefix), ADMIN_INDEX, ALL_ADMIN_PERMS)
    return {
        "index": 100,
        "type": "HS_ADMIN",
        "data": {
            "format": "admin",
            "value": {
                "handle": ref.handle,
                "index": ref.index,
                "permissions": admin_perms_to_json(ref.permissions),
            },
        },
    }


PRODUCTS: dict[str, list[dict[str, Any]]] = {
    "88.118.8/PUMP-2024-000123": [
        _v(1, "URL", "https://pumps.example.cn/p/PUMP-2024-000123"),
        _v(2, "DESC", "Centrifugal pump CP-200, 45 m3/h"),
        _v(3, "URL.MANUAL", "https://pumps.example.cn/manuals/CP-200.pdf"),
        _v(2001, "MODEL", "CP-200"),
        _v(2002, "REF.BATCH", "88.118.8/BATCH-2024-07"),
        _v(2003, "REF.MOTOR", "88.118.9/MOTOR-7781"),
        _v(2004, "REF.VALVE", "88.120.1/VALVE-DN50-0042"),
        _v(2005, "PRODUCTION_DATE", "2024-07-15"),
        _v(2006, "COST", "1830.00 CNY", _PRIVATE),
        _v(2007, "SUPPLIER", "Anhui Castings Co.", _PRIVATE),
    ],
    "88.118.8/PUMP-2024-000124": [
        _v(1, "URL", "https://pumps.example.cn/p/PUMP-2024-000124"),
        _v(2, "DESC", "Centrifugal pump CP-200, 45 m3/h"),
        _v(2001, "MODEL", "CP-200"),
        _v(2002, "REF.BATCH", "88.118.8/BATCH-2024-07"),
    ],
    "88.118.8/BATCH-2024-07": [
        _v(2, "DESC", "Production batch 2024-07, line 3, Hefei plant"),
        _v(2001, "QUANTITY", "480"),
        _v(2002, "PRODUCTION_DATE", "2024-07-15"),
    ],
    "88.118.8/LATEST-PUMP": [_v(1, "HS_ALIAS", "88.118.8/PUMP-2024-000123")],
    # GS1 keys: the company prefix index (hosted by the national node) and the bindings
    # each enterprise keeps under its own prefix (README, "GS1 keys")
    "88.gs1/6901234": [_v(1, "GS1.PREFIX", "88.118.8")],
    "88.gs1/6909876": [_v(1, "GS1.PREFIX", "88.118.9")],
    f"88.118.8/01/{PUMP_GTIN}": [
        _v(1, "URL", "https://pumps.example.cn/models/CP-200"),
        _v(2, "DESC", "Centrifugal pump CP-200 (product model)"),
        _v(3, "GS1.RULE", "88.118.8/PUMP-2024-{21}"),
        # what the GS1 Digital Link face serves for the model (README, "Digital Link")
        _link(
            4,
            "gs1:pip",
            "https://pumps.example.cn/models/CP-200",
            "Product page",
            "en",
            default=True,
        ),
        _link(
            5,
            "gs1:pip",
            "https://pumps.example.cn/zh/models/CP-200",
            "产品页面",
            "zh",
            default=True,
        ),
        _link(
            6,
            "gs1:instructions",
            "https://pumps.example.cn/manuals/CP-200.pdf",
            "Manual",
            "en",
            media_type="application/pdf",
        ),
        _link(
            7, "gs1:traceability", "https://trace.example.cn/lots/{01}/{10}", "Lot history", "zh"
        ),
    ],
    f"88.118.9/01/{MOTOR_GTIN}": [_v(1, "HS_ALIAS", "88.118.9/MOTOR-7781")],
    "88.118.9/MOTOR-7781": [
        _v(1, "URL", "https://motors.example.cn/m/MOTOR-7781"),
        _v(2, "DESC", "Three-phase induction motor YE3-132, 7.5 kW"),
        _v(2001, "MODEL", "YE3-132S-4"),
        _v(2002, "REF.BEARING", "88.120.3/BEARING-6205-77"),
    ],
    "88.120.1/VALVE-DN50-0042": [
        _v(1, "URL", "https://valves.example.cn/v/DN50-0042"),
        _v(2, "DESC", "Gate valve DN50, PN16"),
        _v(2001, "REF.SENSOR", "88.120.2/SENSOR-PT100-9001"),
    ],
    "88.120.2/SENSOR-PT100-9001": [
        _v(1, "URL", "https://sensors.example.cn/s/PT100-9001"),
        _v(2, "DESC", "PT100 temperature sensor, -50..250 C"),
    ],
    "88.120.3/BEARING-6205-77": [
        _v(1, "URL", "https://bearings.example.cn/b/6205-77"),
        _v(2, "DESC", "Deep groove ball bearing 6205-2RS"),
    ],
    "88.130.5/COMPRESSOR-XK-3": [
        _v(1, "URL", "https://compressors.example.cn/c/XK-3"),
        _v(2, "DESC", "Screw compressor XK-3, 22 kW"),
        _v(2001, "REF.MOTOR", "88.118.9/MOTOR-7781"),
    ],
}


async def seed(fed: Federation) -> int:
    """Register the sample products that are not there yet. :returns: how many were new."""
    created = 0
    for handle, values in PRODUCTS.items():
        prefix, _ = parse(handle)
        async with client_for(fed, fed.host_of(prefix), prefix) as c:
            created += await put_new(c, handle, [*values, _admin(prefix)])
    return created
