"""Azure Key Vault through ``azure-keyvault-secrets`` and ``azure-identity`` (the ``azure`` extra,
imported here only, when a step runs), and the one place their errors are mapped.

``providers.azure`` in irt.yaml: ``vault_url``, ``ca_bundle`` (a PEM file to trust, e.g. the
simulator's certificate), ``credential`` (``default``: ``DefaultAzureCredential``; ``static``: a
fixed bearer token, for the simulator only, from ``token: env:NAME`` or a placeholder),
``verify_challenge_resource`` (default true; false with ``credential: static``, since the
simulator's challenge names Azure's resource, not 127.0.0.1), ``timeout``, ``attempts`` and
``max_retry_after``. azure-core's own retries are off (``retry_total=0``); every call has
connection and read timeouts, and :meth:`Backend.call` retries transient failures.

A secret's current version is its newest: setting a value creates that version and consumers
reading the secret without a version get it at once, so Key Vault promotes on store (and
verification comes right after). Each version the rotation stores is tagged ``irt-request`` so a
resumed run finds it. Promoting an older version (the undo) sets its value again as a new version,
tagged ``irt-restored-from``. Key Vault deletes whole secrets only: revoking disables versions.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pyirt.actions.api import ActionContext
from pyirt.actions.backend import CallSettings, clip, first_line
from pyirt.actions.secrets.base import Backend, NotSent, Promotion, SecretRef, Version
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError
from pyirt.extras import require

REQUEST_TAG = "irt-request"
RESTORED_TAG = "irt-restored-from"
PLACEHOLDER_TOKEN = "irt-simulator-token"  # noqa: S105 (accepted by the simulator only; no real vault takes it)


class StaticTokenCredential:
    """A credential that always hands out the same bearer token: for the Key Vault simulator."""

    def __init__(self, token: str = PLACEHOLDER_TOKEN, lifetime: int = 3600) -> None:
        self._token = token
        self._lifetime = lifetime

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> Any:
        access_token = require("azure.core.credentials", "azure").AccessToken
        return access_token(self._token, int(time.time()) + self._lifetime)

    def close(self) -> None:
        pass


class AzureSecrets(Backend):
    name: ClassVar[str] = "azure"
    staged = False
    promotion = "latest"

    def __init__(self, ref: SecretRef, provider: Mapping[str, Any], ctx: ActionContext) -> None:
        super().__init__(ref, CallSettings.from_provider(provider), ctx, "secrets.azure")
        self.vault_url = ref.vault_url or str(provider.get("vault_url") or "")
        if not self.vault_url:
            raise self.fail("no vault: set the step's vault_url or providers.azure.vault_url")
        secrets_mod = require("azure.keyvault.secrets", "azure")
        kind = str(provider.get("credential") or "default")
        self.credential = self._credential(kind, provider)
        verify_resource = provider.get("verify_challenge_resource")
        ca_bundle = str(provider.get("ca_bundle") or "")
        timeout = self.settings.timeout
        with self.map_errors("connect"):
            self.client = secrets_mod.SecretClient(
                self.vault_url, self.credential,
                verify_challenge_resource=(kind != "static") if verify_resource is None else bool(verify_resource),
                connection_verify=str(Path(ca_bundle).expanduser()) if ca_bundle else True,
                retry_total=0, connection_timeout=timeout, read_timeout=timeout)

    def _credential(self, kind: str, provider: Mapping[str, Any]) -> Any:
        if kind == "static":
            token = str(provider.get("token") or "")
            if token:
                from pyirt.engine.secretref import resolver

                try:
                    token = resolver(self.ctx.redact)(token).reveal()
                except Exception as exc:
                    raise self.fail(f"providers.azure.token: {exc}") from None
            return StaticTokenCredential(token or PLACEHOLDER_TOKEN)
        if kind == "default":
            identity = require("azure.identity", "azure")
            return identity.DefaultAzureCredential()
        raise self.fail(f"providers.azure.credential must be default or static, not {kind!r}")

    def close(self) -> None:
        for thing in (self.client, self.credential):
            with contextlib.suppress(Exception):
                thing.close()

    # -- errors -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def map_errors(self, what: str) -> Iterator[None]:
        aexc = require("azure.core.exceptions", "azure")
        head = f"{self.ref}: {what}"
        try:
            yield
        except aexc.ResourceNotFoundError as exc:
            raise ActionError(self.ctx.redact(f"{head}: {self._message(exc)} (not found)"), backend=self.backend,
                              retryable=False) from None
        except aexc.ClientAuthenticationError as exc:
            raise self.fail(f"{what}: authentication failed: {self._message(exc)}") from None
        except aexc.HttpResponseError as exc:
            raise self._http_error(exc, head) from None
        except aexc.ServiceRequestError as exc:  # the request was not sent (connect, TLS)
            cause = first_line(exc)
            if "CERTIFICATE_VERIFY_FAILED" in cause:
                raise self.fail(f"{what}: {self.vault_url}'s TLS certificate is not trusted (providers.azure."
                                "ca_bundle)") from None
            raise NotSent(self.ctx.redact(f"{head}: cannot reach {self.vault_url}: {cause}"),
                          backend=self.backend) from None
        except aexc.ServiceResponseError as exc:
            raise self.fail(f"{what}: {self.vault_url} did not answer: {first_line(exc)}", retryable=True) from None
        except aexc.AzureError as exc:
            raise self.fail(f"{what}: {first_line(exc)}", retryable=True) from None

    @staticmethod
    def _message(exc: Any) -> str:
        error = getattr(exc, "error", None)
        if error is not None and getattr(error, "message", None):
            return clip(f"{error.message} ({error.code})" if getattr(error, "code", None) else str(error.message))
        return first_line(exc)

    def _http_error(self, exc: Any, head: str) -> ActionError:
        from pyirt.actions.http import parse_retry_after

        status = int(getattr(exc, "status_code", 0) or 0)
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        retry_after = parse_retry_after(headers.get("Retry-After")) if headers is not None else None
        text = self.ctx.redact(f"{head}: {self._message(exc)}")
        retryable = status == 429 or status >= 500 or status == 409
        return ActionError(f"{text} (HTTP {status})", backend=self.backend, retryable=retryable,
                           retry_after=retry_after)

    # -- the protocol ------------------------------------------------------------------------------
    def _current(self, versions: list[Any]) -> str | None:
        try:
            secret = self.call("read the current version", self.client.get_secret, self.ref.name)
        except ActionError as exc:
            if "disabled" not in str(exc).lower() or not versions:
                raise
            # the newest version is disabled: it is still what the vault serves (and refuses)
            return str(max(versions, key=lambda p: p.created_on.timestamp()).version)
        self.ctx.redact.add(secret.value or "")
        return str(secret.properties.version)

    def list_versions(self) -> list[Version]:
        props = self.call("list versions",
                          lambda: list(self.client.list_properties_of_secret_versions(self.ref.name, max_page_size=25)))
        current = self._current(props)
        versions = [Version(id=str(p.version), created=p.created_on.timestamp() if p.created_on else 0.0,
                            state="enabled" if p.enabled else "disabled", current=str(p.version) == current,
                            request=str((p.tags or {}).get(REQUEST_TAG) or ""))
                    for p in props]
        return sorted(versions, key=lambda v: (v.current, v.created), reverse=True)

    def add_version(self, value: Secret, request: str) -> str:
        self.ctx.redact.add(value.reveal())
        secret = self.call("set a new version", self.client.set_secret, self.ref.name, value.reveal(),
                           tags={REQUEST_TAG: request}, idempotent=False)
        return str(secret.properties.version)

    def promote(self, version: str, request: str = "") -> Promotion:
        versions = self.list_versions()
        current = next((v.id for v in versions if v.current), None)
        if current == version:
            return Promotion(version, version, self.promotion, changed=False)
        _, value = self.read(version)
        copy = self.call(f"set version {version}'s value again", self.client.set_secret, self.ref.name,
                         value.reveal(), tags={REQUEST_TAG: request, RESTORED_TAG: version}, idempotent=False)
        return Promotion(str(copy.properties.version), current, self.promotion, copied_from=version)

    def read(self, version: str | None = None) -> tuple[str, Secret]:
        secret = self.call(f"read version {version or 'current'}", self.client.get_secret, self.ref.name,
                           version or None)
        value = secret.value or ""
        self.ctx.redact.add(value)
        return str(secret.properties.version), Secret(value)

    def disable(self, version: str) -> None:
        self.call(f"disable version {version}", self.client.update_secret_properties, self.ref.name, version,
                  enabled=False)

    def enable(self, version: str) -> None:
        self.call(f"enable version {version}", self.client.update_secret_properties, self.ref.name, version,
                  enabled=True)

    def destroy(self, version: str) -> None:
        raise self.fail("Key Vault cannot delete a single version (only the whole secret): disable it instead")
