"""Crash and resume: ``irt respond`` in a subprocess is killed (SIGKILL) or stopped (SIGTERM, SIGINT)
at every journal event, in the middle of a step and from outside; ``irt resume`` then finishes the
incident. Every non-idempotent side effect (a line appended to a file by the test plugin's
``testing.append`` actions) must have happened exactly once, and the journal must fold cleanly.

The crash points come from ``tests/plugins/crashing_irt.py``, a wrapper around the CLI that sends
a signal to its own process right after its N-th journal event, or right after an action's side
effect; the actions come from ``tests/plugins/irt_testplugin.py``, loaded through ``plugins:``.
"""

from __future__ import annotations

import json
import os
import pty
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyirt.core import journal

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"
FIXTURES = ROOT / "tests" / "fixtures" / "crash"
WRAPPER = PLUGINS / "crashing_irt.py"

LINES = ("first", "second", "third", "fourth", "wrap-up")
# incident.opened, then step.started and step.succeeded for each of the 5 steps, then incident.closed
EVENTS_PER_CLEAN_RUN = 1 + 2 * len(LINES) + 1
EVENT_POINTS = range(1, EVENTS_PER_CLEAN_RUN + 1)
KILLED = -signal.SIGKILL
TIMEOUT = 60


# -- harness -----------------------------------------------------------------------------------------
@dataclass
class Incident:
    """One runbook copied into a temporary folder, with its output file and incident root."""

    tmp: Path
    runbook: Path
    out: Path
    root: Path
    config: Path

    # running irt ----------------------------------------------------------------------------------
    def env(self, crash: Mapping[str, Any] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IRT_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PLUGINS), os.environ.get("PYTHONPATH")) if p)
        env.update({k: str(v) for k, v in (crash or {}).items()})
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, str(WRAPPER), *args, "--config", str(self.config),
                "--incident-dir", str(self.root)]

    def respond_args(self, pause: str) -> list[str]:
        return ["respond", str(self.runbook), "-i", f"out={self.out}", "-i", f"pause={pause}", "--yes"]

    def irt(self, *args: str, crash: Mapping[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), env=self.env(crash), cwd=self.tmp, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)

    def respond(self, *, pause: str = "0s", crash: Mapping[str, Any] | None = None,
                ) -> subprocess.CompletedProcess[str]:
        return self.irt(*self.respond_args(pause), crash=crash)

    def start(self, *, pause: str = "0s") -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*self.respond_args(pause)), env=self.env(), cwd=self.tmp,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def resume(self, *flags: str, crash: Mapping[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        return self.irt("resume", self.id, *flags, crash=crash)

    # looking at the result ----------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        folders = [p for p in self.root.iterdir() if p.is_dir()]
        assert len(folders) == 1, f"expected one incident folder in {self.root}: {folders}"
        return folders[0]

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def journal_file(self) -> Path:
        return self.folder / "journal.jsonl"

    def events(self) -> list[dict[str, Any]]:
        return list(journal.parse(self.journal_file.read_bytes()).events)

    def state(self) -> journal.IncidentState:
        return journal.fold(self.events())

    def lines(self) -> list[str]:
        return self.out.read_text(encoding="utf-8").splitlines() if self.out.exists() else []

    def doubtful(self) -> list[journal.StepState]:
        state = self.state()
        return [state.step(s) for s in state.order if state.step(s).in_doubt]

    def show(self) -> dict[str, Any]:
        done = self.irt("incidents", "show", self.id, "--json")
        assert done.returncode == 0, done.stderr
        data: dict[str, Any] = json.loads(done.stdout)
        return data

    def wait_for(self, proc: subprocess.Popen[str], test: Callable[[dict[str, Any]], bool],
                 what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = self.root.exists() and any(self.root.iterdir()) and self.journal_file.exists()
            if started and any(test(e) for e in self.events()):
                return
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"irt exited ({proc.returncode}) before {what}:\n{out}\n{err}")
            time.sleep(0.01)
        pytest.fail(f"timed out waiting for {what}")

    # the operator -------------------------------------------------------------------------------------
    def operator_choice(self) -> list[str]:
        """``--in-doubt`` as an operator would choose it: look whether the effect is there."""
        doubtful = [s for s in self.doubtful() if s.action == "testing.append_blind"]
        if not doubtful:
            return []
        assert len(doubtful) == 1, f"more than one step in doubt: {doubtful}"
        line = doubtful[0].params.get("line")
        return ["--in-doubt=skip" if line in self.lines() else "--in-doubt=rerun"]

    def resume_until_closed(self, limit: int = 6) -> list[subprocess.CompletedProcess[str]]:
        """Resume (settling in-doubt steps like an operator) until the incident is closed."""
        runs: list[subprocess.CompletedProcess[str]] = []
        for _ in range(limit):
            if self.state().status == "closed":
                return runs
            done = self.resume(*self.operator_choice())
            runs.append(done)
            assert done.returncode == 0, f"resume exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        assert self.state().status == "closed", f"still not closed after {limit} resumes"
        return runs


@pytest.fixture
def incident(tmp_path: Path) -> Callable[[str], Incident]:
    config = tmp_path / "irt.yaml"
    config.write_text("plugins: [irt_testplugin]\n", encoding="utf-8")

    def make(name: str) -> Incident:
        runbook = tmp_path / f"{name}.yaml"
        shutil.copyfile(FIXTURES / f"{name}.yaml", runbook)
        return Incident(tmp=tmp_path, runbook=runbook, out=tmp_path / "out.txt", root=tmp_path / "incidents",
                        config=config)

    return make


# -- what every finished incident must satisfy -------------------------------------------------------
def check_journal(inc: Incident, outcome: str = "succeeded") -> journal.IncidentState:
    """The journal is whole, numbered without gaps, folds to closed with ``outcome``, and says each
    step ended once."""
    data = inc.journal_file.read_bytes()
    parsed = journal.parse(data)
    assert not parsed.torn
    assert parsed.valid_bytes == len(data), "the journal has bytes after its last whole line"
    events = list(parsed.events)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "seq has gaps or repeats"
    types = [e["type"] for e in events]
    assert types[0] == "incident.opened"
    assert types.count("incident.opened") == 1
    assert types.count("incident.closed") == 1, "the incident was closed more than once"
    assert types[-1] == "incident.closed", f"events after incident.closed: {types[types.index('incident.closed'):]}"
    ends = Counter(e["step"] for e in events if e["type"] in ("step.succeeded", "step.failed", "step.skipped"))
    assert all(n == 1 for n in ends.values()), f"a step ended more than once: {ends}"
    state = journal.fold(events)
    assert state.status == "closed"
    assert state.outcome == outcome
    assert not any(state.step(s).in_doubt for s in state.order)
    return state


def assert_exactly_once(inc: Incident, expected: tuple[str, ...] = LINES) -> None:
    lines = inc.lines()
    assert sorted(lines) == sorted(expected), f"side effects: {lines}"
    assert lines == list(expected), f"side effects out of order: {lines}"


def assert_succeeded_cleanly(inc: Incident) -> None:
    state = check_journal(inc)
    assert_exactly_once(inc)
    for step in map(state.step, LINES):
        # a step the operator skipped after checking that its effect was there counts as done
        assert step.status == "succeeded" or (
            step.status == "skipped" and step.skip_reason == "in doubt; skipped by the operator"), step


# -- a clean run sets the scale of the matrix ----------------------------------------------------------
@pytest.mark.parametrize("runbook", ["append", "append_blind", "alternating"])
def test_clean_run_writes_every_line_once(incident: Callable[[str], Incident], runbook: str) -> None:
    inc = incident(runbook)
    done = inc.respond()
    assert done.returncode == 0, done.stderr
    assert_succeeded_cleanly(inc)
    assert len(inc.events()) == EVENTS_PER_CLEAN_RUN


# -- SIGKILL right after every journal event ---------------------------------------------------------
# "alternating" runs reconcilable and blind appends in turn, so every kind of step boundary is hit
# for both: before the first step, between steps, between step.started and the side effect, in the
# finally phase, and after incident.closed.
@pytest.mark.slow
@pytest.mark.parametrize("n", EVENT_POINTS)
def test_sigkill_after_every_event(incident: Callable[[str], Incident], n: int) -> None:
    inc = incident("alternating")
    done = inc.respond(crash={"IRT_CRASH_AFTER_EVENT": n})
    assert done.returncode == KILLED, f"not killed after event {n}: {done.returncode}\n{done.stderr}"
    events = inc.events()
    assert len(events) == n
    last = events[-1]
    if n == EVENTS_PER_CLEAN_RUN:
        assert inc.state().status == "closed"
        again = inc.resume()
        assert again.returncode == 5, again.stderr
        assert_succeeded_cleanly(inc)
        return
    assert inc.state().status == "running"
    # right after a step.started, the step is in doubt and its side effect has not happened yet
    doubtful = [s.id for s in inc.doubtful()]
    assert doubtful == ([last["step"]] if last["type"] == "step.started" else [])
    assert inc.lines() == [e["step"] for e in events if e["type"] == "step.succeeded"]
    inc.resume_until_closed()
    assert_succeeded_cleanly(inc)
    resolutions = [(e["step"], e["resolution"], e["reason"]) for e in inc.events() if e["type"] == "step.in_doubt"]
    if doubtful:
        blind = last["action"] == "testing.append_blind"
        reason = "operator" if blind else "the action found no effect"
        assert resolutions == [(last["step"], "rerun", reason)]
    else:
        assert resolutions == []


# -- SIGKILL in the middle of a step: after the side effect, before step.succeeded --------------------
@pytest.mark.slow
@pytest.mark.parametrize("line", LINES)
def test_sigkill_after_the_side_effect(incident: Callable[[str], Incident], line: str) -> None:
    inc = incident("alternating")
    done = inc.respond(crash={"IRT_CRASH_AFTER_EFFECT": line})
    assert done.returncode == KILLED
    assert inc.lines()[-1] == line
    (step,) = inc.doubtful()
    assert step.id == line
    runs = inc.resume_until_closed()
    assert len(runs) == 1
    state = check_journal(inc)
    assert_exactly_once(inc)
    (doubt,) = [e for e in inc.events() if e["type"] == "step.in_doubt"]
    assert doubt["step"] == line
    if step.action == "testing.append":  # it finds its line and takes the run as done
        assert doubt["resolution"] == "reconciled"
        (reconciled,) = [e for e in inc.events() if e.get("reconciled")]
        assert reconciled["type"] == "step.succeeded"
        assert reconciled["output"] == {"line": line, "path": str(inc.out)}
        assert state.step(line).status == "succeeded"
    else:  # the operator saw the line and skipped the step
        assert (doubt["resolution"], doubt["reason"]) == ("skip", "operator")
        assert state.step(line).status == "skipped"


# -- SIGKILL at random points of the respond and of every resume --------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_repeated_crashes_at_random_points(incident: Callable[[str], Incident], seed: int) -> None:
    """The respond and each resume after it are killed too, at a random event or side effect."""
    rng = random.Random(seed)
    inc = incident("alternating")

    def crash_point() -> dict[str, int]:
        if rng.random() < 0.3:
            return {"IRT_CRASH_AFTER_EFFECT_COUNT": rng.randint(1, 2)}
        return {"IRT_CRASH_AFTER_EVENT": rng.randint(2, 5)}

    done = inc.respond(crash=crash_point())
    codes = [done.returncode]
    for _ in range(6):
        if inc.state().status == "closed":
            break
        done = inc.resume(*inc.operator_choice(), crash=crash_point())
        codes.append(done.returncode)
    assert set(codes) <= {0, KILLED}, codes
    assert codes.count(KILLED) >= 2, codes
    inc.resume_until_closed()
    assert_succeeded_cleanly(inc)


# -- a torn last line --------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 2, 3, EVENTS_PER_CLEAN_RUN])
def test_kill_while_writing_an_event_leaves_a_repairable_journal(
    incident: Callable[[str], Incident], n: int
) -> None:
    inc = incident("append")
    done = inc.respond(crash={"IRT_CRASH_TEAR_EVENT": n})
    assert done.returncode == KILLED
    data = inc.journal_file.read_bytes()
    parsed = journal.parse(data)
    assert parsed.torn
    assert len(parsed.events) == n - 1
    torn = len(data) - parsed.valid_bytes
    assert torn > 0
    if n == 1:  # not even incident.opened is whole: there is no incident to resume
        stuck = inc.resume()
        assert stuck.returncode == 5
        assert "no incident.opened event" in stuck.stderr
        return
    inc.resume_until_closed()
    assert_succeeded_cleanly(inc)
    resumed = [e for e in inc.events() if e["type"] == "incident.resumed"]
    assert resumed[0]["repaired_bytes"] == torn
    assert resumed[0]["seq"] == n


@pytest.mark.parametrize("tail", [b'{"seq":6,"ts":"2026-01-01T00:00:00Z","type":"step.succ',
                                  b'{"seq":6,"ts":"2026-01-01T00:00:00Z","type":"step.succ\n'])
def test_torn_last_line_is_cut_on_resume(incident: Callable[[str], Incident], tail: bytes) -> None:
    inc = incident("append")
    done = inc.respond(crash={"IRT_CRASH_AFTER_EVENT": 5})
    assert done.returncode == KILLED
    whole = inc.journal_file.read_bytes()
    with inc.journal_file.open("ab") as f:
        f.write(tail)
    assert journal.parse(inc.journal_file.read_bytes()).torn
    # the torn line does not stop the incident being read
    assert inc.show()["status"] == "running"
    again = inc.resume()
    assert again.returncode == 0, again.stderr
    assert inc.journal_file.read_bytes().startswith(whole)
    assert tail not in inc.journal_file.read_bytes()
    assert_succeeded_cleanly(inc)
    (resumed,) = [e for e in inc.events() if e["type"] == "incident.resumed"]
    assert resumed["seq"] == 6
    assert resumed["repaired_bytes"] == len(tail)


def test_damage_before_the_last_line_is_refused(incident: Callable[[str], Incident]) -> None:
    inc = incident("append")
    assert inc.respond(crash={"IRT_CRASH_AFTER_EVENT": 5}).returncode == KILLED
    lines = inc.journal_file.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"seq":3,"ts":\n'
    inc.journal_file.write_bytes(b"".join(lines))
    done = inc.resume()
    assert done.returncode == 5
    assert "journal line 3 is damaged" in done.stderr
    assert inc.lines() == ["first", "second"]


# -- SIGTERM and SIGINT: stop at the next safe point ---------------------------------------------------
def _stopped_at_a_safe_point(inc: Incident, done: subprocess.CompletedProcess[str], name: str,
                             *, forced: bool = False) -> None:
    assert done.returncode == 3, f"{done.returncode}\n{done.stderr}"
    assert f"stopped by {name}; resume with: irt resume {inc.id}" in done.stderr
    last = inc.events()[-1]
    assert last["type"] == "incident.paused"
    assert last["reason"] == "signal"
    assert last["detail"] in ((name, f"{name} (forced)") if forced else (name,))
    state = inc.state()
    assert state.status == "paused"
    done_steps = [s for s in state.order if state.step(s).status == "succeeded"]
    assert inc.lines() == done_steps
    if not forced:  # a stop request lets a running non-idempotent step finish: nothing is in doubt
        assert not inc.doubtful()


@pytest.mark.slow
@pytest.mark.parametrize("n", EVENT_POINTS)
def test_sigterm_after_every_event(incident: Callable[[str], Incident], n: int) -> None:
    inc = incident("alternating")
    done = inc.respond(crash={"IRT_CRASH_AFTER_EVENT": n, "IRT_CRASH_SIGNAL": "TERM"})
    if n >= EVENTS_PER_CLEAN_RUN - 2:  # the finally step had started: it ends and the incident closes
        assert done.returncode == 0, done.stderr
    else:
        _stopped_at_a_safe_point(inc, done, "SIGTERM")
        again = inc.resume()  # without --in-doubt: a blind step left in doubt would stop it
        assert again.returncode == 0, again.stderr
    assert_succeeded_cleanly(inc)
    assert not [e for e in inc.events() if e["type"] == "step.in_doubt"]


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 2, 4, EVENTS_PER_CLEAN_RUN])
def test_second_sigterm_after_an_event(incident: Callable[[str], Incident], n: int) -> None:
    """Two signals in a row stop at once, but never between an event and the state it makes."""
    inc = incident("alternating")
    done = inc.respond(crash={"IRT_CRASH_AFTER_EVENT": n, "IRT_CRASH_SIGNAL": "TERM",
                              "IRT_CRASH_SIGNAL_COUNT": 2})
    if n == EVENTS_PER_CLEAN_RUN:  # the incident was closed: it stays closed
        assert done.returncode == 0, done.stderr
    else:
        _stopped_at_a_safe_point(inc, done, "SIGTERM", forced=True)
        events = inc.events()
        assert len(events) == n + 1  # the event, then incident.paused
        # after a step.started the action never ran: the step is in doubt and its effect absent
        assert [s.id for s in inc.doubtful()] == ([events[-2]["step"]] if events[-2]["type"] == "step.started" else [])
        inc.resume_until_closed()
    assert_succeeded_cleanly(inc)


