"""Configuration: every option documented once, unknown or mistyped options rejected."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from tierid import config, federation

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "tierid.example.toml"


def test_example_documents_every_option_once_with_its_default() -> None:
    sections = dict(re.findall(r"^\[(\w+)\]\n(.*?)(?=^\[|\Z)", EXAMPLE.read_text(), re.M | re.S))
    loaded = config.load(EXAMPLE)
    assert set(sections) == set(config._SECTIONS)
    for name, cls in config._SECTIONS.items():
        for f in fields(cls):
            documented = re.findall(rf"^{f.name} = ", sections[name], re.M)
            assert len(documented) == 1, f"{name}.{f.name}"
            assert getattr(getattr(loaded, name), f.name) == getattr(cls(), f.name), f.name


def test_demo_federation_generates_valid_node_configs(tmp_path: Path) -> None:
    fed = federation.load_file(None)
    assert fed.node("resolver").port == 8000
    roles = {n.role for n in fed.nodes}
    assert roles == {"authority", "mirror", "resolver"}
    for node in fed.nodes:
        path = tmp_path / f"{node.name}.toml"
        path.write_text(federation.node_config(fed, node))
        loaded = config.load(path)
        assert loaded.http.port == node.port
        assert loaded.resolver.enabled == bool(node.roots)
        assert bool(loaded.mirror.primary) == bool(node.mirror_of)


def test_federation_file_errors(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="unknown node"):
        federation.load('[[nodes]]\nname = "a"\nport = 1\nparent = "b"\n', tmp_path)
    with pytest.raises(config.ConfigError, match="unknown node option"):
        federation.load('[[nodes]]\nname = "a"\nport = 1\nprefx = "88"\n', tmp_path)


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
