"""pyhandle 1.5 (EUDAT's Handle REST client), unchanged, against a tierid node over HTTPS
with a self-signed certificate, authenticating with Basic index:handle + HS_SECKEY."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyhandle.handleclient import RESTHandleClient
from pyhandle.handleexceptions import (
    GenericHandleError,
    HandleAlreadyExistsException,
    HandleAuthenticationError,
    HandleNotFoundException,
)

from tests.conftest import PUMPS, PUMPS_ADMIN, NodeProcess


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path_factory.mktemp("tls"), tls=True, insecure_auth=False)
    try:
        n.create_enterprise(PUMPS, b"pump-secret")
        yield n
    finally:
        n.stop()


@pytest.fixture
def client(tls_node: NodeProcess) -> RESTHandleClient:
    return RESTHandleClient.instantiate_with_username_and_password(
        tls_node.url, PUMPS_ADMIN, "pump-secret", HTTPS_verify=tls_node.verify
    )


def test_register_read_modify_delete(client: RESTHandleClient) -> None:
    handle = f"{PUMPS}/PYHANDLE-1"
    created = client.register_handle(handle, "https://pumps.example/1", MODEL="CP-200")
    assert created == handle
    assert client.get_value_from_handle(handle, "URL") == "https://pumps.example/1"
    assert client.get_value_from_handle(handle, "MODEL") == "CP-200"
    record = client.retrieve_handle_record(handle)
    assert record["URL"] == "https://pumps.example/1" and "HS_ADMIN" in record

    client.modify_handle_value(handle, URL="https://pumps.example/2", BATCH="2024-07")
    assert client.get_value_from_handle(handle, "URL") == "https://pumps.example/2"
    assert client.get_value_from_handle(handle, "BATCH") == "2024-07"

    client.delete_handle_value(handle, "BATCH")
    assert client.get_value_from_handle(handle, "BATCH") is None

    with pytest.raises(HandleAlreadyExistsException):
        client.register_handle(handle, "https://pumps.example/again")

    client.delete_handle(handle)
    assert client.retrieve_handle_record(handle) is None
    with pytest.raises(HandleNotFoundException):
        client.delete_handle(handle)


def test_read_only_client_sees_public_values(
    tls_node: NodeProcess, client: RESTHandleClient
) -> None:
    handle = f"{PUMPS}/PYHANDLE-READ"
    client.register_handle(handle, "https://pumps.example/read")
    reader = RESTHandleClient.instantiate_for_read_access(
        tls_node.url, HTTPS_verify=tls_node.verify
    )
    assert reader.get_value_from_handle(handle, "URL") == "https://pumps.example/read"
    assert reader.retrieve_handle_record(f"{PUMPS}/NOT-THERE") is None


def test_wrong_password_is_rejected(tls_node: NodeProcess) -> None:
    bad = RESTHandleClient.instantiate_with_username_and_password(
        tls_node.url, PUMPS_ADMIN, "not-the-secret", HTTPS_verify=tls_node.verify
    )
    with pytest.raises((HandleAuthenticationError, GenericHandleError)):
        bad.register_handle(f"{PUMPS}/PYHANDLE-DENIED", "https://x.example")
    reader = RESTHandleClient.instantiate_for_read_access(
        tls_node.url, HTTPS_verify=tls_node.verify
    )
    assert reader.retrieve_handle_record(f"{PUMPS}/PYHANDLE-DENIED") is None