@pytest.mark.slow
@pytest.mark.parametrize(("line", "signame"), [("first", "TERM"), ("second", "TERM"), ("third", "INT"),
                                               ("wrap-up", "TERM")])
def test_stop_signal_in_the_middle_of_a_step(incident: Callable[[str], Incident], line: str,
                                             signame: str) -> None:
    """The signal comes from the action's own thread right after its side effect."""
    inc = incident("alternating")
    done = inc.respond(crash={"IRT_CRASH_AFTER_EFFECT": line, "IRT_CRASH_SIGNAL": signame})
    if line == LINES[-1]:
        assert done.returncode == 0, done.stderr
    else:
        _stopped_at_a_safe_point(inc, done, f"SIG{signame}")
        assert inc.lines()[-1] == line
        assert inc.state().step(line).status == "succeeded"
        again = inc.resume()
        assert again.returncode == 0, again.stderr
    assert_succeeded_cleanly(inc)


@pytest.mark.slow
def test_sigterm_in_every_resume(incident: Callable[[str], Incident]) -> None:
    """A resume is stopped by SIGTERM right after its second event, again and again: each one still
    makes progress, and the end is the same."""
    inc = incident("alternating")
    assert inc.respond(crash={"IRT_CRASH_AFTER_EVENT": 2, "IRT_CRASH_SIGNAL": "TERM"}).returncode == 3
    for _ in range(len(LINES) + 1):
        if inc.state().status == "closed":
            break
        done = inc.resume(crash={"IRT_CRASH_AFTER_EVENT": 2, "IRT_CRASH_SIGNAL": "TERM"})
        assert done.returncode in (0, 3), done.stderr
    assert_succeeded_cleanly(inc)
    assert [e["type"] for e in inc.events()].count("incident.paused") == len(LINES) - 1


