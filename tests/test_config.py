"""Configuration: every option documented once, unknown or mistyped options rejected."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from tierid import config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "tierid.example.toml"


def test_example_documents_every_option_once_with_its_default() -> None:
    text = EXAMPLE.read_text()
    loaded = config.load(EXAMPLE)
    for name, cls in config._SECTIONS.items():
        for f in fields(cls):
            assert len(re.findall(rf"^{f.name} = ", text, re.M)) == 1, f"{name}.{f.name}"
            assert getattr(getattr(loaded, name), f.name) == getattr(cls(), f.name), f.name


def test_embedded_demo_config_loads() -> None:
    demo = config.embedded("demo")
    assert demo.http.port == 8000 and "88.118.8" in demo.node.prefixes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nodes]\n", "unknown section(s): nodes"),
        ("[http]\nprot = 1\n", "unknown option(s) in [http]: prot"),
        ("[http]\nport = 'x'\n", "http.port must be a non-negative integer"),
        ("[http]\nallow_insecure_auth = 1\n", "must be true or false"),
        ("[node]\nprefixes = '88'\n", "node.prefixes must be a list of strings"),
        ("[http]\ntls_cert = 'a.pem'\n", "must be set together"),
        ("[storage]\nbackend = 'oracle'\n", "not available"),
        ("[node\n", "node.toml"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "node.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    assert message in str(info.value)


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "node.toml"
    path.parent.mkdir()
    path.write_text('[node]\ndata_dir = "d"\n')
    assert config.load(path).storage_path == tmp_path / "sub" / "d" / "tierid.sqlite3"
