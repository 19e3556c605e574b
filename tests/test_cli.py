"""The ``tierid`` command against a real node, as a user would type it."""

from __future__ import annotations

import json

import click
import pytest
import requests

from tests.conftest import OPERATOR, NodeProcess, tierid_cli

COMMANDS = [
    [],
    ["serve"],
    ["demo"],
    ["init"],
    ["keygen"],
    ["keygen", "secret"],
    ["keygen", "tls"],
    ["resolve"],
    ["register"],
    ["delete"],
    ["prefix"],
    ["prefix", "create"],
    ["prefix", "list"],
    ["status"],
    ["cache"],
    ["cache", "list"],
    ["cache", "flush"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "tierid")
def test_every_command_has_help(args: list[str]) -> None:
    out = tierid_cli(*args, "--help")
    assert out.returncode == 0 and "Usage: " in out.stdout
    assert len(out.stdout.splitlines()) > 3


def test_enterprise_workflow(node: NodeProcess, tmp_path) -> None:
    op_secret = tmp_path / "op.secret"
    op_secret.write_bytes(node.secrets[OPERATOR])
    ent_secret = tmp_path / "ent.secret"
    auth = ["--node", node.url, "--auth", OPERATOR, "--secret-file", str(op_secret)]
    out = tierid_cli(
        "prefix",
        "create",
        "88.118.42",
        *auth,
        "--admin-secret-file",
        str(ent_secret),
        "--site",
        f"127.0.0.1:{node.port}",
        "--home",
    )
    assert "created 0.NA/88.118.42" in out.stdout and ent_secret.exists()
    site = requests.get(node.api("0.NA/88.118.42"), params={"type": "HS_SITE"}).json()
    assert site["values"][0]["data"]["value"]["servers"][0]["interfaces"][0]["port"] == node.port

    ent = ["--node", node.url, "--auth", "300:0.NA/88.118.42", "--secret-file", str(ent_secret)]
    out = tierid_cli(
        "register",
        "88.118.42/VALVE-1",
        *ent,
        "--url",
        "https://v.example/1",
        "--value",
        "MODEL=DN50",
        "--value",
        "2001:BATCH=B-7",
    )
    assert out.stdout.strip() == "created 88.118.42/VALVE-1"
    out = tierid_cli("resolve", "88.118.42/valve-1", "--node", node.url, "--json")
    answer = json.loads(out.stdout)
    assert answer["handle"] == "88.118.42/valve-1"
    assert {(v["index"], v["type"]) for v in answer["values"]} == {
        (1, "URL"),
        (2, "MODEL"),
        (2001, "BATCH"),
        (100, "HS_ADMIN"),
    }
    out = tierid_cli("resolve", "88.118.42/VALVE-1", "--node", node.url)
    assert "DN50" in out.stdout and "https://v.example/1" in out.stdout

    out = tierid_cli("delete", "88.118.42/VALVE-1", *ent, "--index", "2")
    assert "deleted values 2" in out.stdout
    tierid_cli("delete", "88.118.42/VALVE-1", *ent)
    out = tierid_cli("resolve", "88.118.42/VALVE-1", "--node", node.url, check=False)
    assert out.returncode == 1 and "not found" in out.stderr.lower() and "100" in out.stderr

    out = tierid_cli("prefix", "list", "--node", node.url)
    assert "88.118.42" in out.stdout.split()


def test_errors_are_one_clear_line(node: NodeProcess, tmp_path) -> None:
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("nope")
    out = tierid_cli(
        "register",
        "88.118.8/X",
        "--node",
        node.url,
        "--auth",
        "300:0.NA/88.118.8",
        "--secret-file",
        str(wrong),
        "--url",
        "https://x",
        check=False,
    )
    assert out.returncode == 1 and "Error:" in out.stderr and "403" in out.stderr
    assert "Traceback" not in out.stderr
    out = tierid_cli("resolve", "no-slash", "--node", node.url, check=False)
    assert out.returncode == 1 and "102" in out.stderr
    out = tierid_cli("resolve", "88.1/x", "--node", "http://127.0.0.1:9", check=False)
    assert out.returncode == 1 and "cannot reach" in out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[node]\nnmae = 'typo'\n")
    out = tierid_cli("serve", "--config", str(bad), check=False)
    assert out.returncode == 1 and "unknown option(s) in [node]: nmae" in out.stderr


def test_keygen_secret_prints_the_value_to_register(tmp_path) -> None:
    out = tierid_cli("keygen", "secret", "--out", str(tmp_path / "k"))
    value = json.loads(out.stdout.strip().splitlines()[-1])
    assert value["type"] == "HS_SECKEY" and value["permissions"] == "1100"
    assert value["data"]["value"] == (tmp_path / "k").read_text()


@pytest.mark.parametrize(
    "command",
    [
        ["keygen", "secret", "--out", "{d}/k"],
        ["keygen", "pubkey", "--out", "{d}/k"],
        ["keygen", "tls", "--key", "{d}/k", "--cert", "{d}/c.pem"],
    ],
)
def test_keys_are_never_readable_by_others_nor_overwritten(tmp_path, command: list[str]) -> None:
    """Key files are created with mode 600 (they were written 644, then changed), and a
    second run refuses to replace one; a missing folder is a clear error, not a traceback."""
    args = [a.format(d=tmp_path) for a in command]
    tierid_cli(*args)
    key = tmp_path / "k"
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_bytes()
    again = tierid_cli(*args, check=False)
    assert again.returncode == 2 and "exists" in again.stderr and key.read_bytes() == before
    missing = tierid_cli(
        *[a.replace(str(tmp_path), str(tmp_path / "no" / "dir")) for a in args], check=False
    )
    assert missing.returncode == 1 and "cannot write" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_bad_options_and_files_are_one_line_errors(node: NodeProcess, tmp_path) -> None:
    """Each of these was a Python traceback (or, for the port, a node on the wrong port)."""
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"[node]\nname = '\xe9'\n")
    far_port = tmp_path / "far.toml"
    far_port.write_text("[http]\nport = 70000\n")
    taken = tmp_path / "taken.toml"
    taken.write_text(f"[node]\ndata_dir = 'd'\n[http]\nport = {node.port}\n")
    cases = [
        (["resolve", "88.1/x", "--node", "hdl://nohostport"], 2, "hdl"),
        (
            [
                "resolve",
                "88.1/x",
                "--node",
                node.url,
                "--auth",
                "300:0.NA/88.118.8",
                "--key-file",
                str(not_a_key),
            ],
            2,
            "key",
        ),
        (["serve", "--config", str(latin1)], 1, "not UTF-8"),
        (["serve", "--config", str(far_port)], 1, "http.port"),
        (["serve", "--config", str(taken)], 1, "cannot serve"),
    ]
    for args, code, said in cases:
        out = tierid_cli(*args, check=False, timeout=60)
        assert (out.returncode, "Traceback" in out.stderr) == (code, False), (args, out.stderr)
        assert said in out.stderr, (args, out.stderr)