# -- signals from outside, while a step sleeps ---------------------------------------------------------
def _started(step: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["type"] == "step.started" and e.get("step") == step


def test_outside_sigterm_while_a_non_idempotent_step_sleeps(incident: Callable[[str], Incident]) -> None:
    inc = incident("append")
    with inc.start(pause="1s") as proc:  # "second" sleeps 1s before appending
        inc.wait_for(proc, _started("second"), "step second to start")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    _stopped_at_a_safe_point(inc, done, "SIGTERM")
    assert inc.lines() == ["first", "second"]  # the step was let finish
    assert inc.show()["status"] == "paused"
    again = inc.resume()
    assert again.returncode == 0, again.stderr
    assert_succeeded_cleanly(inc)


def test_outside_sigterm_while_an_idempotent_step_runs(incident: Callable[[str], Incident]) -> None:
    inc = incident("mixed")
    expected = ("before", "after", "wrap-up")
    with inc.start(pause="1s") as proc:  # "settle" is a flow.wait: cancelled by a stop request
        inc.wait_for(proc, _started("settle"), "step settle to start")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 3, err
    assert "stopped by SIGTERM" in err
    assert inc.events()[-1]["type"] == "incident.paused"
    # the wait was cancelled, not let finish: it never succeeded and stays in doubt
    assert [s.id for s in inc.doubtful()] == ["settle"]
    assert inc.lines() == ["before"]
    again = inc.resume()  # an idempotent step in doubt is re-run without asking
    assert again.returncode == 0, again.stderr
    state = check_journal(inc)
    assert_exactly_once(inc, expected)
    (doubt,) = [e for e in inc.events() if e["type"] == "step.in_doubt"]
    assert (doubt["step"], doubt["resolution"]) == ("settle", "rerun")
    assert state.step("settle").status == "succeeded"


def test_second_sigterm_stops_at_once(incident: Callable[[str], Incident]) -> None:
    inc = incident("append")
    with inc.start(pause="1s") as proc:
        inc.wait_for(proc, _started("second"), "step second to start")
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 3, err
    last = inc.events()[-1]
    assert (last["type"], last["reason"], last["detail"]) == ("incident.paused", "signal", "SIGTERM (forced)")
    assert [s.id for s in inc.doubtful()] == ["second"]
    assert inc.lines() == ["first"]
    again = inc.resume()
    assert again.returncode == 0, again.stderr
    assert_succeeded_cleanly(inc)


@pytest.mark.parametrize(("runbook", "step", "lines_before"), [
    ("append", "second", ["first"]),                    # sleeping before its effect
    ("append", "third", ["first", "second", "third"]),  # sleeping after its effect
])
def test_outside_sigkill_while_a_step_sleeps(incident: Callable[[str], Incident], runbook: str, step: str,
                                             lines_before: list[str]) -> None:
    inc = incident(runbook)
    with inc.start(pause="1s") as proc:
        inc.wait_for(proc, _started(step), f"step {step} to start")
        if step == "third":  # wait for the effect itself
            deadline = time.monotonic() + 10
            while "third" not in inc.lines() and time.monotonic() < deadline:
                time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == KILLED
    assert inc.lines() == lines_before
    assert [s.id for s in inc.doubtful()] == [step]
    again = inc.resume()
    assert again.returncode == 0, again.stderr
    assert_succeeded_cleanly(inc)
    (doubt,) = [e for e in inc.events() if e["type"] == "step.in_doubt"]
    assert doubt["resolution"] == ("rerun" if step == "second" else "reconciled")


def test_outside_sigkill_during_a_blind_step_then_operator_skips(incident: Callable[[str], Incident]) -> None:
    inc = incident("append_blind")
    with inc.start(pause="1s") as proc:  # "third" appends, then sleeps 1s
        inc.wait_for(proc, _started("third"), "step third to start")
        deadline = time.monotonic() + 10
        while "third" not in inc.lines() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == KILLED
    stuck = inc.resume()
    assert stuck.returncode == 3
    assert "step third (testing.append_blind) is in doubt" in stuck.stderr
    again = inc.resume("--in-doubt=skip")
    assert again.returncode == 0, again.stderr
    state = check_journal(inc)
    assert_exactly_once(inc)
    assert state.step("third").status == "skipped"


# -- resume refusals and the operator's choices ---------------------------------------------------------
def test_resume_of_a_closed_incident_exits_5(incident: Callable[[str], Incident]) -> None:
    inc = incident("append")
    assert inc.respond().returncode == 0
    before = inc.journal_file.read_bytes()
    done = inc.resume()
    assert done.returncode == 5
    assert f"incident {inc.id} is closed (succeeded); nothing to resume" in done.stderr
    assert inc.journal_file.read_bytes() == before
    assert_exactly_once(inc)


def test_resume_after_the_runbook_changed_needs_force(incident: Callable[[str], Incident]) -> None:
    inc = incident("append")
    assert inc.respond(crash={"IRT_CRASH_AFTER_EVENT": 5}).returncode == KILLED
    before = inc.journal_file.read_bytes()
    inc.runbook.write_text(inc.runbook.read_text(encoding="utf-8").replace(
        "Four non-idempotent appends", "Four appends, edited"), encoding="utf-8")
    done = inc.resume()
    assert done.returncode == 5
    assert "changed since incident" in done.stderr
    assert "--force" in done.stderr
    assert inc.journal_file.read_bytes() == before, "a refused resume must not touch the journal"
    assert inc.lines() == ["first", "second"]
    forced = inc.resume("--force")
    assert forced.returncode == 0, forced.stderr
    assert_succeeded_cleanly(inc)
    (resumed,) = [e for e in inc.events() if e["type"] == "incident.resumed"]
    assert resumed["forced"] is True


def test_in_doubt_fail_marks_the_step_failed(incident: Callable[[str], Incident]) -> None:
    inc = incident("append_blind")
    assert inc.respond(crash={"IRT_CRASH_AFTER_EVENT": 4}).returncode == KILLED  # "second" started
    done = inc.resume("--in-doubt=fail")
    assert done.returncode == 1
    assert "step second (testing.append_blind) failed" in done.stderr
    state = check_journal(inc, outcome="failed")
    second = state.step("second")
    assert second.status == "failed"
    assert "in doubt" in second.error
    assert state.step("third").status == "skipped"
    assert state.step("fourth").status == "skipped"
    assert state.step("wrap-up").status == "succeeded"  # finally steps always run
    assert_exactly_once(inc, ("first", "wrap-up"))
    assert inc.show()["outcome"] == "failed"


def test_in_doubt_skip_skips_the_step(incident: Callable[[str], Incident]) -> None:
    inc = incident("append_blind")
    assert inc.respond(crash={"IRT_CRASH_AFTER_EVENT": 4}).returncode == KILLED
    done = inc.resume("--in-doubt=skip")
    assert done.returncode == 0, done.stderr
    state = check_journal(inc)
    assert state.step("second").status == "skipped"
    assert_exactly_once(inc, ("first", "third", "fourth", "wrap-up"))


def test_in_doubt_without_a_terminal_or_flag_stops_with_a_clear_message(
    incident: Callable[[str], Incident],
) -> None:
    inc = incident("append_blind")
    assert inc.respond(crash={"IRT_CRASH_AFTER_EVENT": 4}).returncode == KILLED
    for _ in range(2):  # asking again does not change the answer nor grow the damage
        done = inc.resume()
        assert done.returncode == 3
        assert done.stderr.strip().splitlines()[-1] == (
            f"irt: stopped: step second (testing.append_blind) is in doubt: it started and never finished. "
            f"Check its effect, then: irt resume {inc.id} --in-doubt=rerun|skip|fail")
        shown = inc.show()
        assert (shown["status"], shown["pause_reason"]) == ("paused", "in_doubt")
        assert inc.lines() == ["first"]
    done = inc.resume("--in-doubt=rerun")
    assert done.returncode == 0, done.stderr
    assert_succeeded_cleanly(inc)


def test_in_doubt_on_a_terminal_asks_the_operator(incident: Callable[[str], Incident]) -> None:
    inc = incident("append_blind")
    assert inc.respond(crash={"IRT_CRASH_AFTER_EVENT": 4}).returncode == KILLED  # "second" started
    master, slave = pty.openpty()
    seen = b""
    try:
        with subprocess.Popen(inc.command("resume", inc.id), env=inc.env(), cwd=inc.tmp, stdin=slave,
                              stdout=subprocess.PIPE, stderr=slave) as proc:
            os.close(slave)
            slave = -1
            deadline = time.monotonic() + TIMEOUT
            while b"[r]erun, [s]kip or [f]ail?" not in seen and time.monotonic() < deadline:
                if select.select([master], [], [], 0.1)[0]:
                    seen += os.read(master, 4096)
            assert b"Step second (testing.append_blind) started but never finished" in seen
            os.write(master, b"s\n")
            while proc.poll() is None and time.monotonic() < deadline:  # drain: a full pty blocks it
                if select.select([master], [], [], 0.1)[0]:
                    try:
                        seen += os.read(master, 4096)
                    except OSError:  # EIO once the child's side is closed
                        break
            proc.communicate(timeout=TIMEOUT)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0, seen.decode(errors="replace")
    state = check_journal(inc)
    assert state.step("second").status == "skipped"
    assert_exactly_once(inc, ("first", "third", "fourth", "wrap-up"))


def test_a_running_incident_cannot_be_resumed_twice(incident: Callable[[str], Incident]) -> None:
    inc = incident("append")
    with inc.start(pause="1s") as proc:
        inc.wait_for(proc, _started("second"), "step second to start")
        done = inc.resume()
        _, err = proc.communicate(timeout=TIMEOUT)
    assert done.returncode == 5
    assert f"is being run by pid {proc.pid}" in done.stderr
    assert proc.returncode == 0, err
    assert_succeeded_cleanly(inc)
