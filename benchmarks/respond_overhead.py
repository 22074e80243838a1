"""Per-step overhead of ``irt respond``: what the engine adds around each step, fsync included.

Goal (from the issue): under 2 ms per step, including the fsync of the journal.

In one run, in a temporary folder, this script:
1. writes a 5-step and a 100-step runbook of ``flow.wait {duration: 0s}`` (the action does nothing,
   so what is measured is the engine: journal, fold, rendering, worker thread, observers);
2. times ``irt respond FILE --yes --incident-dir DIR`` for both (median of several interleaved runs),
   with ``irt --version`` as the no-op start-up reference, and derives the per-step overhead
   ``(t100 - t5) / 95`` and the fixed cost of a respond;
3. does the same in process (``session.respond`` with ``Options(sync=True, yes=True)``), which
   leaves out interpreter start-up, and again with ``sync=False`` to separate fsync from CPU;
4. measures the floor the disk sets: 1000 appends of a journal-sized line, each with fdatasync
   (a step writes two events, ``step.started`` and ``step.succeeded``, so two of those);
5. when ``chaostoolkit`` can be installed into a separate temporary venv with the machine's pip,
   times ``chaos run`` of equivalent experiments (5 and 100 Python probes that sleep 0 s).
   Its version check, its only network call, is turned off with ``--no-version-check``.

This script reports; it does not assert. It exits 0 unless a command itself fails.

    .venv/bin/python benchmarks/respond_overhead.py [--reps 11] [--no-chaos] [--chaos-venv DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SMALL, LARGE = 5, 100
FSYNC_LINES = 1000
PROBE_MODULE = "irt_bench_probe"


# -- helpers ---------------------------------------------------------------------------------------
def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def per_step_ms(small: list[float], large: list[float],
                pick: Callable[[list[float]], float] = statistics.median) -> float:
    """``(t100 - t5) / 95`` in ms, from the medians (or from ``pick``: ``min`` resists a busy machine)."""
    return (pick(large) - pick(small)) / (LARGE - SMALL) * 1000


def load_note() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def timed(cmd: list[str], *, cwd: Path, env: dict[str, str], check: Callable[[], None] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace")[-2000:])
        raise SystemExit(f"respond_overhead: {' '.join(cmd)} exited {proc.returncode}")
    if check:
        check()
    return elapsed


def filesystem_of(path: Path) -> str:
    """``device (type)`` of the mount holding ``path``, from /proc/mounts when it is there."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown filesystem"
    real = str(path.resolve())
    best = ("", "?", "?")
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3:
            point = parts[1]
            inside = real == point or real.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best[0]):
                best = (point, parts[0], parts[2])
    return f"{best[1]} ({best[2]}, mounted on {best[0]})"


def write_runbook(folder: Path, steps: int) -> Path:
    lines = ["apiVersion: irt/v1", "kind: Runbook", f"name: bench-{steps}-steps",
             "description: flow.wait of 0s, to measure the engine's own cost per step", "steps:"]
    lines += [f"  - {{id: wait-{n:03d}, action: flow.wait, with: {{duration: 0s}}}}" for n in range(1, steps + 1)]
    path = folder / f"bench-{steps}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("IRT_CONFIG", "IRT_HOME", "IRT_DEBUG", "PYTHONPROFILEIMPORTTIME"):
        env.pop(name, None)
    return env


