"""The secret-store provider contract, the registry that picks one by the ``provider:`` parameter,
and what every adapter shares: bounded retries honouring Retry-After, one error type for "the
request was surely not sent", and a scrubber that keeps secret values out of the SDKs' own logs.

A provider is a small class built for one step and one secret (``SecretRef``)::

    add_version(value, request) -> version id       store a new version (staged where the store can)
    promote(version, request)   -> Promotion         make it what consumers read
    read(version | None)        -> (id, Secret)      None: the current version
    list_versions()             -> [Version]         newest first, values never included
    disable(version), enable(version), destroy(version)
    find(request, after)        -> version id | None a version an earlier attempt stored

``staged`` says whether a new version stays invisible to consumers until ``promote`` (AWS's
AWSPENDING, a GCP version alias, the local store's current file) or is current at once (Key Vault,
GCP's ``latest``). Values travel as :class:`~pyirt.core.secrets.Secret` and are revealed only in
the SDK call that needs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from pyirt.actions.api import ActionContext
from pyirt.actions.backend import CallSettings, retrying
from pyirt.core.journal import sanitize
from pyirt.core.secrets import MASK, Redactor, Secret
from pyirt.errors import ActionError

T = TypeVar("T")
State = Literal["enabled", "disabled", "destroyed"]
REQUEST_NAMESPACE = uuid.UUID("0b9f6f4e-5d1c-4c55-9b8e-6a1f3c2e7d40")

PROVIDERS: dict[str, str] = {
    "gcp": "pyirt.actions.secrets.gcp:GcpSecrets",
    "aws": "pyirt.actions.secrets.aws:AwsSecrets",
    "azure": "pyirt.actions.secrets.azure:AzureSecrets",
    "local": "pyirt.actions.secrets.local:LocalSecrets",
}
"""Provider name -> ``module:class``, imported only when a step uses it (the SDKs are heavy)."""

CONFIG_KEYS = {"gcp": "gcp_secrets", "aws": "aws", "azure": "azure", "local": "local_secrets"}
"""Where each provider's settings live under ``providers:`` in irt.yaml."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Which secret: the provider, its name, and the provider's own coordinates."""

    provider: str
    name: str
    project: str = ""  # gcp
    alias: str = ""  # gcp: a version alias consumers read instead of "latest"
    region: str = ""  # aws
    vault_url: str = ""  # azure
    store: str = ""  # local: the store folder

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SecretRef:
        provider = str(params.get("provider") or "")
        if provider not in PROVIDERS:
            raise ActionError(f"provider must be one of {', '.join(PROVIDERS)}; got {provider!r}",
                              backend="secrets", retryable=False)
        name = str(params.get("secret") or params.get("name") or "")
        if not name:
            raise ActionError("secret: a secret name is required", backend=f"secrets.{provider}", retryable=False)
        return cls(provider, name, **{k: str(params.get(k) or "") for k in
                                      ("project", "alias", "region", "vault_url", "store")})

    def fields(self) -> dict[str, str]:
        """The parameters that name this secret again (for an undo call): empty ones left out."""
        values = {"provider": self.provider, "secret": self.name, "project": self.project, "alias": self.alias,
                  "region": self.region, "vault_url": self.vault_url, "store": self.store}
        return {k: v for k, v in values.items() if v}

    def __str__(self) -> str:
        where = f"{self.project}/" if self.project else ""
        return f"{self.provider} secret {where}{self.name}"


@dataclass(frozen=True, slots=True)
class Version:
    id: str
    created: float  # Unix seconds
    state: State
    current: bool = False
    pending: bool = False  # staged by a rotation that has not promoted it (AWS's AWSPENDING)
    labels: tuple[str, ...] = ()
    request: str = ""  # the rotation request that stored it, where the store keeps one

    def view(self, now: float) -> dict[str, Any]:
        return {"version": self.id, "state": self.state, "current": self.current,
                "age_days": round(max(0.0, now - self.created) / 86400, 2), "labels": list(self.labels)}


@dataclass(frozen=True, slots=True)
class Promotion:
    version: str  # what consumers read now
    previous: str | None  # what they read before
    how: str  # "AWSCURRENT", "alias current", "latest", "current file"
    copied_from: str | None = None  # set when the store could only promote by copying (a new version)
    changed: bool = True


class Provider(Protocol):
    name: ClassVar[str]
    ref: SecretRef

    @property
    def staged(self) -> bool: ...
    @property
    def promotion(self) -> str: ...
    def add_version(self, value: Secret, request: str) -> str: ...
    def promote(self, version: str, request: str = "") -> Promotion: ...
    def read(self, version: str | None = None) -> tuple[str, Secret]: ...
    def list_versions(self) -> list[Version]: ...
    def disable(self, version: str) -> None: ...
    def enable(self, version: str) -> None: ...
    def destroy(self, version: str) -> None: ...
    def find(self, request: str, after: str | None) -> str | None: ...
    def close(self) -> None: ...


def open_provider(params: Mapping[str, Any], ctx: ActionContext) -> Provider:
    """The provider named by ``params['provider']``, built for ``params``' secret."""
    ref = SecretRef.from_params(params)
    module, _, attr = PROVIDERS[ref.provider].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    provider: Provider = cls(ref, ctx.provider(CONFIG_KEYS[ref.provider]), ctx)
    return provider


