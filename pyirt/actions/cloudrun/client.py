"""The Cloud Run Admin API v2 through ``google-cloud-run`` (the ``gcp`` extra, imported here only,
when a step runs), and the one place its errors are mapped.

``providers.cloudrun`` in irt.yaml: ``endpoint`` (default Google's; ``http://127.0.0.1:8085`` for
``irt sim cloudrun``), ``credentials`` (``adc``, the default: Application Default Credentials;
``anonymous`` for the simulator; ``file:PATH`` for a service-account key), ``timeout`` (seconds per
call, 30), ``attempts`` (per call, 3), ``poll_interval`` (seconds between operation polls, 2) and
``max_retry_after`` (the longest Retry-After waited inside a step, 30).

The client's own retry (10 s of hidden retries on reads) is switched off on every call
(``retry=None``) and every call has a ``timeout``. Transient failures (429, 5xx, a server that
cannot be reached or does not answer) are retried here a bounded number of times, honouring
``Retry-After``, then raised as a retryable ActionError carrying it, for the step's own ``retry:``.
Long-running operations are polled here too: the SDK's future polls without a timeout per call.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from pyirt.actions.api import ActionContext
from pyirt.actions.backend import CallSettings, clip, first_line, google_credentials, number, retrying
from pyirt.errors import ActionError
from pyirt.extras import require

BACKEND = "cloudrun"
GOOGLE_ENDPOINT = "run.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
T = TypeVar("T")


class ConflictError(ActionError):
    """The service changed between our read and our write (its etag no longer matches)."""


@dataclass(frozen=True, slots=True)
class Settings(CallSettings):
    endpoint: str | None = None
    credentials: str = "adc"
    poll_interval: float = 2.0

    @classmethod
    def from_provider(cls, provider: Mapping[str, Any]) -> Settings:
        return cls(**asdict(CallSettings.from_provider(provider)),
                   endpoint=str(provider["endpoint"]) if provider.get("endpoint") else None,
                   credentials=str(provider.get("credentials") or "adc"),
                   poll_interval=number(provider, "poll_interval", 2.0, 0.01))

    @property
    def where(self) -> str:
        return self.endpoint or GOOGLE_ENDPOINT


@dataclass(frozen=True, slots=True)
class ServiceRef:
    project: str
    region: str
    service: str

    @property
    def name(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/services/{self.service}"

    def __str__(self) -> str:
        return f"{self.project}/{self.region}/{self.service}"


@contextmanager
def map_errors(settings: Settings, ref: ServiceRef, what: str) -> Iterator[None]:
    """Google API, google-auth and ``requests`` exceptions as one-line ActionErrors naming the
    service, what was being done and the cause."""
    gexc = require("google.api_core.exceptions", "gcp")
    auth_exc = require("google.auth.exceptions", "gcp")
    rexc = require("requests.exceptions", "gcp")
    head = f"Cloud Run service {ref}: {what}"
    try:
        yield
    except gexc.GoogleAPICallError as exc:
        raise _api_error(gexc, exc, head) from None
    except gexc.RetryError as exc:
        raise ActionError(f"{head}: gave up retrying: {first_line(exc)}", backend=BACKEND) from None
    except auth_exc.DefaultCredentialsError:
        raise ActionError(f"{head}: no Google credentials (Application Default Credentials): run "
                          "'gcloud auth application-default login' or set providers.cloudrun.credentials",
                          backend=BACKEND, retryable=False) from None
    except auth_exc.RefreshError as exc:
        raise ActionError(f"{head}: Google refused the credentials: {first_line(exc)}", backend=BACKEND,
                          retryable=False) from None
    except auth_exc.TransportError as exc:
        raise ActionError(f"{head}: cannot reach Google's token service: {first_line(exc)}", backend=BACKEND) from None
    except (rexc.Timeout, TimeoutError):
        raise ActionError(f"{head}: {settings.where} did not answer within {settings.timeout:g}s",
                          backend=BACKEND) from None
    except (rexc.ConnectionError, ConnectionError) as exc:
        cause = "connection refused" if "refused" in str(exc).lower() else first_line(exc)
        raise ActionError(f"{head}: cannot reach {settings.where}: {cause}", backend=BACKEND) from None
    except rexc.RequestException as exc:
        raise ActionError(f"{head}: {settings.where}: {first_line(exc)}", backend=BACKEND) from None


def _api_error(gexc: Any, exc: Any, head: str) -> ActionError:
    code = int(getattr(exc, "code", 0) or 0)
    status, message = _google_error(exc)
    where = f"{head}: {message}"
    if isinstance(exc, gexc.NotFound):
        return ActionError(f"{where} (not found)", backend=BACKEND, retryable=False)
    if isinstance(exc, gexc.Forbidden | gexc.Unauthorized):
        return ActionError(f"{where} (permission denied: {status or code})", backend=BACKEND, retryable=False)
    etag_refused = status in ("ABORTED", "FAILED_PRECONDITION") and "etag" in message.lower()
    if isinstance(exc, gexc.Conflict) or etag_refused:
        return ConflictError(f"{where} (conflict: the service changed since it was read)", backend=BACKEND)
    retry_after = _retry_after(exc)
    if isinstance(exc, gexc.TooManyRequests):
        return ActionError(f"{where} (rate limited: {status or code})", backend=BACKEND, retry_after=retry_after)
    if code >= 500 or isinstance(exc, gexc.ServerError):
        return ActionError(f"{where} ({status or 'server error'} {code})", backend=BACKEND, retry_after=retry_after)
    return ActionError(f"{where} ({status or code})", backend=BACKEND, retryable=False)


def _google_error(exc: Any) -> tuple[str, str]:
    """(status name, message) from a Google error body, without the method and URL api_core prepends."""
    response = getattr(exc, "response", None)
    with contextlib.suppress(Exception):
        body = response.json() if response is not None else None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
            return str(err.get("status") or ""), clip(str(err.get("message") or "")) or type(exc).__name__
    text = str(getattr(exc, "message", "") or exc)
    if "://" in text and ": " in text:
        text = text.split(": ", 1)[1]
    return "", clip(text) or type(exc).__name__


def _retry_after(exc: Any) -> float | None:
    from pyirt.actions.http import parse_retry_after

    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return parse_retry_after(headers.get("Retry-After")) if headers is not None else None


class CloudRunApi:
    """One step's connection: the services and revisions clients, bounded retries, polling."""

    def __init__(self, settings: Settings, ref: ServiceRef, ctx: ActionContext) -> None:
        self.settings = settings
        self.ref = ref
        self.ctx = ctx
        self.run_v2 = require("google.cloud.run_v2", "gcp")
        credentials = self._credentials()
        options = {"api_endpoint": settings.endpoint} if settings.endpoint else None
        with map_errors(settings, ref, "connect"):
            self.services = self.run_v2.ServicesClient(credentials=credentials, transport="rest",
                                                       client_options=options)
            self.revisions = self.run_v2.RevisionsClient(credentials=credentials, transport="rest",
                                                         client_options=options)

    def _credentials(self) -> Any:
        return google_credentials(self.settings.credentials, SCOPES, setting="cloudrun",
                                  guard=lambda: map_errors(self.settings, self.ref, "credentials"),
                                  fail=lambda message: ActionError(message, backend=BACKEND, retryable=False),
                                  head=f"Cloud Run service {self.ref}: ")

    def close(self) -> None:
        """Close every HTTP session, the operations client's included (its transport has no close())."""
        for client in (self.services, self.revisions):
            with contextlib.suppress(Exception):
                client.transport.close()
        ops = getattr(self.services.transport, "_operations_client", None)
        session = getattr(getattr(ops, "transport", None), "_session", None)
        if session is not None:
            with contextlib.suppress(Exception):
                session.close()

    def __enter__(self) -> CloudRunApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls --------------------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, retry=None, timeout=…)``, retried on transient failures at most ``attempts``
        times in all, waiting Retry-After (or a short backoff); a conflict is never retried here."""
        def once() -> T:
            with map_errors(self.settings, self.ref, what):
                return fn(*args, retry=None, timeout=self.settings.timeout, **kwargs)

        return retrying(self.settings, self.ctx, once, again=lambda exc: not isinstance(exc, ConflictError),
                        annotate=lambda exc, message: type(exc)(message, backend=BACKEND,
                                                                retry_after=exc.retry_after),
                        cancelled=lambda: ActionError(f"Cloud Run service {self.ref}: {what}: cancelled while "
                                                      "waiting to retry", backend=BACKEND))

    def get_service(self) -> Any:
        return self.call("read service", self.services.get_service, name=self.ref.name)

    def list_revisions(self, limit: int = 1000) -> list[Any]:
        """Revisions, newest first as the API lists them, page by page (each page a bounded call)."""
        found: list[Any] = []
        token = ""
        while len(found) < limit:
            request = self.run_v2.ListRevisionsRequest(parent=self.ref.name, page_size=min(100, limit),
                                                       page_token=token)
            page = self.call("list revisions", self.revisions.list_revisions, request=request)
            found += list(page.revisions)
            token = page.next_page_token
            if not token:
                break
        return found[:limit]

    def write_traffic(self, entries: list[dict[str, Any]], etag: str) -> str:
        """PATCH the service's traffic (updateMask=traffic) with its etag; returns the operation name."""
        run_v2 = self.run_v2
        kinds = run_v2.TrafficTargetAllocationType
        traffic = [run_v2.TrafficTarget(
            type_=kinds.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST if e.get("latest") and not e.get("revision")
            else kinds.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
            revision=e.get("revision") or "", percent=int(e.get("percent") or 0), tag=e.get("tag") or "")
            for e in entries]
        field_mask = require("google.protobuf.field_mask_pb2", "gcp")
        request = run_v2.UpdateServiceRequest(service=run_v2.Service(name=self.ref.name, etag=etag, traffic=traffic),
                                              update_mask=field_mask.FieldMask(paths=["traffic"]))
        future = self.call("update traffic", self.services.update_service, request=request)
        return str(future.operation.name)

    def wait_operation(self, name: str, deadline: float) -> None:
        """Poll the operation until done (raising its error) or ``deadline`` (time.monotonic())."""
        ops = self.services.transport.operations_client
        interval = self.settings.poll_interval
        while True:
            op = self.call("poll operation", ops.get_operation, name)
            if op.done:
                if op.HasField("error") and op.error.code:
                    # DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE may pass next time
                    retryable = op.error.code in (4, 8, 10, 13, 14)
                    raise ActionError(f"Cloud Run service {self.ref}: the update failed: {clip(op.error.message)}",
                                      backend=BACKEND, retryable=retryable)
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise ActionError(f"Cloud Run service {self.ref}: operation {name.rsplit('/', 1)[-1]} not done "
                                  "in time; it may still finish (cloudrun.status shows the traffic)", backend=BACKEND)
            if not self.ctx.sleep(min(interval, left)):
                raise ActionError(f"Cloud Run service {self.ref}: cancelled while waiting for the update",
                                  backend=BACKEND)
            interval = min(interval * 1.5, 10.0)