# -- 2. the CLI --------------------------------------------------------------------------------------
def bench_cli(irt: Path, tmp: Path, books: dict[int, Path], reps: int) -> dict[str, list[float]]:
    env = clean_env()
    incidents = tmp / "incidents-cli"

    def respond(steps: int) -> list[str]:
        return [str(irt), "respond", str(books[steps]), "--yes", "--incident-dir", str(incidents)]

    def closed_ok() -> None:
        newest = max(incidents.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        last = (newest / "journal.jsonl").read_text(encoding="utf-8").splitlines()[-1]
        if json.loads(last).get("outcome") != "succeeded":
            raise SystemExit(f"respond_overhead: incident {newest.name} did not succeed: {last}")

    commands: dict[str, tuple[list[str], Callable[[], None] | None]] = {
        "irt --version": ([str(irt), "--version"], None),
        f"irt respond ({SMALL} steps)": (respond(SMALL), closed_ok),
        f"irt respond ({LARGE} steps)": (respond(LARGE), closed_ok),
    }
    for cmd, check in commands.values():  # warm-up: page cache, __pycache__
        timed(cmd, cwd=tmp, env=env, check=check)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, (cmd, check) in commands.items():
            samples[name].append(timed(cmd, cwd=tmp, env=env, check=check))
    return samples


# -- 3. in process -----------------------------------------------------------------------------------
@dataclass
class InProcess:
    import_s: float
    first_s: float
    respond: dict[tuple[int, bool], list[float]]  # (steps, sync) -> seconds
    parse: dict[int, list[float]]  # steps -> seconds to read, parse and validate the runbook


def bench_in_process(tmp: Path, books: dict[int, Path], reps: int) -> InProcess:
    start = time.perf_counter()
    from pyirt.engine import session
    from pyirt.engine.config import Config

    import_s = time.perf_counter() - start
    config = Config()

    def respond(steps: int, sync: bool) -> float:
        options = session.Options(incident_dir=str(tmp / f"incidents-inproc-{int(sync)}"), yes=True,
                                  interactive=False, sync=sync)
        begin = time.perf_counter()
        result = session.respond(books[steps], {}, config, options)
        elapsed = time.perf_counter() - begin
        if result.outcome != "succeeded":
            raise SystemExit(f"respond_overhead: in-process respond ended {result.outcome}")
        return elapsed

    first = respond(SMALL, True)  # pays the lazy imports (ruamel, jinja) and the entry-point scan
    runs: dict[tuple[int, bool], list[float]] = {(n, s): [] for n in (SMALL, LARGE) for s in (True, False)}
    for _ in range(reps):
        for steps, sync in runs:
            runs[(steps, sync)].append(respond(steps, sync))
    registry = session.load_registry(config)
    parse: dict[int, list[float]] = {SMALL: [], LARGE: []}
    for _ in range(reps):
        for steps in parse:
            begin = time.perf_counter()
            session.read_runbook(books[steps], registry)
            parse[steps].append(time.perf_counter() - begin)
    return InProcess(import_s, first, runs, parse)


# -- 4. the disk ---------------------------------------------------------------------------------------
def bench_fsync(tmp: Path) -> list[float]:
    line = json.dumps({"seq": 1, "ts": "2026-01-01T00:00:00.000000Z", "type": "step.started",
                       "step": "wait-001", "action": "flow.wait", "attempt": 1, "phase": "main",
                       "params": {"duration": "0s"}}, separators=(",", ":")).encode() + b"\n"
    path = tmp / "fsync-floor.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    times = []
    try:
        for _ in range(FSYNC_LINES):
            begin = time.perf_counter()
            os.write(fd, line)
            os.fdatasync(fd)
            times.append(time.perf_counter() - begin)
    finally:
        os.close(fd)
    return times


# -- 5. chaostoolkit ------------------------------------------------------------------------------------
def chaos_install(venv: Path, log: list[str]) -> Path | None:
    """The ``chaos`` script in ``venv``, installing it there when needed; None when that fails."""
    chaos = venv / "bin" / "chaos"
    if chaos.is_file():
        log.append(f"chaostoolkit: reusing {venv}")
        return chaos
    begin = time.perf_counter()
    try:
        if not (venv / "bin" / "python").is_file():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", "chaostoolkit"],
                              capture_output=True, timeout=300, check=False)
    except (subprocess.SubprocessError, OSError) as exc:
        log.append(f"chaostoolkit: could not be installed ({type(exc).__name__}: {exc}); comparison skipped")
        return None
    if proc.returncode != 0 or not chaos.is_file():
        errors = [ln for ln in proc.stderr.decode(errors="replace").splitlines() if "ERROR" in ln]
        reason = errors[-1] if errors else f"pip exited {proc.returncode}"
        log.append(f"chaostoolkit: could not be installed ({reason}); comparison skipped")
        return None
    version = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import importlib.metadata as m; print(m.version('chaostoolkit'), "
                              "m.version('chaostoolkit-lib'))"], capture_output=True, text=True, check=False)
    tool, lib = [*version.stdout.split(), "?", "?"][:2]
    log.append(f"chaostoolkit {tool} (chaostoolkit-lib {lib}) installed into {venv} "
               f"in {time.perf_counter() - begin:.1f} s (not counted)")
    return chaos


