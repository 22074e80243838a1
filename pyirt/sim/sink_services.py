"""What each notification service accepts and how it answers, as the sinks enforce it: Slack's
webhook token and ``text``/``blocks``; a Teams workflow's ``sig`` and Adaptive Card; PagerDuty's
routing key and Events v2 fields; the generic webhook's ``X-Irt-Signature`` HMAC. Refusals use
the service's own status and body (Slack ``400 invalid_payload``, PagerDuty ``400 invalid event``,
a Teams ``InvalidRequestContent``). Standard library only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyirt.sim.sinks import Channel

SEVERITIES = ("critical", "error", "warning", "info")
PD_ACTIONS = ("trigger", "acknowledge", "resolve")


def check(channel: Channel, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes,
           document: Any) -> list[str]:
    problems: list[str] = []
    if not headers.get("content-type", "").startswith("application/json"):
        problems.append("content-type is not application/json")
    if not isinstance(document, dict):
        return [*problems, "the body is not a JSON object"]
    if channel.kind == "slack":
        if not path.endswith(f"/{channel.token}"):
            problems.append("the webhook token does not match")
        text, blocks = document.get("text"), document.get("blocks")
        if not (isinstance(text, str) and text.strip()) and not blocks:
            problems.append("no_text: a message needs text or blocks")
        if blocks is not None and (not isinstance(blocks, list) or
                                   not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)):
            problems.append("invalid_blocks: blocks must be a list of objects with a type")
    elif channel.kind == "teams":
        if query.get("sig", [""])[0] != channel.token:
            problems.append("the workflow signature (sig) does not match")
        attachments = document.get("attachments")
        if document.get("type") != "message" or not isinstance(attachments, list) or not attachments:
            problems.append("expected {type: message, attachments: [an Adaptive Card]}")
        else:
            for item in attachments:
                content = item.get("content") if isinstance(item, dict) else None
                if item.get("contentType") != "application/vnd.microsoft.card.adaptive" or \
                        not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
                    problems.append("an attachment is not an Adaptive Card")
    elif channel.kind == "pagerduty":
        if document.get("routing_key") != channel.token.ljust(32, "0")[:32]:
            problems.append("invalid routing_key")
        action = document.get("event_action")
        if action not in PD_ACTIONS:
            problems.append(f"event_action must be one of {', '.join(PD_ACTIONS)}")
        if action == "trigger":
            payload = document.get("payload")
            if not isinstance(payload, dict):
                problems.append("payload is required for trigger")
            else:
                for key in ("summary", "source", "severity"):
                    if not isinstance(payload.get(key), str) or not payload.get(key):
                        problems.append(f"payload.{key} is required")
                if payload.get("severity") not in SEVERITIES:
                    problems.append(f"payload.severity must be one of {', '.join(SEVERITIES)}")
                if len(str(payload.get("summary", ""))) > 1024:
                    problems.append("payload.summary is longer than 1024 characters")
        elif not document.get("dedup_key"):
            problems.append(f"dedup_key is required for {action}")
    elif channel.kind == "webhook":
        stamp, given = headers.get("x-irt-timestamp", ""), headers.get("x-irt-signature", "")
        if not stamp.isdigit() or abs(int(stamp) - dt.datetime.now(dt.UTC).timestamp()) > 300:
            problems.append("X-Irt-Timestamp is missing or stale")
        else:
            mac = hmac.new(channel.token.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(given, f"sha256={mac}"):
                problems.append("X-Irt-Signature does not match")
        if not {"incident", "text", "severity"} <= set(document):
            problems.append("the body lacks incident, text or severity")
    return problems


def summary(kind: str, document: Any) -> str:
    if not isinstance(document, dict):
        return ""
    if kind == "teams":
        texts: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
                    texts.append(node["text"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(document.get("attachments"))
        return "\n".join(texts)
    if kind == "pagerduty":
        payload = document.get("payload")
        summary = payload.get("summary") if isinstance(payload, dict) else None
        return str(summary or document.get("event_action") or "")
    return str(document.get("text") or "")


def status_of(kind: str, refused: bool) -> int:
    if refused:
        return 401 if kind == "webhook" else 400
    return 202 if kind in ("teams", "pagerduty") else 200


def answer(kind: str, problems: list[str], document: Any) -> tuple[int, dict[str, str], bytes]:
    status = status_of(kind, bool(problems))
    js = {"Content-Type": "application/json"}
    if kind == "slack":
        return status, text_headers(), b"invalid_payload" if problems else b"ok"
    if kind == "teams":
        return (status, js, json.dumps({"error": {"code": "InvalidRequestContent", "message": "; ".join(problems)}})
                .encode()) if problems else (status, {}, b"")
    if kind == "pagerduty":
        if problems:
            return status, js, json.dumps({"status": "invalid event", "message": "Event object is invalid",
                                           "errors": problems}).encode()
        key = document.get("dedup_key") if isinstance(document, dict) else None
        return status, js, json.dumps({"status": "success", "message": "Event processed",
                                       "dedup_key": key or secrets.token_hex(16)}).encode()
    if problems:
        return status, js, json.dumps({"error": "; ".join(problems)}).encode()
    return status, js, b'{"ok": true}'


def text_headers() -> dict[str, str]:
    return {"Content-Type": "text/plain; charset=utf-8"}
