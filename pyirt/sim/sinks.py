"""Notification sinks: local receivers for Slack, Teams, PagerDuty, generic webhooks and email that
answer as the services do and record what arrived, for drills, demos and tests.

    sinks = NotificationSinks.from_world({"channels": ["oncall", {name: email-sre, type: email}]})
    sinks.start()                                    # one HTTP server, one SMTP server per email channel
    channels = sinks.channel_config(folder)          # irt.yaml's channels: (credentials as file: refs)
    sinks.inject("oncall", status=503, times=None)   # Slack is down
    ...
    sinks.deliveries("email-sre")                    # what arrived, when, accepted or refused
    sinks.stop()

Each HTTP channel has its own path, with a credential in it where the real service puts one (a
Slack webhook's last segment, a Teams workflow's ``sig``); PagerDuty checks its routing key and the
generic webhook its ``X-Irt-Signature`` HMAC. A payload that the service would refuse is refused
here too (Slack ``400 invalid_payload``, PagerDuty ``400 invalid event``...), and recorded as such.

World ``channels:`` entries are names (the type guessed from the name: ``email``/``mail``/``smtp``,
``pager``/``pagerduty``, ``teams``, ``hook``/``webhook``, else Slack) or maps ``{name, type,
fallback, down, faults, attempts, timeout, backoff}``. Standard library only.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pyirt.core.durations import parse_duration
from pyirt.sim import sink_services as services
from pyirt.sim.cloudrun_state import WorldError
from pyirt.sim.faults import common_fields
from pyirt.sim.httpserver import JsonServer, Lifecycle, Reply, Request
from pyirt.sim.smtp_sink import Mail, SmtpSink

KINDS = ("slack", "teams", "pagerduty", "webhook", "email")
CHANNEL_KEYS = {"name", "type", "fallback", "down", "faults", "attempts", "timeout", "backoff", "to"}
FAULT_KEYS = {"status", "times", "latency", "hang", "message", "retry_after"}
DELIVERY_DEFAULTS = {"attempts": 3, "timeout": "5s", "backoff": "250ms"}
SENDER = "irt-drill@example.com"
Handler = Callable[[str, str, Mapping[str, str], bytes], tuple[int, dict[str, str], bytes]]


def guess_kind(name: str) -> str:
    lowered = name.lower()
    for words, kind in ((("email", "mail", "smtp"), "email"), (("pagerduty", "pager", "pd-"), "pagerduty"),
                        (("teams",), "teams"), (("webhook", "hook"), "webhook")):
        if any(w in lowered for w in words):
            return kind
    return "slack"


@dataclass
class Fault:
    status: int | None = None
    times: int | None = 1
    latency: float = 0.0
    hang: float | None = None
    message: str = ""
    retry_after: float | None = None


@dataclass
class Channel:
    name: str
    kind: str
    fallback: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_hex(12))
    smtp: SmtpSink | None = None

    @property
    def recipients(self) -> list[str]:
        to = self.settings.get("to")
        return [str(t) for t in to] if isinstance(to, list) else [f"{self.name}@example.com"]


@dataclass(frozen=True)
class Delivery:
    """One request that reached a sink: which channel, when, whether it was accepted, and what it said."""

    channel: str
    kind: str
    at: float
    accepted: bool
    status: int
    text: str = ""
    payload: Any = None
    problems: tuple[str, ...] = ()

    def view(self, t0: float | None = None) -> dict[str, Any]:
        return {"channel": self.channel, "kind": self.kind, "at": round(self.at - t0, 3) if t0 else self.at,
                "accepted": self.accepted, "status": self.status, "text": self.text[:500],
                "problems": list(self.problems)}


class NotificationSinks(Lifecycle):
    """The receivers for a set of channels. Thread-safe; ``deliveries()`` may be read at any time."""

    def __init__(self, channels: Iterable[Channel] = (), *, host: str = "127.0.0.1") -> None:
        self.channels: dict[str, Channel] = {c.name: c for c in channels}
        self.host = host
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._routes: dict[str, Handler] = {}
        self.server = JsonServer(self._reply, host=host, name="irt-sim-sinks")
        self.stopping = self.server.stopping  # set by stop(): releases hanging channels

    @classmethod
    def from_world(cls, world: Mapping[str, Any]) -> NotificationSinks:
        return cls(parse_channels(world))

    # -- life ----------------------------------------------------------------------------------------
    def start(self) -> int:
        """Start the HTTP server and the SMTP servers; returns the HTTP port."""
        if self.server.running:
            return self.port
        port = super().start()
        for channel in self.channels.values():
            if channel.kind == "email":
                channel.smtp = SmtpSink(host=self.host, on_mail=self._mail_to(channel),
                                        on_refused=self._refused_to(channel))
                channel.smtp.start()
                for fault in channel.faults:
                    self._smtp_fault(channel, fault)
        return port

    def stop(self) -> None:
        super().stop()
        for channel in self.channels.values():
            if channel.smtp is not None:
                channel.smtp.stop()

    def url(self, path: str = "/") -> str:
        return f"{self.server.url}{path}"

    def route(self, prefix: str, handler: Handler) -> str:
        """Serve ``prefix`` (and below) with ``handler(method, path, headers, body)``; returns its URL."""
        self._routes[prefix.rstrip("/")] = handler
        return self.url(prefix)

    # -- channels ------------------------------------------------------------------------------------
    def endpoint(self, name: str) -> str:
        """The URL a channel posts to (with its credential in it, as the real one), or host:port for email."""
        channel = self.channels[name]
        if channel.kind == "slack":
            return self.url(f"/slack/{name}/services/TDRILL0001/BDRILL0001/{channel.token}")
        if channel.kind == "teams":
            return self.url(f"/teams/{name}/workflows/drill/triggers/manual/paths/invoke?api-version=2016-06-01"
                            f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={channel.token}")
        if channel.kind == "pagerduty":
            return self.url(f"/pagerduty/{name}/v2/enqueue")
        if channel.kind == "webhook":
            return self.url(f"/webhook/{name}")
        assert channel.smtp is not None, "start() the sinks first"
        return f"{self.host}:{channel.smtp.port}"

    def channel_config(self, folder: Path) -> dict[str, Any]:
        """``channels:`` for irt.yaml, pointing at the sinks. Credentials (webhook URLs, the routing
        key, the HMAC key) are written to files in ``folder`` (mode 0600) and referenced as ``file:``."""
        folder.mkdir(parents=True, exist_ok=True)

        def ref(name: str, value: str) -> str:
            path = folder / name
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
                out.write(value)
            return f"file:{path.resolve()}"

        config: dict[str, Any] = {}
        for name, channel in self.channels.items():
            delivery = {k: channel.settings.get(k, v) for k, v in DELIVERY_DEFAULTS.items()}
            entry: dict[str, Any] = {"type": channel.kind, **delivery}
            if channel.fallback:
                entry["fallback"] = list(channel.fallback)
            if channel.kind in ("slack", "teams"):
                entry["url"] = ref(f"{name}.url", self.endpoint(name))
            elif channel.kind == "webhook":
                entry["url"] = ref(f"{name}.url", self.endpoint(name))
                entry["secret"] = ref(f"{name}.hmac", channel.token)
            elif channel.kind == "pagerduty":
                entry["url"] = self.endpoint(name)
                entry["routing_key"] = ref(f"{name}.routing-key", channel.token.ljust(32, "0")[:32])
            else:
                assert channel.smtp is not None, "start() the sinks first"
                entry.update({"host": self.host, "port": channel.smtp.port, "starttls": False, "ssl": False,
                              "from": SENDER, "to": channel.recipients, "helo": "localhost"})
            config[name] = entry
        return config

    def inject(self, channel: str, **spec: Any) -> Fault:
        """A fault on a channel: ``status`` (an HTTP code; for email an SMTP code, 421 drops the
        connection) ``times`` times (None: always), ``latency``, ``hang``, ``retry_after``."""
        if channel not in self.channels:
            raise ValueError(f"no channel {channel!r} (known: {', '.join(sorted(self.channels)) or 'none'})")
        fault = make_fault(spec)
        target = self.channels[channel]
        with self._lock:
            target.faults.append(fault)
        if target.smtp is not None:
            self._smtp_fault(target, fault)
        return fault

    def deliveries(self, channel: str | None = None, *, accepted: bool | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries if (channel is None or d.channel == channel)
                    and (accepted is None or d.accepted == accepted)]

    def record(self, delivery: Delivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)

    # -- inside ------------------------------------------------------------------------------------
    def _smtp_fault(self, channel: Channel, fault: Fault) -> None:
        assert channel.smtp is not None
        channel.smtp.inject(fault.status or 0, times=fault.times, latency=fault.latency, hang=fault.hang,
                            message=fault.message)

    def _mail_to(self, channel: Channel) -> Callable[[Mail], None]:
        def on_mail(mail: Mail) -> None:
            self.record(Delivery(channel.name, "email", mail.at, True, 250, f"{mail.subject}\n{mail.text()}".strip(),
                                 {"from": mail.sender, "to": mail.recipients, "subject": mail.subject}))
        return on_mail

    def _refused_to(self, channel: Channel) -> Callable[[int, str], None]:
        def on_refused(code: int, why: str) -> None:
            self.record(Delivery(channel.name, "email", time.time(), False, code, "", None, (why,)))
        return on_refused

    def take_fault(self, channel: Channel) -> Fault | None:
        with self._lock:
            for fault in channel.faults:
                if fault.times is None or fault.times > 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
            return None

    def _reply(self, request: Request) -> Reply:
        status, headers, body = self.handle(request.method, request.target, request.headers, request.body)
        return Reply(status, body, headers)

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
               ) -> tuple[int, dict[str, str], bytes | None]:
        parts = urlsplit(target)
        path = parts.path
        for prefix, handler in self._routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return handler(method, target, headers, body)
        segments = path.strip("/").split("/")
        if len(segments) < 2 or segments[1] not in self.channels or segments[0] not in KINDS:
            return 404, services.text_headers(), b"no such channel"
        channel = self.channels[segments[1]]
        if channel.kind != segments[0]:
            return 404, services.text_headers(), b"no such channel"
        if method != "POST":
            return 405, services.text_headers(), b"method not allowed"
        fault = self.take_fault(channel)
        if fault is not None:
            if fault.latency and self.stopping.wait(fault.latency):
                return 503, {}, None
            if fault.hang is not None:
                self.stopping.wait(None if fault.hang == float("inf") else fault.hang)
                return 503, {}, None
            if fault.status:
                extra = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                self.record(Delivery(channel.name, channel.kind, time.time(), False, fault.status,
                                     problems=("injected fault",)))
                said = (fault.message or "simulated outage").encode()
                return fault.status, {**services.text_headers(), **extra}, said
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        problems = services.check(channel, path, parse_qs(parts.query), headers, body, document)
        text = services.summary(channel.kind, document)
        self.record(Delivery(channel.name, channel.kind, time.time(), not problems,
                             services.status_of(channel.kind, bool(problems)), text, document, tuple(problems)))
        return services.answer(channel.kind, problems, document)


# -- parsing the world's channels -----------------------------------------------------------------
def parse_channels(world: Mapping[str, Any]) -> list[Channel]:
    raw = world.get("channels") or []
    items: list[tuple[str, Any]]
    if isinstance(raw, Mapping):
        items = [(f"channels.{k}", {"name": k, **(v or {})} if isinstance(v, Mapping | type(None)) else v)
                 for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [(f"channels[{i}]", v) for i, v in enumerate(raw)]
    else:
        raise WorldError("channels: a list of channel names (or maps with name and type)")
    found: list[Channel] = []
    for where, entry in items:
        channel = _channel(entry, where)
        if any(c.name == channel.name for c in found):
            raise WorldError(f"{where}: channel {channel.name} is listed twice")
        found.append(channel)
    names = {c.name for c in found}
    for channel in found:
        for name in channel.fallback:
            if name not in names:
                raise WorldError(f"channel {channel.name}: fallback {name} is not a channel of the world")
    return found


def _channel(entry: Any, where: str) -> Channel:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise WorldError(f"{where}: a channel name, or a map with name and type")
    unknown = sorted(set(entry) - CHANNEL_KEYS)
    if unknown:
        raise WorldError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                         f"(known: {', '.join(sorted(CHANNEL_KEYS))})")
    name = entry["name"]
    if "/" in name or not name.strip():
        raise WorldError(f"{where}.name: a channel name without '/'")
    kind = entry.get("type") or guess_kind(name)
    if kind not in KINDS:
        raise WorldError(f"{where}.type: one of {', '.join(KINDS)}")
    fallback = entry.get("fallback") or []
    if isinstance(fallback, str):
        fallback = [fallback]
    if not isinstance(fallback, list) or not all(isinstance(f, str) for f in fallback):
        raise WorldError(f"{where}.fallback: a list of channel names")
    faults = []
    if entry.get("down"):
        faults.append(Fault(status=421 if kind == "email" else 503, times=None))
    raw_faults = entry.get("faults") or []
    if not isinstance(raw_faults, list):
        raise WorldError(f"{where}.faults: a list of faults")
    for k, raw in enumerate(raw_faults):
        try:
            faults.append(make_fault(raw))
        except ValueError as exc:
            raise WorldError(f"{where}.faults[{k}]: {exc}") from None
    settings = {k: entry[k] for k in ("attempts", "timeout", "backoff", "to") if k in entry}
    return Channel(name=name, kind=kind, fallback=tuple(fallback), settings=settings, faults=faults)


def make_fault(spec: Any) -> Fault:
    if not isinstance(spec, Mapping):
        raise ValueError("a fault is a map with status, latency or hang")
    unknown = sorted(set(spec) - FAULT_KEYS)
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(unknown)} (known: {', '.join(sorted(FAULT_KEYS))})")
    status, times, latency, hang = common_fields(
        spec, status_hint="an error status from 400 to 599 (an SMTP reply code for email)")
    return Fault(status=status, times=times, latency=latency, hang=hang,
                 message=str(spec.get("message") or ""),
                 retry_after=None if spec.get("retry_after") is None else parse_duration(spec["retry_after"]))

