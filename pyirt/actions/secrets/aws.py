"""AWS Secrets Manager through ``boto3`` (the ``aws`` extra, imported here only, when a step runs),
and the one place its errors are mapped.

``providers.aws`` in irt.yaml: ``region``, ``endpoint`` (``http://127.0.0.1:5000`` for moto),
``profile`` (a named profile; default: the SDK's own chain, environment variables first),
``timeout``, ``attempts`` and ``max_retry_after``. botocore's own retries are off
(``total_max_attempts: 1``); :meth:`Backend.call` retries transient failures itself.

Versions are staged the way AWS's own rotation does it: the new value goes in under
``AWSPENDING`` with ``ClientRequestToken`` = the rotation's request id (so the version id *is*
the request, and a resumed run finds it instead of creating another), then ``AWSCURRENT`` moves
to it and the version it left becomes ``AWSPREVIOUS``. Reads name ``VersionStage=AWSCURRENT``
explicitly: the unlabelled default is not always the current version (moto, for one, does not
move it). Revoking removes a version's staging labels; a version without labels is deprecated,
and AWS deletes deprecated versions itself (there is no call to delete one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pyirt.actions.api import ActionContext
from pyirt.actions.backend import CallSettings, clip, first_line
from pyirt.actions.secrets.base import Backend, NotSent, Promotion, SecretRef, Version
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError
from pyirt.extras import require

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
NOT_RETRYABLE = {"ResourceNotFoundException", "AccessDeniedException", "UnrecognizedClientException",
                 "InvalidSignatureException", "InvalidRequestException", "InvalidParameterException",
                 "ResourceExistsException", "ValidationException", "DecryptionFailure", "EncryptionFailure",
                 "ExpiredTokenException", "IncompleteSignature"}


class AwsSecrets(Backend):
    name: ClassVar[str] = "aws"
    staged = True
    promotion = CURRENT

    def __init__(self, ref: SecretRef, provider: Mapping[str, Any], ctx: ActionContext) -> None:
        super().__init__(ref, CallSettings.from_provider(provider), ctx, "secrets.aws")
        boto3 = require("boto3", "aws")
        config = require("botocore.config", "aws")
        self.endpoint = str(provider.get("endpoint") or "") or None
        region = ref.region or str(provider.get("region") or "") or None
        profile = str(provider.get("profile") or "") or None
        timeout = self.settings.timeout
        with self.map_errors("connect"):
            session = boto3.session.Session(profile_name=profile, region_name=region)
            self.client = session.client(
                "secretsmanager", endpoint_url=self.endpoint,
                config=config.Config(connect_timeout=timeout, read_timeout=timeout,
                                     retries={"total_max_attempts": 1, "mode": "standard"}))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    # -- errors -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def map_errors(self, what: str) -> Iterator[None]:
        bexc = require("botocore.exceptions", "aws")
        head = f"{self.ref}: {what}"
        where = self.endpoint or "AWS Secrets Manager"
        try:
            yield
        except bexc.ClientError as exc:
            raise self._client_error(exc, head) from None
        except (bexc.NoCredentialsError, bexc.PartialCredentialsError):
            raise self.fail(f"{what}: no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile "
                            "(providers.aws.profile) or an instance role") from None
        except bexc.ProfileNotFound as exc:
            raise self.fail(f"{what}: {first_line(exc)}") from None
        except bexc.NoRegionError:
            raise self.fail(f"{what}: no region: set providers.aws.region, the step's region or AWS_REGION") from None
        except (bexc.EndpointConnectionError, bexc.ConnectTimeoutError) as exc:
            raise NotSent(self.ctx.redact(f"{head}: cannot reach {where}: {first_line(exc)}"),
                          backend=self.backend) from None
        except bexc.ReadTimeoutError:
            raise self.fail(f"{what}: {where} did not answer within {self.settings.timeout:g}s",
                            retryable=True) from None
        except (bexc.ConnectionError, bexc.HTTPClientError) as exc:
            raise self.fail(f"{what}: {where}: {first_line(exc)}", retryable=True) from None
        except bexc.BotoCoreError as exc:
            raise self.fail(f"{what}: {first_line(exc)}") from None

    def _client_error(self, exc: Any, head: str) -> ActionError:
        from pyirt.actions.http import parse_retry_after

        response = getattr(exc, "response", {}) or {}
        error = response.get("Error") or {}
        code = str(error.get("Code") or "")
        message = clip(str(error.get("Message") or "")) or code
        meta = response.get("ResponseMetadata") or {}
        status = int(meta.get("HTTPStatusCode") or 0)
        retry_after = parse_retry_after((meta.get("HTTPHeaders") or {}).get("retry-after"))
        text = self.ctx.redact(f"{head}: {message} ({code or status})")
        if code == "ResourceNotFoundException":
            return ActionError(f"{text} (not found)", backend=self.backend, retryable=False)
        retryable = code not in NOT_RETRYABLE and (status == 429 or status >= 500 or "Throttl" in code)
        return ActionError(text, backend=self.backend, retryable=retryable, retry_after=retry_after)

    # -- the protocol ------------------------------------------------------------------------------
    def list_versions(self) -> list[Version]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"SecretId": self.ref.name, "IncludeDeprecated": True, "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            page = self.call("list versions", self.client.list_secret_version_ids, **kwargs)
            found += page.get("Versions") or []
            token = page.get("NextToken")
            if not token or len(found) >= 10000:
                break
        versions = []
        for v in found:
            stages = tuple(v.get("VersionStages") or ())
            created = v.get("CreatedDate")
            versions.append(Version(id=str(v["VersionId"]), created=created.timestamp() if created else 0.0,
                                    state="enabled" if stages else "disabled", current=CURRENT in stages,
                                    pending=PENDING in stages and CURRENT not in stages, labels=stages,
                                    request=str(v["VersionId"])))
        return sorted(versions, key=lambda v: (v.current, v.created), reverse=True)

    def add_version(self, value: Secret, request: str) -> str:
        self.ctx.redact.add(value.reveal())
        # Idempotent by its token: a retry with the same token and value returns the same version.
        answer = self.call("store a new version (AWSPENDING)", self.client.put_secret_value, SecretId=self.ref.name,
                           ClientRequestToken=request, SecretString=value.reveal(), VersionStages=[PENDING])
        return str(answer["VersionId"])

    def promote(self, version: str, request: str = "") -> Promotion:
        versions = self.list_versions()
        current = next((v.id for v in versions if v.current), None)
        target = next((v for v in versions if v.id == version), None)
        if current == version:
            return Promotion(version, version, self.promotion, changed=False)
        kwargs: dict[str, Any] = {"SecretId": self.ref.name, "VersionStage": CURRENT, "MoveToVersionId": version}
        if current:
            kwargs["RemoveFromVersionId"] = current
        self.call(f"move {CURRENT} to version {version}", self.client.update_secret_version_stage, **kwargs)
        if target is not None and PENDING in target.labels:
            self.call(f"remove {PENDING} from version {version}", self.client.update_secret_version_stage,
                      SecretId=self.ref.name, VersionStage=PENDING, RemoveFromVersionId=version)
        return Promotion(version, current, self.promotion)

    def read(self, version: str | None = None) -> tuple[str, Secret]:
        which: dict[str, Any] = {"VersionId": version} if version else {"VersionStage": CURRENT}
        answer = self.call(f"read version {version or CURRENT}", self.client.get_secret_value,
                           SecretId=self.ref.name, **which)
        value = answer.get("SecretString")
        if value is None:
            binary = answer.get("SecretBinary") or b""
            try:
                value = bytes(binary).decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail(f"version {answer.get('VersionId')} is binary, not text") from None
        self.ctx.redact.add(value)
        return str(answer["VersionId"]), Secret(value)

    def disable(self, version: str) -> None:
        target = next((v for v in self.list_versions() if v.id == version), None)
        if target is None:
            raise self.fail(f"no version {version}")
        if CURRENT in target.labels:
            raise self.fail(f"version {version} is {CURRENT}: refusing to deprecate it")
        for label in target.labels:
            self.call(f"remove {label} from version {version}", self.client.update_secret_version_stage,
                      SecretId=self.ref.name, VersionStage=label, RemoveFromVersionId=version)

    def enable(self, version: str) -> None:
        """Nothing to do: a deprecated version is usable again once a label (AWSCURRENT) moves onto it."""

    def destroy(self, version: str) -> None:
        self.disable(version)  # deprecated: AWS deletes it itself; no API deletes one version
