"""The response as an inline SVG Gantt chart: one bar per step (colour by outcome), a row per undo,
markers for the alert, approvals, retries and interruptions, and a time axis relative to the start.

:func:`layout` is pure geometry from a :class:`~pyirt.report.model.Report`; :func:`svg` writes it
out, escaping every piece of text, so the chart is as inert as the rest of the HTML. No script, no
external font: it prints as drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from pyirt.report.facts import Clock
from pyirt.report.model import Report
from pyirt.report.text import duration, offset

WIDTH = 1000
LABEL_X = 8
PLOT_LEFT = 200
PLOT_RIGHT = 980
TOP = 34
ROW = 24
BAR = 14
LEGEND = 40
MIN_BAR = 3.0

COLOURS = {
    "succeeded": "#2e7d32", "failed": "#c62828", "skipped": "#9e9e9e", "running": "#f9a825",
    "pending": "#e0e0e0", "undo-succeeded": "#6a1b9a", "undo-failed": "#8e0000", "undo-running": "#f9a825",
    "approval": "#1565c0", "retry": "#ef6c00", "alert": "#d50000", "pause": "#616161",
}
LEGEND_ITEMS = (("succeeded", "succeeded"), ("failed", "failed"), ("skipped", "skipped"),
                ("running", "in doubt"), ("undo-succeeded", "undone"), ("undo-failed", "undo failed"))
_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
          3600, 7200, 14400, 21600, 43200, 86400)


@dataclass(frozen=True, slots=True)
class Bar:
    row: int
    start: float
    end: float
    colour: str
    tip: str
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    row: int  # -1: the incident row at the top (alert, pauses)
    at: float
    kind: str  # alert, approval-requested, approval-granted, retry, pause, resume
    tip: str


@dataclass(frozen=True, slots=True)
class Layout:
    lo: float
    hi: float
    labels: tuple[str, ...]
    bars: tuple[Bar, ...] = ()
    markers: tuple[Marker, ...] = ()
    ticks: tuple[float, ...] = field(default=())

    @property
    def height(self) -> int:
        return TOP + ROW * max(len(self.labels), 1) + LEGEND

    def x(self, seconds: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return PLOT_LEFT + (seconds - self.lo) / span * (PLOT_RIGHT - PLOT_LEFT)


def _ticks(lo: float, hi: float) -> tuple[float, ...]:
    span = hi - lo
    step = next((t for t in _TICKS if span / t <= 8), _TICKS[-1] * max(1, round(span / _TICKS[-1] / 8)))
    first = -(-lo // step) * step
    count = int((hi - first) // step) + 1
    return tuple(round(first + i * step, 6) for i in range(max(count, 0)))


def layout(report: Report) -> Layout:
    labels: list[str] = []
    bars: list[Bar] = []
    markers: list[Marker] = []
    rows: dict[str, int] = {}
    offsets = [e.offset for e in report.timeline if e.offset is not None]
    hi = max([*offsets, 0.001])
    for step in report.steps:
        rows[step.id] = len(labels)
        labels.append(step.id)
        tip = f"{step.id} ({step.action}): {step.status}"
        if step.duration is not None:
            tip += f" in {duration(step.duration)}"
        if step.started is not None:
            end = step.ended if step.ended is not None else hi
            bars.append(Bar(rows[step.id], step.started, end, COLOURS.get(step.status, COLOURS["pending"]), tip,
                            dashed=step.status == "running"))
        elif step.ended is not None:  # skipped or failed before starting: a thin mark where it happened
            bars.append(Bar(rows[step.id], step.ended, step.ended, COLOURS.get(step.status, COLOURS["pending"]),
                            tip + (f": {step.skip_reason or step.error}" if step.skip_reason or step.error else "")))
    undo_start: dict[str, float] = {}
    for event in report.timeline:
        at = event.offset
        if at is None:
            continue
        if event.type == "undo.started":
            undo_start[event.step] = at
        elif event.type in ("undo.succeeded", "undo.failed") and event.step in rows:
            begin = undo_start.get(event.step, at)
            row = len(labels)
            labels.append(f"undo {event.step}")
            kind = "undo-succeeded" if event.type == "undo.succeeded" else "undo-failed"
            bars.append(Bar(row, begin, at, COLOURS[kind], f"undo of {event.step}: {event.text}"))
        elif event.type in ("approval.requested", "approval.granted", "approval.denied") and event.step in rows:
            kind = "approval-requested" if event.type == "approval.requested" else "approval-granted"
            markers.append(Marker(rows[event.step], at, kind, f"{event.step}: {event.text}"))
        elif event.type == "step.retrying" and event.step in rows:
            markers.append(Marker(rows[event.step], at, "retry", f"{event.step}: {event.text}"))
        elif event.type in ("incident.paused", "incident.resumed"):
            markers.append(Marker(-1, at, "pause" if event.type == "incident.paused" else "resume", event.text))
    lo = 0.0
    fired = Clock(report.opened_at).at(report.detection.fired_at) if report.detection.fired_at else None
    if fired is not None:
        # An alert long before the response would crush the bars: pin it to the left edge instead.
        lo = min(0.0, max(fired, -0.25 * hi))
        markers.append(Marker(-1, max(fired, lo), "alert", f"alert fired at {offset(fired)}"
                              + (f" ({duration(-fired)} before the response)" if fired < 0 else "")))
    return Layout(lo=lo, hi=hi, labels=tuple(labels), bars=tuple(bars), markers=tuple(markers),
                  ticks=_ticks(lo, hi))


def _tick_label(seconds: float) -> str:
    if seconds == 0:
        return "0"
    sign = "-" if seconds < 0 else "+"
    value = abs(seconds)
    if value < 1:
        return f"{sign}{value * 1000:g}ms"
    if value < 60:
        return f"{sign}{value:g}s"
    if value < 3600:
        return f"{sign}{value / 60:g}m"
    if value < 86400:
        return f"{sign}{value / 3600:g}h"
    return f"{sign}{value / 86400:g}d"


def _marker(m: Marker, lay: Layout) -> str:
    x = lay.x(m.at)
    tip = f"<title>{escape(m.tip)}</title>"
    if m.row < 0:
        if m.kind == "alert":
            return (f'<g class="m-alert"><path d="M{x:.1f},{TOP - 4} l-6,-10 h12 z" fill="{COLOURS["alert"]}">{tip}'
                    f'</path><line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 4}" y2="{lay.height - LEGEND}" '
                    f'stroke="{COLOURS["alert"]}" stroke-width="1"/></g>')
        dash = "4 3" if m.kind == "pause" else "1 3"
        return (f'<line class="m-{m.kind}" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 10}" y2="{lay.height - LEGEND}" '
                f'stroke="{COLOURS["pause"]}" stroke-width="1.5" stroke-dasharray="{dash}">{tip}</line>')
    y = TOP + m.row * ROW + ROW / 2
    if m.kind == "retry":
        return (f'<path class="m-retry" d="M{x - 4:.1f},{y - 4:.1f} l8,8 m0,-8 l-8,8" stroke="{COLOURS["retry"]}" '
                f'stroke-width="2">{tip}</path>')
    fill = COLOURS["approval"] if m.kind == "approval-granted" else "#ffffff"
    return (f'<path class="m-{m.kind}" d="M{x:.1f},{y - 7:.1f} l6,7 l-6,7 l-6,-7 z" fill="{fill}" '
            f'stroke="{COLOURS["approval"]}" stroke-width="1.5">{tip}</path>')


def svg(report: Report) -> str:
    """The chart as an ``<svg>`` element (every text escaped)."""
    lay = layout(report)
    height = lay.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" '
           f'width="100%" role="img" aria-labelledby="timeline-title" font-family="sans-serif" font-size="12">',
           f'<title id="timeline-title">{escape(f"Response timeline of incident {report.incident_id}")}</title>',
           f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>']
    for tick in lay.ticks:
        x = lay.x(tick)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 8}" y2="{height - LEGEND}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP - 12}" text-anchor="middle" fill="#555">{escape(_tick_label(tick))}'
                   "</text>")
    for row, label in enumerate(lay.labels):
        top = TOP + row * ROW
        if row % 2:
            out.append(f'<rect x="0" y="{top}" width="{WIDTH}" height="{ROW}" fill="#f7f7f7"/>')
        short = label if len(label) <= 28 else label[:27] + "\u2026"
        out.append(f'<text x="{LABEL_X}" y="{top + ROW / 2 + 4:.1f}" fill="#222">{escape(short)}</text>')
    for bar in lay.bars:
        x0, x1 = lay.x(bar.start), lay.x(bar.end)
        width = max(x1 - x0, MIN_BAR)
        y = TOP + bar.row * ROW + (ROW - BAR) / 2
        dash = ' stroke="#6d4c00" stroke-dasharray="4 2"' if bar.dashed else ""
        out.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{width:.1f}" height="{BAR}" rx="2" fill="{bar.colour}"'
                   f'{dash}><title>{escape(bar.tip)}</title></rect>')
    out += [_marker(m, lay) for m in lay.markers]
    y = height - LEGEND + 22
    x = float(LABEL_X)
    for key, name in LEGEND_ITEMS:
        out.append(f'<rect x="{x:.0f}" y="{y - 10}" width="12" height="12" rx="2" fill="{COLOURS[key]}"/>'
                   f'<text x="{x + 16:.0f}" y="{y}" fill="#333">{escape(name)}</text>')
        x += 30 + 7 * len(name)
    out.append(f'<path d="M{x + 6:.0f},{y - 11} l6,7 l-6,7 l-6,-7 z" fill="{COLOURS["approval"]}"/>'
               f'<text x="{x + 16:.0f}" y="{y}" fill="#333">approval</text>')
    x += 90
    out.append(f'<path d="M{x:.0f},{y - 9} l8,8 m0,-8 l-8,8" stroke="{COLOURS["retry"]}" stroke-width="2"/>'
               f'<text x="{x + 14:.0f}" y="{y}" fill="#333">retry</text>')
    x += 60
    out.append(f'<path d="M{x + 6:.0f},{y - 2} l-6,-10 h12 z" fill="{COLOURS["alert"]}"/>'
               f'<text x="{x + 16:.0f}" y="{y}" fill="#333">alert</text>')
    x += 60
    out.append(f'<line x1="{x:.0f}" x2="{x:.0f}" y1="{y - 12}" y2="{y + 2}" stroke="{COLOURS["pause"]}" '
               f'stroke-width="1.5" stroke-dasharray="4 3"/><text x="{x + 8:.0f}" y="{y}" fill="#333">paused / '
               "resumed</text>")
    out.append("</svg>")
    return "\n".join(out)