def write_experiment(folder: Path, probes: int) -> Path:
    method = [{"type": "probe", "name": f"wait-{n:03d}",
               "provider": {"type": "python", "module": PROBE_MODULE, "func": "wait", "arguments": {"seconds": 0}}}
              for n in range(1, probes + 1)]
    experiment = {"version": "1.0.0", "title": f"bench {probes} probes",
                  "description": "time.sleep(0) probes, to measure chaostoolkit's own cost per activity",
                  "method": method}
    path = folder / f"experiment-{probes}.json"
    path.write_text(json.dumps(experiment, indent=1), encoding="utf-8")
    return path


def bench_chaos(chaos: Path, tmp: Path, reps: int) -> dict[str, list[float]]:
    work = tmp / "chaos"
    work.mkdir(exist_ok=True)
    (work / f"{PROBE_MODULE}.py").write_text(
        "import time\n\n\ndef wait(seconds: float = 0.0) -> float:\n    time.sleep(seconds)\n    return seconds\n",
        encoding="utf-8")
    experiments = {n: write_experiment(work, n) for n in (SMALL, LARGE)}
    env = clean_env() | {"PYTHONPATH": str(work)}
    journal = work / "journal.json"
    base = [str(chaos), "--no-version-check", "--settings", str(work / "settings.yaml")]

    def completed() -> None:
        status = json.loads(journal.read_text(encoding="utf-8")).get("status")
        if status != "completed":
            raise SystemExit(f"respond_overhead: chaos run ended {status!r}; see {work}/chaostoolkit.log")

    commands: dict[str, tuple[list[str], Callable[[], None] | None]] = {
        "chaos --version": ([*base, "--version"], None),
        **{f"chaos run ({n} probes)": ([*base, "run", "--journal-path", str(journal), str(experiments[n])],
                                       completed) for n in (SMALL, LARGE)},
    }
    for cmd, check in commands.values():
        timed(cmd, cwd=work, env=env, check=check)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, (cmd, check) in commands.items():
            samples[name].append(timed(cmd, cwd=work, env=env, check=check))
    return samples


