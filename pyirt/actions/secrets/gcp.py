"""GCP Secret Manager through ``google-cloud-secret-manager`` (the ``gcp`` extra, imported here
only, when a step runs) over REST, and the one place its errors are mapped.

``providers.gcp_secrets`` in irt.yaml: ``endpoint`` (default Google's; ``http://127.0.0.1:8086``
for ``irt sim secrets``), ``credentials`` (``adc``, the default; ``anonymous`` for the simulator;
``file:PATH`` for a service-account key), ``project`` (the default project), ``timeout``,
``attempts`` and ``max_retry_after``. Every call passes ``retry=None`` and a ``timeout``; transient
failures are retried by :meth:`Backend.call`.

What "current" means: with ``alias`` (say ``current``), the version the secret's version alias
names: a rotation adds a version, verifies it and then moves the alias, so consumers reading
``versions/current`` switch only after verification. Without an alias, consumers read
``versions/latest``, the most recently created version: adding a version promotes it, and the
previous version stays enabled for the grace period. Promoting an older version there (the undo)
adds its value again as a new version, since ``latest`` cannot point backwards.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pyirt.actions.api import ActionContext
from pyirt.actions.backend import CallSettings, clip, first_line, google_credentials
from pyirt.actions.secrets.base import Backend, NotSent, Promotion, SecretRef, State, Version
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError
from pyirt.extras import require

GOOGLE_ENDPOINT = "secretmanager.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
STATES: dict[int, State] = {1: "enabled", 2: "disabled", 3: "destroyed"}


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as Secret Manager checks payloads with."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


class GcpSecrets(Backend):
    name: ClassVar[str] = "gcp"

    def __init__(self, ref: SecretRef, provider: Mapping[str, Any], ctx: ActionContext) -> None:
        project = ref.project or str(provider.get("project") or "")
        if not project:
            raise ActionError(f"{ref}: project is required (the step's project or providers.gcp_secrets.project)",
                              backend="secrets.gcp", retryable=False)
        ref = dataclasses.replace(ref, project=project)
        super().__init__(ref, CallSettings.from_provider(provider), ctx, "secrets.gcp")
        self.endpoint = str(provider.get("endpoint") or "") or None
        self.credentials_kind = str(provider.get("credentials") or "adc")
        self.path = f"projects/{project}/secrets/{ref.name}"
        sm = require("google.cloud.secretmanager_v1", "gcp")
        options = {"api_endpoint": self.endpoint} if self.endpoint else None
        credentials = self._credentials()
        with self.map_errors("connect"):
            self.client = sm.SecretManagerServiceClient(credentials=credentials, transport="rest",
                                                        client_options=options)

    @property
    def staged(self) -> bool:
        return bool(self.ref.alias)

    @property
    def promotion(self) -> str:
        return f"alias {self.ref.alias}" if self.ref.alias else "latest"

    def _credentials(self) -> Any:
        return google_credentials(self.credentials_kind, SCOPES, setting="gcp_secrets",
                                  guard=lambda: self.map_errors("credentials"), fail=self.fail)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.transport.close()

    # -- errors -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def map_errors(self, what: str) -> Iterator[None]:
        gexc = require("google.api_core.exceptions", "gcp")
        auth_exc = require("google.auth.exceptions", "gcp")
        rexc = require("requests.exceptions", "gcp")
        head = f"{self.ref}: {what}"
        where = self.endpoint or GOOGLE_ENDPOINT
        try:
            yield
        except gexc.GoogleAPICallError as exc:
            raise self._api_error(gexc, exc, head) from None
        except auth_exc.DefaultCredentialsError:
            raise self.fail(f"{what}: no Google credentials (Application Default Credentials): run 'gcloud auth "
                            "application-default login' or set providers.gcp_secrets.credentials") from None
        except auth_exc.RefreshError as exc:
            raise self.fail(f"{what}: Google refused the credentials: {first_line(exc)}") from None
        except auth_exc.TransportError as exc:
            raise self.fail(f"{what}: cannot reach Google's token service: {first_line(exc)}", retryable=True) from None
        except (rexc.Timeout, TimeoutError):
            raise self.fail(f"{what}: {where} did not answer within {self.settings.timeout:g}s",
                            retryable=True) from None
        except (rexc.ConnectionError, ConnectionError) as exc:
            if "refused" in str(exc).lower():
                raise NotSent(f"{head}: cannot reach {where}: connection refused", backend=self.backend) from None
            raise self.fail(f"{what}: cannot reach {where}: {first_line(exc)}", retryable=True) from None
        except rexc.RequestException as exc:
            raise self.fail(f"{what}: {where}: {first_line(exc)}", retryable=True) from None

    def _api_error(self, gexc: Any, exc: Any, head: str) -> ActionError:
        from pyirt.actions.http import parse_retry_after

        code = int(getattr(exc, "code", 0) or 0)
        status, message = "", clip(str(getattr(exc, "message", "") or "")) or type(exc).__name__
        with contextlib.suppress(Exception):
            body = exc.response.json()
            status, message = str(body["error"].get("status") or ""), clip(str(body["error"].get("message") or ""))
        text = self.ctx.redact(f"{head}: {message}")
        headers = getattr(getattr(exc, "response", None), "headers", None)
        retry_after = parse_retry_after(headers.get("Retry-After")) if headers is not None else None
        if isinstance(exc, gexc.NotFound):
            return ActionError(f"{text} (not found)", backend=self.backend, retryable=False)
        if isinstance(exc, gexc.Forbidden | gexc.Unauthorized):
            return ActionError(f"{text} (permission denied: {status or code})", backend=self.backend, retryable=False)
        if status == "ABORTED" or "etag" in message.lower():  # read again and decide: not a blind retry
            return ActionError(f"{text} (conflict: it changed since it was read)", backend=self.backend,
                               retryable=False)
        if isinstance(exc, gexc.TooManyRequests) or code >= 500:
            return ActionError(f"{text} ({status or code})", backend=self.backend, retry_after=retry_after)
        return ActionError(f"{text} ({status or code})", backend=self.backend, retryable=False)

    # -- calls ---------------------------------------------------------------------------------------
    def _kw(self) -> dict[str, Any]:
        return {"retry": None, "timeout": self.settings.timeout}

    def _secret(self) -> Any:
        return self.call("read the secret", self.client.get_secret, request={"name": self.path}, **self._kw())

    def _known(self, value: str) -> None:
        self.ctx.redact.add(value)
        self.ctx.redact.add(base64.b64encode(value.encode("utf-8")).decode("ascii"))  # as it travels

    def add_version(self, value: Secret, request: str) -> str:
        plain = value.reveal()
        self._known(plain)
        data = plain.encode("utf-8")
        created = self.call("add a version", self.client.add_secret_version, idempotent=False,
                            request={"parent": self.path, "payload": {"data": data, "data_crc32c": crc32c(data)}},
                            **self._kw())
        return str(created.name).rsplit("/", 1)[-1]

    def promote(self, version: str, request: str = "") -> Promotion:
        if self.ref.alias:
            for round_ in (1, 2):
                secret = self._secret()
                aliases = {str(k): int(v) for k, v in dict(secret.version_aliases).items()}
                before = aliases.get(self.ref.alias)
                if before == int(version):
                    return Promotion(version, version, self.promotion, changed=False)
                aliases[self.ref.alias] = int(version)
                try:
                    self.call(f"move alias {self.ref.alias} to version {version}", self.client.update_secret,
                              request={"secret": {"name": self.path, "version_aliases": aliases, "etag": secret.etag},
                                       "update_mask": {"paths": ["version_aliases"]}}, **self._kw())
                except ActionError as exc:
                    if round_ == 1 and "etag" in str(exc).lower():
                        continue  # another writer changed the secret since it was read: read it again
                    raise
                return Promotion(version, str(before) if before else None, self.promotion)
        latest = self._latest()
        if latest == version:
            return Promotion(version, version, self.promotion, changed=False)
        _, value = self.read(version)
        copy = self.add_version(value, request)
        return Promotion(copy, latest, self.promotion, copied_from=version)

    def _latest(self) -> str | None:
        versions = self.list_versions()
        return versions[0].id if versions else None

    def read(self, version: str | None = None) -> tuple[str, Secret]:
        wanted = version or self.ref.alias or "latest"
        response = self.call(f"access version {wanted}", self.client.access_secret_version,
                             request={"name": f"{self.path}/versions/{wanted}"}, **self._kw())
        data = bytes(response.payload.data)
        if response.payload.data_crc32c and int(response.payload.data_crc32c) != crc32c(data):
            raise self.fail(f"version {wanted}: the payload's checksum does not match (corrupted in transit)",
                            retryable=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"version {wanted} is not UTF-8 text") from None
        self._known(text)
        return str(response.name).rsplit("/", 1)[-1], Secret(text)

    def list_versions(self) -> list[Version]:
        found: list[Any] = []
        token = ""
        while True:
            page = self.call("list versions", self.client.list_secret_versions,
                             request={"parent": self.path, "page_size": 100, "page_token": token}, **self._kw())
            found += list(page.versions)
            token = page.next_page_token
            if not token or len(found) >= 10000:
                break
        aliases: dict[str, list[str]] = {}
        current: str | None = None
        if self.ref.alias:
            for alias, number in dict(self._secret().version_aliases).items():
                aliases.setdefault(str(number), []).append(str(alias))
                current = str(number) if alias == self.ref.alias else current
        versions = sorted(found, key=lambda v: int(str(v.name).rsplit("/", 1)[-1]), reverse=True)
        if not self.ref.alias and versions:
            current = str(versions[0].name).rsplit("/", 1)[-1]  # "latest": the newest, whatever its state
        result: list[Version] = []
        for v in versions:
            vid = str(v.name).rsplit("/", 1)[-1]
            result.append(Version(id=vid, created=v.create_time.timestamp(), state=STATES.get(int(v.state), "disabled"),
                                  current=vid == current, labels=tuple(aliases.get(vid, ()))))
        return result

    def disable(self, version: str) -> None:
        self.call(f"disable version {version}", self.client.disable_secret_version,
                  request={"name": f"{self.path}/versions/{version}"}, **self._kw())

    def enable(self, version: str) -> None:
        self.call(f"enable version {version}", self.client.enable_secret_version,
                  request={"name": f"{self.path}/versions/{version}"}, **self._kw())

    def destroy(self, version: str) -> None:
        self.call(f"destroy version {version}", self.client.destroy_secret_version,
                  request={"name": f"{self.path}/versions/{version}"}, **self._kw())

    def find(self, request: str, after: str | None) -> str | None:
        """Versions carry no labels: the version added after ``after`` (the newest when the rotation
        checkpointed) is the rotation's; two of them mean another writer, and a person decides."""
        newer = [v for v in self.list_versions() if int(v.id) > int(after or 0)]
        if len(newer) > 1:
            raise self.fail(f"{len(newer)} versions ({', '.join(v.id for v in newer)}) were added since this "
                            f"rotation began after version {after}: check which is its own by hand")
        return newer[0].id if newer else None
