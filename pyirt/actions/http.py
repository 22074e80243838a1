"""``http.check``: probe an HTTP(S) endpoint and assert on status, JSON fields and headers.

Transient failures (connection errors, timeouts, 429 and 5xx) are retryable and carry the
server's ``Retry-After``; a failed assertion is not retried unless the step asks for retries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pyirt.actions.api import Action, ActionContext
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.core.durations import parse_duration
from pyirt.core.secrets import Secret, reveal
from pyirt.errors import ActionError

_MISSING = object()
_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def json_path(document: Any, path: str) -> Any:
    """``a.b[0].c`` (a leading ``$.`` is allowed) looked up in ``document``; _MISSING if absent."""
    path = path.strip()
    if path.startswith("$"):
        path = path[1:]
    node = document
    for name, index in _PATH_TOKEN.findall(path):
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                return _MISSING
            node = node[int(index)]
        elif isinstance(node, dict) and name in node:
            node = node[name]
        elif isinstance(node, list) and name.isdigit() and int(name) < len(node):
            node = node[int(name)]
        else:
            return _MISSING
    return node


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at 5 minutes."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), 300.0)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import datetime as dt

    delta = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, min(delta, 300.0))


class Check(Action):
    spec = ActionSpec(
        name="http.check",
        summary="Request a URL and check its status, JSON fields and headers.",
        params=(
            Param("url", "string", required=True),
            Param("method", "string", default="GET",
                  choices=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")),
            Param("headers", "map", doc="request headers; values may be secret(...)"),
            Param("body", "any", doc="a string is sent as is; a map or list as JSON"),
            Param("expect_status", "any", default=200, doc="a status, a list of them, or a class like '2xx'"),
            Param("expect_json", "map", doc="{path: value}; path like status or data.items[0].id"),
            Param("expect_headers", "map", doc="{name: value}; value '*' means present, '~regex' matches"),
            Param("timeout", "duration", default="10s"),
            Param("verify_tls", "bool", default=True),
        ),
        idempotent=True,
        backend="http",
        outputs=("status", "elapsed_ms", "headers", "json"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        import httpx

        url = str(reveal(params["url"]))
        method = str(params.get("method") or "GET").upper()
        timeout = parse_duration(params.get("timeout") or "10s")
        headers = {str(k): str(reveal(v)) for k, v in (params.get("headers") or {}).items()}
        body = params.get("body")
        content: bytes | None = None
        if isinstance(body, dict | list):
            content = json.dumps(body).encode()
            headers.setdefault("content-type", "application/json")
        elif body is not None:
            content = str(reveal(body)).encode()
        shown = ctx.redact(url) if not isinstance(params["url"], Secret) else "***"
        try:
            # Only https needs a TLS context (building one costs ~140 ms).
            verify = bool(params.get("verify_tls", True)) and url.lower().startswith("https:")
            with httpx.Client(timeout=timeout, verify=verify,
                              follow_redirects=False, trust_env=False) as client:
                response = client.request(method, url, headers=headers, content=content)
        except httpx.TimeoutException:
            raise ActionError(f"{method} {shown}: no answer within {timeout:g}s", backend="http") from None
        except httpx.HTTPError as exc:
            reason = ctx.redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise ActionError(f"{method} {shown}: {reason}", backend="http") from None
        return self._assess(method, shown, response, params, ctx)

    def _assess(self, method: str, shown: str, response: Any, params: dict[str, Any],
                ctx: ActionContext) -> dict[str, Any]:
        failures: list[str] = []
        status = response.status_code
        if not _status_ok(status, params.get("expect_status", 200)):
            failures.append(f"status {status}, expected {params.get('expect_status', 200)}")
        document: Any = _MISSING
        expect_json = params.get("expect_json") or {}
        if expect_json:
            try:
                document = response.json()
            except ValueError:
                failures.append("body is not JSON")
            else:
                for path, expected in expect_json.items():
                    actual = json_path(document, str(path))
                    if actual is _MISSING:
                        failures.append(f"JSON {path}: missing")
                    elif actual != expected:
                        failures.append(f"JSON {path}: {actual!r}, expected {expected!r}")
        for name, expected in (params.get("expect_headers") or {}).items():
            actual = response.headers.get(str(name))
            if actual is None:
                failures.append(f"header {name}: missing")
            elif expected == "*":
                continue
            elif isinstance(expected, str) and expected.startswith("~"):
                if not re.search(expected[1:], actual):
                    failures.append(f"header {name}: {actual!r} does not match {expected[1:]!r}")
            elif actual != str(expected):
                failures.append(f"header {name}: {actual!r}, expected {expected!r}")
        output = {
            "status": status,
            "elapsed_ms": round(response.elapsed.total_seconds() * 1000, 1),
            "headers": {k.lower(): ctx.redact(v) for k, v in response.headers.items()},
        }
        if document is not _MISSING:
            output["json"] = document
        if failures:
            transient = status == 429 or status >= 500
            raise ActionError(
                ctx.redact(f"{method} {shown}: " + "; ".join(failures)), backend="http",
                retryable=transient, retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        return output

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"{params.get('method') or 'GET'} {params.get('url')} expecting {params.get('expect_status', 200)}"


def _status_ok(status: int, expected: Any) -> bool:
    if expected is None:
        return 200 <= status < 400
    options = expected if isinstance(expected, list | tuple) else [expected]
    for option in options:
        text = str(option).strip().lower()
        if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
            if status // 100 == int(text[0]):
                return True
        elif text.isdigit() and int(text) == status:
            return True
    return False


ACTIONS = [Check]