# -- the report ------------------------------------------------------------------------------------------
def table(samples: dict[str, list[float]]) -> None:
    print(f"  {'command':<28} {'median ms':>10} {'min ms':>9} {'max ms':>9}")
    for name, values in samples.items():
        print(f"  {name:<28} {median_ms(values):>10.1f} {min(values) * 1000:>9.1f} {max(values) * 1000:>9.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=11, help="timed runs of each command (default 11)")
    parser.add_argument("--goal-ms", type=float, default=2.0, help="per-step goal in ms (default 2)")
    parser.add_argument("--dir", help="parent folder for the temporary work folder (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--no-chaos", action="store_true", help="skip the chaostoolkit comparison")
    parser.add_argument("--chaos-venv", help="venv folder for chaostoolkit, reused when present and kept "
                        "(default: a fresh one inside the temporary folder)")
    args = parser.parse_args()
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    irt = Path(sys.executable).parent / "irt"
    if not irt.is_file():
        found = shutil.which("irt")
        if not found:
            print("respond_overhead: no irt script beside the interpreter nor on PATH", file=sys.stderr)
            return 2
        irt = Path(found)
    tmp = Path(tempfile.mkdtemp(prefix="irt-bench-", dir=args.dir))
    try:
        books = {n: write_runbook(tmp, n) for n in (SMALL, LARGE)}
        print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]}); irt: {irt}")
        print(f"work folder: {tmp} on {filesystem_of(tmp)}")
        print(f"{load_note()}; other work on the machine inflates and scatters these figures")
        print(f"runbooks: {SMALL} and {LARGE} steps of flow.wait {{duration: 0s}}; "
              f"median of {args.reps} interleaved runs after one warm-up")

        print("\n1. CLI, one process per run (output to /dev/null)")
        cli = bench_cli(irt, tmp, books, args.reps)
        table(cli)
        cli_small, cli_large = cli[f"irt respond ({SMALL} steps)"], cli[f"irt respond ({LARGE} steps)"]
        cli_step = per_step_ms(cli_small, cli_large)
        fixed = median_ms(cli_small) - SMALL * cli_step
        print(f"  per-step overhead (t{LARGE} - t{SMALL}) / {LARGE - SMALL}: {cli_step:.3f} ms from the medians "
              f"(goal < {args.goal_ms:g} ms): {'MET' if cli_step < args.goal_ms else 'MISSED'}; "
              f"{per_step_ms(cli_small, cli_large, min):.3f} ms from the minimums")
        print(f"  fixed cost of a respond: {fixed:.1f} ms, of which {median_ms(cli['irt --version']):.1f} ms "
              f"is irt --version start-up")

        print("\n2. In process: session.respond(...) with Options(yes=True), no observers")
        inproc = bench_in_process(tmp, books, args.reps)
        print(f"  import pyirt.engine.session: {inproc.import_s * 1000:.1f} ms; first respond ({SMALL} steps; "
              f"lazy imports, entry-point scan): {inproc.first_s * 1000:.1f} ms")
        print(f"  {'':<26} {f'{SMALL} steps ms':>12} {f'{LARGE} steps ms':>13} {'per step ms':>12}")
        rows = [("respond, sync=True", inproc.respond[(SMALL, True)], inproc.respond[(LARGE, True)]),
                ("respond, sync=False", inproc.respond[(SMALL, False)], inproc.respond[(LARGE, False)]),
                ("read + parse + validate", inproc.parse[SMALL], inproc.parse[LARGE])]
        for label, small, large in rows:
            print(f"  {label:<26} {median_ms(small):>12.2f} {median_ms(large):>13.2f} "
                  f"{per_step_ms(small, large):>12.3f}")
        sync_step = per_step_ms(inproc.respond[(SMALL, True)], inproc.respond[(LARGE, True)])
        cpu_step = per_step_ms(inproc.respond[(SMALL, False)], inproc.respond[(LARGE, False)])
        parse_step = per_step_ms(inproc.parse[SMALL], inproc.parse[LARGE])
        print(f"  a step costs {sync_step:.3f} ms: fsync {sync_step - cpu_step:.3f} ms, parsing its YAML "
              f"{parse_step:.3f} ms, running it (fold, render, thread, journal line) {cpu_step - parse_step:.3f} ms")

        print(f"\n3. Disk floor: {FSYNC_LINES} appends of one journal line, each followed by fdatasync")
        fsync = bench_fsync(tmp)
        print(f"  per fdatasync: median {median_ms(fsync):.3f} ms, p90 "
              f"{statistics.quantiles(fsync, n=10, method='inclusive')[8] * 1000:.3f} ms, "
              f"mean {statistics.fmean(fsync) * 1000:.3f} ms")
        print(f"  a step journals 2 events (step.started, step.succeeded): floor {2 * median_ms(fsync):.3f} ms "
              f"per step; the engine measured {sync_step:.3f} ms in process, {cli_step:.3f} ms via the CLI")

        print("\n4. chaostoolkit: chaos run of the same work as Python probes (time.sleep(0))")
        if args.no_chaos:
            print("  skipped (--no-chaos)")
        else:
            log: list[str] = []
            venv = Path(args.chaos_venv) if args.chaos_venv else tmp / "chaos-venv"
            chaos = chaos_install(venv, log)
            for line in log:
                print(f"  {line}")
            if chaos is not None:
                chaos_samples = bench_chaos(chaos, tmp, args.reps)
                table(chaos_samples)
                probes5 = chaos_samples[f"chaos run ({SMALL} probes)"]
                probes100 = chaos_samples[f"chaos run ({LARGE} probes)"]
                chaos_step = per_step_ms(probes5, probes100)
                chaos_min = per_step_ms(probes5, probes100, min)
                print(f"  per-probe overhead: {chaos_step:.3f} ms from the medians, {chaos_min:.3f} ms from the "
                      "minimums (its journal is written once, at the end, without fsync)")
                irt5, chaos5 = median_ms(cli_small), median_ms(probes5)
                print(f"  irt respond ({SMALL} steps) / chaos run ({SMALL} probes): {irt5:.1f} / {chaos5:.1f} ms "
                      f"= {irt5 / chaos5:.2f}x; per step {cli_step:.3f} vs {chaos_step:.3f} ms per probe")
        print(f"\nat the end: {load_note()}")
        return 0
    finally:
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
