"""Demo data for the embedded demo node: a provincial node (88.118) hosting a pump maker
(88.118.8) and a motor maker (88.118.9), with products linked to each other by identifier.

Everything after the bootstrap goes through the authority's authenticated write path,
exactly as a client's writes would.
"""

from __future__ import annotations

from pathlib import Path

from registry.authority import Authority
from registry.bootstrap import ADMIN_INDEX, bootstrap_prefix, http_site, prefix_record_values
from registry.permissions import Authorizer
from registry.storage.sqlite import SQLiteStore
from resolver.handle import prefix_record
from resolver.message import Identity
from resolver.typed_data import AdminPerm, AdminRef
from resolver.values import ADMIN_READ, ADMIN_WRITE, HS_ADMIN, HS_ALIAS, HandleValue
from tierid.config import Config
from tierid.keyfiles import read_or_create_secret

PROVINCE = "88.118"
ENTERPRISES = ("88.118.8", "88.118.9")
SAMPLES = (
    "88.118.8/PUMP-2024-000123",
    "88.118.8/BATCH-2024-07",
    "88.118.9/MOTOR-7781",
    "88.118.8/LATEST-PUMP",
)
_OWNER_PERMS = int(AdminPerm(0x0FFF))


def secret_path(config: Config, prefix: str) -> Path:
    return config.data_dir / "secrets" / f"{prefix}.secret"


def _text(index: int, type_: str, text: str, **kw: int) -> HandleValue:
    return HandleValue(index, type_, text.encode("utf-8"), **kw)


def _admin(prefix: str) -> HandleValue:
    ref = AdminRef(prefix_record(prefix), ADMIN_INDEX, _OWNER_PERMS)
    return HandleValue(100, HS_ADMIN, ref.to_wire())


def _products() -> dict[str, list[HandleValue]]:
    pump_admin, motor_admin = _admin("88.118.8"), _admin("88.118.9")
    private = ADMIN_READ | ADMIN_WRITE
    return {
        "88.118.9/MOTOR-7781": [
            _text(1, "URL", "https://motors.example.cn/m/MOTOR-7781"),
            _text(2, "DESC", "Three-phase induction motor YE3-132, 7.5 kW"),
            _text(2001, "MODEL", "YE3-132S-4"),
            _text(2002, "POWER_KW", "7.5"),
            motor_admin,
        ],
        "88.118.8/BATCH-2024-07": [
            _text(2, "DESC", "Production batch 2024-07, line 3, Hefei plant"),
            _text(2001, "QUANTITY", "480"),
            _text(2002, "PRODUCTION_DATE", "2024-07-15"),
            pump_admin,
        ],
        "88.118.8/PUMP-2024-000123": [
            _text(1, "URL", "https://pumps.example.cn/p/PUMP-2024-000123"),
            _text(2, "DESC", "Centrifugal pump CP-200, 45 m3/h"),
            _text(3, "URL.MANUAL", "https://pumps.example.cn/manuals/CP-200.pdf"),
            _text(2001, "MODEL", "CP-200"),
            _text(2002, "REF.BATCH", "88.118.8/BATCH-2024-07"),
            _text(2003, "REF.MOTOR", "88.118.9/MOTOR-7781"),
            _text(2004, "PRODUCTION_DATE", "2024-07-15"),
            _text(2005, "COST", "1830.00 CNY", permissions=private),
            _text(2006, "SUPPLIER", "Anhui Castings Co.", permissions=private),
            pump_admin,
        ],
        "88.118.8/PUMP-2024-000124": [
            _text(1, "URL", "https://pumps.example.cn/p/PUMP-2024-000124"),
            _text(2, "DESC", "Centrifugal pump CP-200, 45 m3/h"),
            _text(2001, "MODEL", "CP-200"),
            _text(2002, "REF.BATCH", "88.118.8/BATCH-2024-07"),
            pump_admin,
        ],
        "88.118.8/LATEST-PUMP": [
            _text(1, HS_ALIAS, "88.118.8/PUMP-2024-000123"),
            pump_admin,
        ],
    }


async def seed(config: Config) -> bool:
    """Seed an empty demo store. :returns: False if it was seeded before."""
    store = SQLiteStore(config.storage_path)
    await store.open()
    try:
        site = http_site(config.http.host, config.http.port, https=bool(config.http.tls_cert))
        if not await bootstrap_prefix(
            store, PROVINCE, read_or_create_secret(secret_path(config, PROVINCE)), site
        ):
            return False
        authorizer = Authorizer(Identity.from_text(a) for a in config.node.server_admins)
        authority = Authority(store, authorizer, config.limits)
        await authority.home_configured(config.node.prefixes)
        operator = Identity(prefix_record(PROVINCE), ADMIN_INDEX)
        for prefix in ENTERPRISES:
            values = prefix_record_values(
                prefix, read_or_create_secret(secret_path(config, prefix)), [site]
            )
            await authority.create(prefix_record(prefix), values, operator, overwrite=False)
        for handle, values in _products().items():
            owner = Identity(prefix_record(handle.split("/", 1)[0]), ADMIN_INDEX)
            await authority.create(handle, values, owner, overwrite=False)
        return True
    finally:
        await store.close()