@contextlib.contextmanager
def opened(params: Mapping[str, Any], ctx: ActionContext) -> Iterator[Provider]:
    provider = open_provider(params, ctx)
    try:
        with scrub_sdk_logs(ctx.redact):
            yield provider
    finally:
        provider.close()


def request_id(ctx: ActionContext, ref: SecretRef, purpose: str = "rotate") -> str:
    """The rotation's idempotency key: the same for every attempt and resume of one step (AWS's
    ClientRequestToken; a tag elsewhere), different for another incident, step, secret or purpose
    (an undo runs under its step's id)."""
    return str(uuid.uuid5(REQUEST_NAMESPACE, f"{ctx.incident_id}/{ctx.step_id}/{ref.provider}/{ref.name}/{purpose}"))


def digest(value: Secret) -> bytes:
    """SHA-256 of a value, compared in memory only: never printed, journaled or returned."""
    return hashlib.sha256(value.reveal().encode("utf-8")).digest()


def current_of(versions: list[Version]) -> Version | None:
    return next((v for v in versions if v.current), None)


# -- settings, retries, errors --------------------------------------------------------------------
class NotSent(ActionError):
    """The request surely never reached the store (connection refused): safe to send again."""


class Backend:
    """What every adapter shares: its settings, the step's context and ``call()``."""

    def __init__(self, ref: SecretRef, settings: CallSettings, ctx: ActionContext, backend: str) -> None:
        self.ref = ref
        self.settings = settings
        self.ctx = ctx
        self.backend = backend

    def map_errors(self, what: str) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def fail(self, message: str, *, retryable: bool = False) -> ActionError:
        return ActionError(self.ctx.redact(f"{self.ref}: {message}"), backend=self.backend, retryable=retryable)

    def call(self, what: str, fn: Callable[..., T], *args: Any, idempotent: bool = True, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` with its errors mapped, retried on transient failures at most
        ``attempts`` times, waiting Retry-After (or a short backoff). A call that is not idempotent
        (adding a version) is retried only when it surely was not sent: a lost answer is left to
        the step, whose next attempt finds what landed through its checkpoint."""
        def once() -> T:
            with self.map_errors(what):
                return fn(*args, **kwargs)

        return retrying(self.settings, self.ctx, once,
                        again=lambda exc: idempotent or isinstance(exc, NotSent),
                        cancelled=lambda: self.fail(f"{what}: cancelled while waiting to retry", retryable=True))

    def close(self) -> None:
        pass

    def list_versions(self) -> list[Version]:
        raise NotImplementedError

    def find(self, request: str, after: str | None) -> str | None:
        """The default for stores that keep a version's request (an id, a tag, a record)."""
        return next((v.id for v in self.list_versions() if v.request == request), None)


# -- SDK logs ------------------------------------------------------------------------------------------
SDK_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "requests", "azure", "msal", "google", "httpx",
               "httpcore")
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


# The fields that carry a value on the wire: AWS's SecretString/SecretBinary, GCP's payload data,
# Key Vault's value. Masked by shape too, since a response is logged before its value is known.
_WIRE_FIELDS = re.compile(
    r"""(?P<key>["']?\b(?:SecretString|SecretBinary|secret_string|data|value)\b["']?\s*[:=]\s*b?)"""
    r"""(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')""")


class _Scrub(logging.Filter):
    """Masks values in a record's message and extra fields: at DEBUG level, botocore logs request
    and response bodies and Google's clients log payloads (in ``extra``). Known values go through the
    run's redactor; values not known yet (a response being read) are masked by their field."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def clean(self, text: str) -> str:
        return _WIRE_FIELDS.sub(lambda m: f'{m.group("key")}"{MASK}"', self.redact(text))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        clean = self.clean(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS and isinstance(value, str | bytes | Mapping | list | tuple):
                setattr(record, key, sanitize(value, self.clean))
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__}: {self.clean(str(record.exc_info[1]))})"
            record.exc_info, record.exc_text = None, None
        return True


@contextlib.contextmanager
def scrub_sdk_logs(redact: Redactor) -> Iterator[None]:
    """While the block runs, every SDK logger (and each child: a logger's filters do not apply to
    its children's records) masks the run's secret values."""
    scrub = _Scrub(redact)
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in SDK_LOGGERS]
    loggers = [logging.getLogger(n) for n in {*names, *SDK_LOGGERS}]
    for logger in loggers:
        logger.addFilter(scrub)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(scrub)