def test_init_keeps_no_secret_that_is_nobodys(tmp_path) -> None:
    """On a prefix that exists, a new --secret-file was filled with a random secret the
    record never held, and the command said all was well."""
    config = tmp_path / "node.toml"
    config.write_text("[node]\ndata_dir = 'data'\n")
    tierid_cli(
        "init", "--config", str(config), "--prefix", "88.7", "--secret-file", str(tmp_path / "a")
    )
    out = tierid_cli(
        "init",
        "--config",
        str(config),
        "--prefix",
        "88.7",
        "--secret-file",
        str(tmp_path / "b"),
        check=False,
    )
    assert out.returncode == 1 and "already exists" in out.stderr
    assert not (tmp_path / "b").exists()


def test_a_prefix_created_but_not_homed_says_how_to_home_it(node: NodeProcess, tmp_path) -> None:
    secret = tmp_path / "pumps.secret"
    secret.write_bytes(b"pump-secret")
    login = ("--node", node.url, "--auth", "300:0.NA/88.118.8", "--secret-file", str(secret))
    out = tierid_cli("prefix", "create", "88.118.8.1", *login, "--home", check=False)
    assert out.returncode == 1 and "could not home it" in out.stderr, out.stderr
    assert "tierid prefix home 88.118.8.1" in out.stderr
    operator = tmp_path / "operator.secret"
    operator.write_bytes(b"operator-secret")
    admin = ("--node", node.url, "--auth", node.operator, "--secret-file", str(operator))
    assert "88.118.8.1 homed" in tierid_cli("prefix", "home", "88.118.8.1", *admin).stdout


def test_value_options_take_given_indexes_first_and_refuse_odd_ones(tmp_path) -> None:
    from tierid.commands.records import _value_options

    # "A" used to take index 2 and then collide with the 2 given after it
    assert [(v["index"], v["type"]) for v in _value_options(("A=1", "2:B=2"), None)] == [
        (3, "A"),
        (2, "B"),
    ]
    for bad in ("-5:X=1", ":X=1", "3:=1", "no-equals"):  # "-5:X" was taken for a type name
        with pytest.raises(click.BadParameter):
            _value_options((bad,), None)
    values = tmp_path / "values.json"
    values.write_text('[{"index": 1, "type": "URL", "data": "https://x"}]')
    out = tierid_cli(
        "register", "88.1/X", "--values-file", str(values), "--url", "https://y", check=False
    )
    assert out.returncode == 2 and "leave out --url and --value" in out.stderr
