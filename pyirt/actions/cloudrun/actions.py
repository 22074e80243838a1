"""``cloudrun.status``, ``cloudrun.rollback`` and ``cloudrun.set_traffic``.

A change is read, decided, checkpointed, written and verified: read the service and its revisions;
compute the split (tags kept at 0 %); journal ``{previous, target}`` before the write; PATCH the
traffic with the service's etag (a conflict re-reads and decides again, once); wait for the
long-running operation; re-read until ``traffic_statuses`` serve the split. The default undo is a
``cloudrun.set_traffic`` of the exact previous split. A re-run after a crash whose write landed
keeps the first "before", so the undo still restores what was there before the incident touched it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pyirt.actions.api import NOT_DONE, Action, ActionContext, UndoCall
from pyirt.actions.cloudrun import split as sp
from pyirt.actions.cloudrun.client import BACKEND, CloudRunApi, ConflictError, ServiceRef, Settings
from pyirt.actions.cloudrun.views import revision_view, service_view
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.core.durations import parse_duration
from pyirt.errors import ActionError

SERVICE_PARAMS = (
    Param("project", "string", required=True, doc="Google Cloud project id"),
    Param("region", "string", required=True, doc="the service's region, e.g. us-central1"),
    Param("service", "string", required=True, doc="the Cloud Run service name"),
)
WAIT_PARAM = Param("wait", "duration", default="5m", doc="how long to wait for the update to roll out")
CHANGE_OUTPUTS = ("previous_split", "new_split", "serving", "tags", "changed", "operation", "uri")
Build = Callable[[dict[str, Any], list[dict[str, Any]]], tuple[list[dict[str, Any]], dict[str, Any]]]


def _ref(params: Mapping[str, Any]) -> ServiceRef:
    return ServiceRef(str(params["project"]), str(params["region"]), str(params["service"]))


def _where(params: Mapping[str, Any]) -> str:
    return f"{params.get('project')}/{params.get('region')}/{params.get('service')}"


class CloudRunAction(Action):
    def api(self, params: Mapping[str, Any], ctx: ActionContext) -> CloudRunApi:
        return CloudRunApi(Settings.from_provider(ctx.provider("cloudrun")), _ref(params), ctx)

    def read(self, api: CloudRunApi) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        view = service_view(api.get_service())
        return view, [revision_view(r) for r in api.list_revisions()]

    def change(self, params: Mapping[str, Any], ctx: ActionContext, build: Build) -> dict[str, Any]:
        try:
            wait = parse_duration(params.get("wait") or "5m")
        except ValueError as exc:
            raise ActionError(f"wait: {exc}", backend=BACKEND, retryable=False) from None
        deadline = time.monotonic() + wait
        memo = dict(ctx.checkpointed)
        with self.api(params, ctx) as api:
            for round_ in (1, 2):
                view, revisions = self.read(api)
                latest = view["latest_ready"]
                landed = memo.get("target") is not None and sp.same_effect(view["traffic"], memo["target"], latest)
                if landed:  # an earlier attempt wrote it: keep its "before" and its decision
                    new, extra, previous = list(memo["target"]), dict(memo.get("extra") or {}), memo["previous"]
                else:
                    try:
                        new, extra = build(view, revisions)
                    except sp.SplitError as exc:
                        raise ActionError(f"Cloud Run service {api.ref}: {exc}", backend=BACKEND,
                                          retryable=False) from None
                    previous = view["traffic"]
                operation = None
                if not sp.same_effect(view["traffic"], new, latest):
                    memo.update(previous=previous, target=new, extra=extra)
                    ctx.checkpoint({"previous": previous, "target": new, "extra": extra})
                    try:
                        operation = api.write_traffic(new, view["etag"])
                    except ConflictError as exc:
                        if round_ == 1:
                            ctx.log(f"{exc}; reading it again")
                            continue
                        raise ConflictError(f"{exc}, twice in a row: another change is in progress; "
                                            "check cloudrun.status and re-run", backend=BACKEND) from None
                    ctx.log(f"wrote {sp.fmt(new)}; waiting for the rollout")
                    api.wait_operation(operation, deadline)
                final = self.verified(api, new, deadline)
                return {
                    "service": api.ref.name, **extra, "previous_split": previous, "new_split": new,
                    "serving": sp.allocation(final["statuses"], final["latest_ready"]),
                    "previous_serving": sp.allocation(previous, latest),
                    "tags": sp.tags_of(final["statuses"], final["latest_ready"]),
                    "changed": not sp.same_effect(previous, new, latest), "operation": operation,
                    "uri": final["uri"], "etag": final["etag"],
                }
        raise AssertionError("unreachable")  # pragma: no cover

    def verified(self, api: CloudRunApi, expected: list[dict[str, Any]], deadline: float) -> dict[str, Any]:
        """The service once traffic_statuses serve ``expected``; re-read while it still rolls out."""
        while True:
            view = service_view(api.get_service())
            problem = sp.verify(expected, view)
            if problem is None:
                return view
            if not view["reconciling"] and view["condition"] == "CONDITION_FAILED":
                raise ActionError(f"Cloud Run service {api.ref}: {problem}; the service reports: "
                                  f"{view['condition_message']}", backend=BACKEND, retryable=False)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ActionError(f"Cloud Run service {api.ref}: not verified: {problem}", backend=BACKEND)
            if not api.ctx.sleep(min(api.settings.poll_interval, left)):
                raise ActionError(f"Cloud Run service {api.ref}: cancelled while verifying", backend=BACKEND)

    def reconcile_change(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        target, previous = ctx.checkpointed.get("target"), ctx.checkpointed.get("previous")
        if target is None or previous is None:
            return NOT_DONE  # the checkpoint comes before the write: without it nothing was written
        with self.api(params, ctx) as api:
            view = service_view(api.get_service())
        latest = view["latest_ready"]
        if sp.same_effect(view["traffic"], target, latest) and sp.verify(target, view) is None:
            return {"service": api.ref.name, **(ctx.checkpointed.get("extra") or {}), "previous_split": previous,
                    "new_split": target, "serving": sp.allocation(view["statuses"], latest),
                    "previous_serving": sp.allocation(previous, latest),
                    "tags": sp.tags_of(view["statuses"], latest), "changed": True, "operation": None,
                    "uri": view["uri"], "etag": view["etag"]}
        if sp.same_effect(view["traffic"], previous, latest):
            return NOT_DONE
        return None

    def undo(self, params: Mapping[str, Any], output: Mapping[str, Any]) -> UndoCall | None:
        previous = output.get("previous_split")
        if not previous or not output.get("changed"):
            return None
        return UndoCall("cloudrun.set_traffic", {
            "project": params["project"], "region": params["region"], "service": params["service"],
            "split": previous, "keep_tags": False, "wait": params.get("wait") or "5m"})


class Status(CloudRunAction):
    spec = ActionSpec(
        name="cloudrun.status",
        summary="Read a Cloud Run service: traffic split, tags and URLs, latest ready revision, revisions.",
        params=(*SERVICE_PARAMS,
                Param("revisions", "int", default=20, doc="how many of the newest revisions to list")),
        idempotent=True,
        backend=BACKEND,
        outputs=("uri", "urls", "traffic", "traffic_statuses", "serving", "serving_revision", "tags", "tag_urls",
                 "latest_ready_revision", "latest_created_revision", "ready", "revisions", "etag", "path"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        limit = params.get("revisions")
        limit = 20 if limit is None else int(limit)
        with self.api(params, ctx) as api:
            view = service_view(api.get_service())
            revisions = [revision_view(r) for r in api.list_revisions(limit=max(1, limit))]
        latest = view["latest_ready"]
        output = {
            "service": view["name"], "uri": view["uri"], "urls": view["urls"], "etag": view["etag"],
            "generation": view["generation"], "ready": view["ready"], "reconciling": view["reconciling"],
            "condition": view["condition"], "condition_message": view["condition_message"],
            "latest_ready_revision": latest, "latest_created_revision": view["latest_created"],
            "traffic": view["traffic"], "traffic_statuses": view["statuses"],
            "serving": sp.allocation(view["statuses"], latest), "serving_revision": sp.serving_most(view),
            "tags": sp.tags_of(view["statuses"] or view["traffic"], latest),
            "tag_urls": {e["tag"]: e.get("uri") for e in view["statuses"] if e.get("tag")},
            "revisions": revisions[:limit],
        }
        path = ctx.artifacts / "service.json"
        path.write_text(json.dumps(output, indent=2), encoding="utf-8")
        output["path"] = str(path)
        return output

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"read traffic, tags and revisions of Cloud Run service {_where(params)}"


class Rollback(CloudRunAction):
    spec = ActionSpec(
        name="cloudrun.rollback",
        summary="Send 100% of a Cloud Run service's traffic to a Ready revision (a tag, a name, or the "
                "previous one), keeping every tag; verified; the undo restores the exact previous split.",
        params=(*SERVICE_PARAMS,
                Param("to", "string", default="stable",
                      doc="a tag (default stable), a revision name, or 'previous': the newest Ready revision "
                          "older than the one serving the most traffic"),
                WAIT_PARAM),
        idempotent=False,
        destructive=True,
        backend=BACKEND,
        has_default_undo=True,
        outputs=("target_revision", "target", *CHANGE_OUTPUTS, "previous_serving"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        to = str(params.get("to") or "stable")

        def build(view: dict[str, Any], revisions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            target, how = sp.rollback_target(to, view, revisions)
            return sp.rollback_split(view, target), {"target_revision": target, "target": how}

        return self.change(params, ctx, build)

    def reconcile(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        return self.reconcile_change(params, ctx)

    def describe(self, params: Mapping[str, Any]) -> str:
        to = str(params.get("to") or "stable")
        if to == sp.PREVIOUS:
            whom = "the newest Ready revision older than the one serving the most traffic"
        else:
            whom = f"the revision tagged {to} (or named {to})"
        return (f"Cloud Run service {_where(params)}: write traffic [{whom}: 100%] plus every existing tag kept "
                "at 0%; refused unless that revision is Ready; verified on traffic_statuses; "
                "undo restores the current split")


class SetTraffic(CloudRunAction):
    spec = ActionSpec(
        name="cloudrun.set_traffic",
        summary="Set a Cloud Run service's traffic split by revision or tag (percentages add up to 100), "
                "keeping tags; verified; the undo restores the exact previous split.",
        params=(*SERVICE_PARAMS,
                Param("split", "any", required=True,
                      doc="{revision or tag or LATEST: percent}, or a list of {revision | latest, percent, tag} "
                          "written exactly"),
                Param("keep_tags", "bool", default=True, doc="keep existing tags the split does not name, at 0%"),
                WAIT_PARAM),
        idempotent=True,
        destructive=True,
        backend=BACKEND,
        has_default_undo=True,
        outputs=(*CHANGE_OUTPUTS, "previous_serving"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        wanted = params.get("split")
        keep = params.get("keep_tags", True) is not False

        def build(view: dict[str, Any], revisions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            return sp.parse_split(wanted, view, revisions, keep_tags=keep), {}

        return self.change(params, ctx, build)

    def reconcile(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        return self.reconcile_change(params, ctx)

    def describe(self, params: Mapping[str, Any]) -> str:
        wanted = params.get("split")
        total = _total(wanted)
        check = "" if total in (None, 100) else f" (invalid: adds up to {total}, not 100)"
        tags = "existing tags kept at 0%" if params.get("keep_tags", True) is not False else \
            "exactly this split: tags not listed are removed"
        return (f"Cloud Run service {_where(params)}: write traffic [{sp.describe_split(wanted)}]{check}; {tags}; "
                "verified on traffic_statuses; undo restores the current split")


def _total(split: Any) -> int | None:
    values: Sequence[Any] = list(split.values()) if isinstance(split, Mapping) else \
        [i.get("percent", 0) for i in split if isinstance(i, Mapping)] if isinstance(split, list | tuple) else []
    try:
        return sum(int(str(v).rstrip("%")) for v in values) if values else None
    except ValueError:
        return None  # a template not rendered yet
