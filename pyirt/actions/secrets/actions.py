"""``secrets.rotate``, ``secrets.promote`` (the rotation's default undo) and ``secrets.revoke``.

A rotation is staged, verified, promoted, and journaled without its value:

1. read the versions (the current one becomes ``previous_version``);
2. make the value (:mod:`.generate`, or the step's ``value: "{{ secret('env:…') }}"``), a
   :class:`Secret` registered with the run's redactor before any backend call;
3. checkpoint ``{request, previous, newest}`` (fsynced) and store the value as a new version;
   ``request`` is a UUID derived from the incident, the step and the secret: AWS's
   ClientRequestToken, a tag in Key Vault, a record in the local store; on GCP, whose versions
   carry no labels, the version added after ``newest``. A retried or resumed step finds the
   version it stored and carries on with it: never two versions for one rotation;
4. verify: read the version back and compare SHA-256 digests in memory; optionally GET
   ``verify_url`` with ``Authorization: Bearer <new>`` (through ``http.check``), before promotion
   where the store stages versions. A failed verification leaves the previous version current
   (restoring it where the store had already switched) and disables the new one;
5. promote: AWSCURRENT moves (the old version becomes AWSPREVIOUS); the GCP alias named by
   ``alias`` moves, or, without one, the new version is ``latest`` already; Key Vault's newest
   version is current already; the local store rewrites its value file.

The output names versions, never values. The default undo is ``secrets.promote`` of the previous
version: AWS moves AWSCURRENT back, a GCP alias moves back, and stores whose current version is
simply the newest (Key Vault, GCP ``latest``) get the previous value again as a new version.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pyirt.actions.api import NOT_DONE, Action, ActionContext, UndoCall
from pyirt.actions.secrets import generate as gen
from pyirt.actions.secrets.base import (
    PROVIDERS,
    Promotion,
    Provider,
    SecretRef,
    current_of,
    digest,
    opened,
    request_id,
)
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.core.durations import parse_duration
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError

BACKEND = "secrets"
SECRET_PARAMS = (
    Param("provider", "string", required=True, choices=tuple(PROVIDERS),
          doc="gcp (Secret Manager), aws (Secrets Manager), azure (Key Vault) or local (a file store)"),
    Param("secret", "string", required=True, doc="the secret's name (AWS: name or ARN)"),
    Param("project", "string", doc="gcp: the project id (default providers.gcp_secrets.project)"),
    Param("alias", "string", doc="gcp: a version alias consumers read; promotion moves it (default: "
                                 "consumers read 'latest')"),
    Param("region", "string", doc="aws: the region (default providers.aws.region)"),
    Param("vault_url", "string", doc="azure: the vault (default providers.azure.vault_url)"),
    Param("store", "string", doc="local: the store folder (default providers.local_secrets.dir)"),
)


def _where(params: Mapping[str, Any]) -> str:
    project = f"{params.get('project')}/" if params.get("project") else ""
    return f"{params.get('provider')} secret {project}{params.get('secret')}"


def _fail(message: str, ref: SecretRef | None = None) -> ActionError:
    backend = f"{BACKEND}.{ref.provider}" if ref else BACKEND
    return ActionError(f"{ref}: {message}" if ref else message, backend=backend, retryable=False)


def _duration(params: Mapping[str, Any], key: str, default: str) -> float:
    try:
        return parse_duration(params.get(key) or default)
    except ValueError as exc:
        raise _fail(f"{key}: {exc}") from None


def _display(store: Provider) -> str:
    ref = store.ref
    if ref.provider == "gcp":
        return f"projects/{ref.project}/secrets/{ref.name}" if ref.project else ref.name
    return ref.name


class Rotate(Action):
    spec = ActionSpec(
        name="secrets.rotate",
        summary="Rotate a secret: generate (or take) a new value, store it as a new version, verify it, promote "
                "it; the value is never shown. The undo promotes the previous version back.",
        params=(*SECRET_PARAMS,
                Param("value", "secret",
                      doc="the new value, from secret(...) (a credential issued elsewhere: "
                          "\"{{ secret('file:' ~ steps.issue.output.path) }}\"); default: generated"),
                Param("length", "int", default=32, doc="random bytes (base64, base64url, hex) or characters"),
                Param("alphabet", "string", default="base64",
                      doc="base64 (the seed's openssl rand -base64 32), base64url, hex, alnum, or the characters"),
                Param("verify", "bool", default=True, doc="read the new version back and compare digests"),
                Param("verify_url", "string", doc="GET it with 'Authorization: Bearer <new value>' before promoting"),
                Param("verify_status", "any", default="2xx", doc="the status verify_url must answer"),
                Param("verify_timeout", "duration", default="10s")),
        idempotent=True,  # a re-run finds the version its first attempt stored (see the module docstring)
        destructive=True,
        backend=BACKEND,
        has_default_undo=True,
        outputs=("provider", "secret", "version", "previous_version", "promotion", "verified", "resumed"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        supplied = params.get("value")
        if supplied is not None and not isinstance(supplied, Secret):
            raise _fail("value must come from secret(...) (env:NAME or file:PATH): a literal value would be "
                        "written in the runbook and the journal")
        length = params.get("length")
        alphabet = str(params.get("alphabet") or "base64")
        length = 32 if length is None else length
        why = gen.check(length, alphabet) if supplied is None else None
        if why:
            raise _fail(why)
        with opened(params, ctx) as store:
            ref = store.ref
            request = request_id(ctx, ref)
            memo = dict(ctx.checkpointed) if ctx.checkpointed.get("request") == request else {}
            found = (str(memo["stored"]) if memo.get("stored") else store.find(request, memo.get("newest"))) \
                if memo else None
            value: Secret | None = None
            if found is None:
                versions = store.list_versions()
                current = current_of(versions)
                previous = current.id if current else None
                if supplied is not None:
                    value = supplied
                    ctx.redact.add(value.reveal())
                else:
                    value = gen.generate(length, alphabet, redact=ctx.redact)
                ctx.checkpoint({"request": request, "previous": previous,
                                "newest": versions[0].id if versions else None})
                new = store.add_version(value, request)
                ctx.checkpoint({"stored": new})
                ctx.log(f"stored version {new} of {ref}")
            else:
                new, previous = found, memo.get("previous")
                if not memo.get("stored"):
                    ctx.checkpoint({"stored": new})
                ctx.log(f"version {new} of {ref} was stored by an earlier attempt; carrying on with it")
            verified = self._verify(store, new, value, previous, params, ctx)
            promotion = store.promote(new, request)
            ctx.log(f"{ref}: version {promotion.version} is current ({promotion.how})")
            return self._output(store, promotion, previous, new, verified, resumed=found is not None)

    def _verify(self, store: Provider, new: str, value: Secret | None, previous: str | None,
                params: Mapping[str, Any], ctx: ActionContext) -> list[str]:
        """Read-back and URL checks. A refusal unstages the new version; a transient failure (the
        store or the endpoint unreachable, a 5xx) is raised as is, so the step's next attempt
        carries on with the same version."""
        checks: list[str] = []
        if params.get("verify", True) is not False or params.get("verify_url"):
            _, stored = store.read(new)
            if value is not None and digest(stored) != digest(value):
                raise self._unstage(store, new, previous, _fail("it reads back different from the value stored"), ctx)
            if not stored.reveal():
                raise self._unstage(store, new, previous, _fail("it reads back empty"), ctx)
            value = stored
            checks.append("read-back")
        if params.get("verify_url") and value is not None:  # read back above: value is the stored one
            try:
                _check_url(str(params["verify_url"]), value, params, ctx)
            except ActionError as exc:
                if exc.retryable:
                    raise
                raise self._unstage(store, new, previous, exc, ctx) from None
            checks.append("url")
        return checks

    def _unstage(self, store: Provider, new: str, previous: str | None, cause: ActionError,
                 ctx: ActionContext) -> ActionError:
        """After a failed verification: the previous version current again, the new one disabled."""
        steps: list[str] = []
        try:
            current = current_of(store.list_versions())
            if previous and current is not None and current.id == new:
                promotion = store.promote(previous)
                steps.append(f"version {previous} is current again"
                             + (f" (copied as version {promotion.version})" if promotion.copied_from else ""))
            store.disable(new)
            steps.append(f"version {new} was disabled")
        except ActionError as exc:
            steps.append(f"cleaning up failed too: {exc}")
        return ActionError(ctx.redact(f"verification failed: {cause}; {'; '.join(steps)}"),
                           backend=cause.backend or BACKEND, retryable=False)

    @staticmethod
    def _output(store: Provider, promotion: Promotion, previous: str | None, stored: str, verified: list[str],
                resumed: bool) -> dict[str, Any]:
        return {"provider": store.ref.provider, "secret": _display(store), "version": promotion.version,
                "stored_version": stored, "previous_version": previous, "promoted": True,
                "promotion": promotion.how, "verified": verified, "resumed": resumed}

    def reconcile(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        memo = ctx.checkpointed
        if not memo.get("request"):
            return NOT_DONE  # the checkpoint precedes the write: without it nothing was stored
        with opened(params, ctx) as store:
            found = str(memo["stored"]) if memo.get("stored") else store.find(str(memo["request"]), memo.get("newest"))
            if found is None:
                return NOT_DONE
            current = current_of(store.list_versions())
            if current is None or current.id != found:
                return None  # stored, not promoted: the re-run verifies and promotes that version
            promotion = Promotion(found, memo.get("previous"), store.promotion, changed=False)
            return self._output(store, promotion, memo.get("previous"), found, ["reconciled"], resumed=True)

    def undo(self, params: Mapping[str, Any], output: Mapping[str, Any]) -> UndoCall | None:
        previous = output.get("previous_version")
        if not previous:
            return None
        return UndoCall("secrets.promote", {**SecretRef.from_params(params).fields(), "version": str(previous)})

    def describe(self, params: Mapping[str, Any]) -> str:
        alphabet = params.get("alphabet") or "base64"
        unit = "bytes" if alphabet in gen.ENCODINGS else "characters"
        source = "the given value" if params.get("value") is not None else \
            f"{params.get('length') or 32} random {unit} ({alphabet})"
        checks = [c for c, on in (("read back", params.get("verify", True) is not False),
                                  (f"GET {params.get('verify_url')} with it", bool(params.get("verify_url")))) if on]
        return (f"{_where(params)}: store {source} as a new version, verify ({', '.join(checks) or 'nothing'}), "
                "promote it; undo promotes the current version back")


def _check_url(url: str, value: Secret, params: Mapping[str, Any], ctx: ActionContext) -> None:
    from pyirt.actions.http import Check

    header = Secret(f"Bearer {value.reveal()}")
    Check().run({"url": url, "method": "GET", "headers": {"Authorization": header},
                 "expect_status": params.get("verify_status") or "2xx",
                 "timeout": params.get("verify_timeout") or "10s"}, ctx)


class Promote(Action):
    spec = ActionSpec(
        name="secrets.promote",
        summary="Make an existing version of a secret the current one (the default undo of secrets.rotate). "
                "Stores whose current version is the newest get that version's value again as a new version.",
        params=(*SECRET_PARAMS, Param("version", "string", required=True, doc="the version to make current")),
        idempotent=True,
        destructive=True,
        backend=BACKEND,
        outputs=("provider", "secret", "version", "previous_version", "copied_from", "changed"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        version = str(params["version"])
        with opened(params, ctx) as store:
            versions = store.list_versions()
            current = current_of(versions)
            if current is not None and current.id == version:
                return self._output(store, Promotion(version, version, store.promotion, changed=False))
            target = next((v for v in versions if v.id == version), None)
            if target is None:
                raise _fail(f"no version {version}", store.ref)
            if target.state == "destroyed":
                raise _fail(f"version {version} is destroyed and cannot become current", store.ref)
            if target.state == "disabled":
                ctx.log(f"{store.ref}: enabling version {version} first")
                store.enable(version)
            if current is not None and not store.staged:
                _, now = store.read(None)
                _, wanted = store.read(version)
                if digest(now) == digest(wanted):  # a re-run after the copy landed
                    return self._output(store, Promotion(current.id, None, store.promotion, version, False))
            ctx.checkpoint({"replaced": current.id if current else None})
            promotion = store.promote(version, request_id(ctx, store.ref, f"promote {version}"))
            return self._output(store, promotion)

    @staticmethod
    def _output(store: Provider, promotion: Promotion) -> dict[str, Any]:
        return {"provider": store.ref.provider, "secret": _display(store), "version": promotion.version,
                "previous_version": promotion.previous, "copied_from": promotion.copied_from,
                "changed": promotion.changed, "promotion": promotion.how}

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"{_where(params)}: make version {params.get('version')} current"


class Revoke(Action):
    spec = ActionSpec(
        name="secrets.revoke",
        summary="Disable (or destroy) the versions of a secret older than the current one, after a grace "
                "period; never the current version.",
        params=(*SECRET_PARAMS,
                Param("versions", "list", doc="only these versions (default: every version older than the current)"),
                Param("mode", "string", default="disable", choices=("disable", "destroy"),
                      doc="disable (GCP disable, AWS staging labels removed, Key Vault disabled, local disabled) or "
                          "destroy (GCP destroy, AWS deprecate, local value erased; Key Vault cannot)"),
                Param("grace", "duration", default="0s",
                      doc="wait until the current version is at least this old before revoking"),
                Param("keep", "int", default=0, doc="leave this many of the newest older versions enabled")),
        idempotent=True,
        destructive=True,
        backend=BACKEND,
        outputs=("provider", "secret", "current_version", "revoked", "kept", "mode"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        mode = str(params.get("mode") or "disable")
        if mode not in ("disable", "destroy"):
            raise _fail(f"mode must be disable or destroy, not {mode!r}")
        grace = _duration(params, "grace", "0s")
        keep = params.get("keep") or 0
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise _fail(f"keep must be a count, not {keep!r}")
        wanted = [str(v) for v in params.get("versions") or [] if v not in (None, "")]
        with opened(params, ctx) as store:
            ref = store.ref
            if mode == "destroy" and ref.provider == "azure":
                raise _fail("Key Vault cannot destroy a single version (only the whole secret): use mode: disable",
                            ref)
            versions = store.list_versions()
            current = current_of(versions)
            if current is None:
                raise _fail("has no current version: refusing to revoke anything", ref)
            if current.id in wanted:
                raise _fail(f"version {current.id} is the current version: refusing to revoke it", ref)
            known = {v.id for v in versions}
            missing = [v for v in wanted if v not in known]
            if missing:
                raise _fail(f"no version {', '.join(missing)}", ref)
            if wanted:
                older = [v for v in versions if v.id in wanted]
            else:
                older = [v for v in versions if not v.current and not v.pending and v.created <= current.created]
            kept, targets = older[:keep] if not wanted else [], older[keep:] if not wanted else older
            live = ("enabled",) if mode == "disable" else ("enabled", "disabled")
            todo = [v.id for v in targets if v.state in live]
            already = [v.id for v in targets if v.state not in live]
            age = time.time() - current.created
            if todo and age < grace:
                wait = grace - age
                ctx.log(f"{ref}: version {current.id} is {age:.0f}s old; waiting {wait:.0f}s of the grace period")
                if not ctx.sleep(wait):
                    raise ActionError(f"{ref}: cancelled during the grace period; nothing was revoked",
                                      backend=f"{BACKEND}.{ref.provider}")
            if todo:
                ctx.checkpoint({"current": current.id, "targets": todo, "mode": mode})
            for version in todo:
                (store.disable if mode == "disable" else store.destroy)(version)
                ctx.log(f"{ref}: version {version} {mode}d")
            return {"provider": ref.provider, "secret": _display(store), "current_version": current.id,
                    "mode": mode, "revoked": todo, "already": already, "kept": [v.id for v in kept]}

    def describe(self, params: Mapping[str, Any]) -> str:
        listed = [str(v) for v in params.get("versions") or [] if v not in (None, "")]
        which = f"version(s) {', '.join(listed)}" if listed else "every version older than the current one"
        keep = f", keeping the newest {params.get('keep')}" if params.get("keep") else ""
        return (f"{_where(params)}: {params.get('mode') or 'disable'} {which}{keep} once the current version is "
                f"{params.get('grace') or '0s'} old; never the current version")
