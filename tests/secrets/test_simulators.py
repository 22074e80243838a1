"""The secret-store simulators, driven by the official clients as a user's own code would: the GCP
Secret Manager client over REST, and Key Vault's SecretClient over HTTPS behind the bearer challenge."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from tests.secrets.conftest import TOKEN

NAME = f"projects/demo/secrets/{TOKEN}"


@pytest.fixture
def sm(gcp_sim: Any) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager_v1

    client = secretmanager_v1.SecretManagerServiceClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": gcp_sim.url})
    yield client
    client.transport.close()


def test_gcp_versions_add_access_list_and_change_state(sm: Any) -> None:
    from google.api_core import exceptions

    added = sm.add_secret_version(request={"parent": NAME, "payload": {"data": b"new-value-0003"}}, timeout=5)
    assert added.name == f"{NAME}/versions/3" and added.state.name == "ENABLED" and added.etag
    latest = sm.access_secret_version(name=f"{NAME}/versions/latest", timeout=5)
    assert (latest.name, latest.payload.data) == (f"{NAME}/versions/3", b"new-value-0003")
    assert latest.payload.data_crc32c  # the simulator sends the checksum a client can verify
    listed = sm.list_secret_versions(request={"parent": NAME}, timeout=5)
    assert [v.name.rsplit("/", 1)[-1] for v in listed] == ["3", "2", "1"]  # newest first
    with pytest.raises(exceptions.Conflict):  # a stale etag
        sm.disable_secret_version(request={"name": f"{NAME}/versions/1", "etag": '"stale"'}, timeout=5)
    disabled = sm.disable_secret_version(request={"name": f"{NAME}/versions/1", "etag": listed.versions[2].etag},
                                         timeout=5)
    assert disabled.state.name == "DISABLED" and disabled.etag != listed.versions[2].etag
    with pytest.raises(exceptions.BadRequest, match="is in DISABLED state"):
        sm.access_secret_version(name=f"{NAME}/versions/1", timeout=5)
    enabled = sm.list_secret_versions(request={"parent": NAME, "filter": "state:ENABLED"}, timeout=5)
    assert [v.name[-1] for v in enabled] == ["3", "2"]
    sm.enable_secret_version(request={"name": f"{NAME}/versions/1"}, timeout=5)
    destroyed = sm.destroy_secret_version(request={"name": f"{NAME}/versions/1"}, timeout=5)
    assert destroyed.state.name == "DESTROYED" and destroyed.destroy_time
    with pytest.raises(exceptions.BadRequest, match="DESTROYED"):
        sm.enable_secret_version(request={"name": f"{NAME}/versions/1"}, timeout=5)
    page = sm.list_secret_versions(request={"parent": NAME, "page_size": 2, "filter": "NOT state:DESTROYED"},
                                   timeout=5)
    assert [v.name[-1] for v in page] == ["3", "2"]
    with pytest.raises(exceptions.BadRequest, match="unsupported filter"):
        sm.list_secret_versions(request={"parent": NAME, "filter": "create_time>2020"}, timeout=5)


def test_gcp_aliases_checksums_and_errors(sm: Any, gcp_sim: Any) -> None:
    from google.api_core import exceptions

    secret = sm.get_secret(name=NAME, timeout=5)
    sm.update_secret(request={"secret": {"name": NAME, "version_aliases": {"current": 1}, "etag": secret.etag},
                              "update_mask": {"paths": ["version_aliases"]}}, timeout=5)
    assert sm.access_secret_version(name=f"{NAME}/versions/current", timeout=5).name.endswith("/versions/1")
    with pytest.raises(exceptions.Conflict):  # the etag changed with the update
        sm.update_secret(request={"secret": {"name": NAME, "version_aliases": {}, "etag": secret.etag},
                                  "update_mask": {"paths": ["version_aliases"]}}, timeout=5)
    with pytest.raises(exceptions.BadRequest, match="Checksum mismatch"):
        sm.add_secret_version(request={"parent": NAME, "payload": {"data": b"x", "data_crc32c": 1}}, timeout=5)
    with pytest.raises(exceptions.NotFound):
        sm.access_secret_version(name="projects/demo/secrets/nope/versions/latest", timeout=5)
    gcp_sim.inject("AccessSecretVersion", status=503, retry_after="2s")
    with pytest.raises(exceptions.ServiceUnavailable) as caught:
        sm.access_secret_version(name=f"{NAME}/versions/1", timeout=5, retry=None)
    assert caught.value.response.headers["Retry-After"] == "2"
    assert sm.access_secret_version(name=f"{NAME}/versions/1", timeout=5).payload.data  # once only


def test_key_vault_answers_the_bearer_challenge_over_tls(kv_sim: Any) -> None:
    trust = ssl.create_default_context(cafile=str(kv_sim.ca_path))
    bare = httpx.get(f"{kv_sim.url}/secrets/{TOKEN}/?api-version=7.6", verify=trust, timeout=5)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"] == ('Bearer authorization="https://login.microsoftonline.com/'
                                                '00000000-0000-4000-8000-00000000a2e1", '
                                                'resource="https://vault.azure.net"')
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # the certificate is self-signed
        httpx.get(f"{kv_sim.url}/secrets", timeout=5)


def test_key_vault_secret_client_sets_lists_disables_and_pages(kv_sim: Any) -> None:
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
    from azure.keyvault.secrets import SecretClient

    from pyirt.actions.secrets.azure import StaticTokenCredential

    client = SecretClient(kv_sim.url, StaticTokenCredential("a-test-token"), verify_challenge_resource=False,
                          connection_verify=str(kv_sim.ca_path), retry_total=0)
    created = client.set_secret(TOKEN, "third-value", tags={"owner": "sre"})
    assert client.get_secret(TOKEN).value == "third-value" and created.properties.tags == {"owner": "sre"}
    versions = list(client.list_properties_of_secret_versions(TOKEN, max_page_size=1))  # three pages
    assert len(versions) == 3 and created.properties.version in {v.version for v in versions}
    client.update_secret_properties(TOKEN, created.properties.version, enabled=False)
    with pytest.raises(HttpResponseError, match="disabled secret") as caught:
        client.get_secret(TOKEN)
    assert caught.value.status_code == 403
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("no-such-secret")
    assert kv_sim.challenges >= 1 and set(kv_sim.tokens) == {"a-test-token"}
    client.close()
    untrusting = SecretClient(kv_sim.url, StaticTokenCredential(), verify_challenge_resource=False, retry_total=0)
    with pytest.raises(ServiceRequestError):
        untrusting.get_secret(TOKEN)
    untrusting.close()


def test_worlds_are_checked_with_their_path() -> None:
    from pyirt.sim.cloudrun_state import WorldError
    from pyirt.sim.keyvault import KeyVaultWorld
    from pyirt.sim.secretmanager import SecretManagerWorld

    with pytest.raises(WorldError, match=r"secrets\[0\].project: required"):
        SecretManagerWorld.from_dict({"secrets": [{"provider": "gcp", "name": "x"}]})
    with pytest.raises(WorldError, match=r"secrets\[0\].versions\[0\]: unknown key\(s\) colour"):
        KeyVaultWorld.from_dict({"secrets": [{"provider": "azure", "name": "x", "versions": [{"colour": 1}]}]})
    with pytest.raises(WorldError, match=r"faults\[0\]: unknown operation 'Explode'"):
        SecretManagerWorld.from_dict({"secrets": [{"provider": "gcp", "project": "p", "name": "x",
                                                   "faults": [{"op": "Explode", "status": 500}]}]})
