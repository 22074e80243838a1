"""``http.check`` against a real HTTP server on 127.0.0.1: status, JSON and header assertions, the
failures it reports, and which of them are worth a retry."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyirt.actions.api import ActionContext
from pyirt.actions.http import _MISSING, Check, json_path, parse_retry_after
from pyirt.core.secrets import MASK, Redactor, Secret
from pyirt.errors import ActionError
from tests.helpers import CANARY, Reply, Request, Server, closed_port, http_server

HEALTH = {"status": "ok", "data": {"items": [{"id": 7, "tags": ["a"]}], "count": 1}, "ready": True}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with http_server() as srv:
        srv.route("/health", Reply(200, {"X-Frame-Options": "DENY", "Strict-Transport-Security": "max-age=63072000",
                                         "X-Version": "1.4.2"}, HEALTH))
        srv.route("/text", Reply(200, {"Content-Type": "text/plain"}, "hello"))
        srv.route("/moved", Reply(302, {"Location": "/health"}))
        srv.route("/busy", Reply(429, {"Retry-After": "7"}, "slow down"))
        srv.route("/broken", Reply(500, {}, "internal error"))
        srv.route("/unavailable", Reply(503, {}, ""))
        srv.route("/hang", Reply(hang=True))
        srv.route("/echo", lambda r: Reply(200, {"X-Echo": r.headers.get("authorization", "")},
                                           {"method": r.method, "body": r.body.decode()}))
        yield srv


@pytest.fixture
def ctx(tmp_path: Path) -> ActionContext:
    return ActionContext(incident_id="i-1", step_id="probe", incident_dir=tmp_path, redact=Redactor())


def check(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    return Check().run(params, ctx)


def failure(params: dict[str, Any], ctx: ActionContext) -> ActionError:
    with pytest.raises(ActionError) as caught:
        Check().run(params, ctx)
    assert caught.value.backend == "http"
    assert "\n" not in str(caught.value)
    return caught.value


# -- success ---------------------------------------------------------------------------------------
def test_status_json_and_headers_that_match(server: Server, ctx: ActionContext) -> None:
    out = check({"url": server.url("/health"), "expect_status": 200,
                 "expect_json": {"status": "ok", "$.data.items[0].id": 7, "data.items[0].tags[0]": "a",
                                 "data.count": 1, "ready": True},
                 "expect_headers": {"X-Frame-Options": "DENY", "strict-transport-security": "*",
                                    "X-Version": r"~^1\.4\.\d+$"}}, ctx)
    assert out["status"] == 200
    assert out["json"] == HEALTH
    assert out["headers"]["x-frame-options"] == "DENY"
    assert out["elapsed_ms"] >= 0
    assert server.requests[-1].method == "GET"
    assert server.requests[-1].path == "/health"


@pytest.mark.parametrize("expected", [200, "200", [404, 200], "2xx", ["5xx", "2XX"], None])
def test_expected_status_forms(server: Server, ctx: ActionContext, expected: Any) -> None:
    assert check({"url": server.url("/text"), "expect_status": expected}, ctx)["status"] == 200


def test_redirects_are_not_followed(server: Server, ctx: ActionContext) -> None:
    before = len(server.requests)
    assert check({"url": server.url("/moved"), "expect_status": "3xx"}, ctx)["status"] == 302
    assert [r.path for r in server.requests[before:]] == ["/moved"]


def test_json_body_method_and_headers_are_sent(server: Server, ctx: ActionContext) -> None:
    out = check({"url": server.url("/echo"), "method": "post", "body": {"a": [1, 2]},
                 "headers": {"Authorization": "Bearer abc", "X-Trace": 5}}, ctx)
    request: Request = server.requests[-1]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer abc"
    assert request.headers["x-trace"] == "5"
    assert out["headers"]["x-echo"] == "Bearer abc"
    check({"url": server.url("/echo"), "method": "PUT", "body": "raw text"}, ctx)
    assert server.requests[-1].body == b"raw text"


def test_head_request(server: Server, ctx: ActionContext) -> None:
    assert check({"url": server.url("/health"), "method": "HEAD"}, ctx)["status"] == 200
    assert server.requests[-1].method == "HEAD"


# -- assertion failures ------------------------------------------------------------------------------
def test_every_failed_assertion_is_listed_in_one_line(server: Server, ctx: ActionContext) -> None:
    error = failure({"url": server.url("/health"), "expect_status": "3xx",
                     "expect_json": {"status": "down", "data.items[3].id": 1, "data.count": "1"},
                     "expect_headers": {"Content-Security-Policy": "*", "X-Frame-Options": "~^SAMEORIGIN$",
                                        "X-Version": "2.0"}}, ctx)
    message = str(error)
    assert message.startswith(f"GET {server.url('/health')}: ")
    for part in ("status 200, expected 3xx", "JSON status: 'ok', expected 'down'", "JSON data.items[3].id: missing",
                 "JSON data.count: 1, expected '1'", "header Content-Security-Policy: missing",
                 "header X-Frame-Options: 'DENY' does not match '^SAMEORIGIN$'",
                 "header X-Version: '1.4.2', expected '2.0'"):
        assert part in message
    assert error.retryable is False  # a 200 that says the wrong thing will not change by asking again


def test_a_body_that_is_not_json(server: Server, ctx: ActionContext) -> None:
    assert "body is not JSON" in str(failure({"url": server.url("/text"), "expect_json": {"a": 1}}, ctx))


def test_404_is_not_retryable(server: Server, ctx: ActionContext) -> None:
    error = failure({"url": server.url("/nowhere")}, ctx)
    assert "status 404, expected 200" in str(error)
    assert error.retryable is False
    assert error.retry_after is None


@pytest.mark.parametrize("path", ["/broken", "/unavailable"])
def test_5xx_is_retryable(server: Server, ctx: ActionContext, path: str) -> None:
    error = failure({"url": server.url(path)}, ctx)
    assert error.retryable is True
    assert error.retry_after is None


def test_429_is_retryable_and_carries_retry_after(server: Server, ctx: ActionContext) -> None:
    error = failure({"url": server.url("/busy")}, ctx)
    assert "status 429, expected 200" in str(error)
    assert error.retryable is True
    assert error.retry_after == 7.0


def test_retry_after_as_an_http_date(server: Server, ctx: ActionContext) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.route("/later", Reply(503, {"Retry-After": when}))
    error = failure({"url": server.url("/later")}, ctx)
    assert error.retry_after is not None and 20 <= error.retry_after <= 31


# -- transport failures -------------------------------------------------------------------------------
def test_connection_refused_is_a_retryable_one_line_error(ctx: ActionContext) -> None:
    url = f"http://127.0.0.1:{closed_port()}/health"
    error = failure({"url": url, "timeout": "2s"}, ctx)
    assert str(error).startswith(f"GET {url}: ")
    assert error.retryable is True


def test_a_hanging_endpoint_times_out(server: Server, ctx: ActionContext) -> None:
    started = time.monotonic()
    error = failure({"url": server.url("/hang"), "timeout": "300ms"}, ctx)
    assert time.monotonic() - started < 3
    assert str(error) == f"GET {server.url('/hang')}: no answer within 0.3s"
    assert error.retryable is True


# -- secrets -----------------------------------------------------------------------------------------
def test_a_secret_header_reaches_the_server_and_nothing_else(server: Server, ctx: ActionContext) -> None:
    ctx.redact.add(CANARY)
    secret = Secret(f"Bearer {CANARY}", ref="template")
    out = check({"url": server.url("/echo"), "headers": {"Authorization": secret}}, ctx)
    assert server.requests[-1].headers["authorization"] == f"Bearer {CANARY}"
    assert out["headers"]["x-echo"] == f"Bearer {MASK}"
    error = failure({"url": server.url("/echo"), "headers": {"Authorization": secret},
                     "expect_headers": {"X-Echo": "nothing"}}, ctx)
    assert CANARY not in str(error)
    assert f"'Bearer {MASK}'" in str(error)


def test_a_secret_url_is_never_shown(ctx: ActionContext) -> None:
    url = Secret(f"http://127.0.0.1:{closed_port()}/hook?token={CANARY}")
    error = failure({"url": url, "timeout": "2s"}, ctx)
    assert CANARY not in str(error)
    assert str(error).startswith(f"GET {MASK}: ")


# -- helpers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "value"), [
    ("status", "ok"), ("$.status", "ok"), ("data.items[0].id", 7), ("data.items.0.id", 7),
    ("data.items[0].tags[0]", "a"), ("ready", True),
])
def test_json_path_finds(path: str, value: Any) -> None:
    assert json_path(HEALTH, path) == value


@pytest.mark.parametrize("path", ["nope", "data.items[1]", "status.deeper", "data.items[0].tags[3]", "data.items.x"])
def test_json_path_missing(path: str) -> None:
    assert json_path(HEALTH, path) is _MISSING


def test_json_path_missing_is_distinct_from_null() -> None:
    assert json_path({"a": None}, "a") is None
    assert json_path({"a": None}, "b") is _MISSING
    assert json_path([1, 2], "[5]") is _MISSING


@pytest.mark.parametrize(("header", "seconds"), [(None, None), ("", None), ("12", 12.0), ("99999", 300.0),
                                                 ("soon", None), ("-1", None)])
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


@pytest.mark.parametrize("value", [CANARY, "pa\\ss-" + CANARY, "it's-" + CANARY, 'say "' + CANARY + '"',
                                   "both'\"\\-" + CANARY])
def test_a_secret_echoed_back_in_a_failure_is_masked_even_when_quoted(
    server: Server, ctx: ActionContext, value: str
) -> None:
    """Failure messages quote what the server said (``repr``): the quoted form must be masked too."""
    ctx.redact.add(value)
    server.route("/echo-json", lambda r: Reply(200, {}, {"token": r.headers.get("x-token", "")}))
    error = failure({"url": server.url("/echo-json"), "headers": {"X-Token": Secret(value)},
                     "expect_json": {"token": "something else"}}, ctx)
    assert server.requests[-1].headers["x-token"] == value
    assert CANARY not in str(error)
    assert "expected 'something else'" in str(error)
