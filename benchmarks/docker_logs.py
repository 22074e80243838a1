"""``docker.logs`` against ``docker logs``, and 20 containers against one, on the real Docker engine.

Goals (from the issue): saving a ~180 MB log with ``irt respond`` is at least as fast as
``docker logs NAME > file`` (>= 1.0x) without redaction and >= 0.7x with it, in at most 50 MB of
peak RSS; a runbook that collects logs and stats of 20 containers (one step each, ``containers:``
list) takes at most 1.5x the time of the same runbook on one container.

In one run this script:
1. makes the test image (static busybox, ``docker import``) if missing, and a container that writes
   2.6 M lines of 70 characters (~185 MB) with ``yes LINE | head -n 2600000``; waits until the
   engine's log file stops growing;
2. times, 3 rounds interleaved after a warm-up: ``docker logs NAME > file`` (the CLI);
   ``irt respond`` of a ``docker.logs`` step with ``timestamps: false`` (same bytes as the CLI)
   and ``redact: false``; the same with redaction on; with ``--timestamps`` also ``docker logs -t``
   against the default step (timestamps on, redaction on). Each run's peak RSS is the child's
   ``ru_maxrss`` (from ``wait4``). Prints medians and the speed ratios (CLI time / irt time);
3. starts 20 small containers (2000 log lines each, 32 MB memory limit) and times ``irt respond``
   of a runbook with a ``docker.logs`` and a ``docker.stats`` step over all 20, against the same
   runbook over one of them (3 rounds, interleaved), by wall time and by the steps' own durations;
4. removes every container it made (label ``irt-bench``), also on failure.

The engine's side dominates: it decodes its json-file log for both the CLI and irt, at about
10-15 MB/s on a 2-CPU machine, so the comparison is only fair on a quiet machine (the load average
is printed before and after). It reports, it does not assert: exit 0 unless a command itself
fails. Total run about 3 minutes on 2 CPUs (4 with ``--timestamps``).

    .venv/bin/python benchmarks/docker_logs.py [--rounds 3] [--lines 2600000] [--timestamps] [--keep-dir]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

IMAGE = "irt-test/busybox:latest"
APPLETS = ("sh", "echo", "seq", "yes", "head", "sleep", "cat", "printf", "true", "wc", "ls")
APPLETS_LABEL = "irt-test.applets"
LINE = "INFO GET /screenshot?url=https://example.com/a status=200 bytes=18342 ok"[:70].ljust(70, ".")
BENCH_LABEL = "irt-bench"
IDLE = 'trap "exit 0" TERM INT; while :; do sleep 1 & wait $!; done'
MANY = 20


def load_note() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def irt_command() -> list[str]:
    script = Path(sys.executable).with_name("irt")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from pyirt.cli import main; main()"]


# -- the engine and the image ----------------------------------------------------------------------
def connect() -> Any:
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://"):
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(5)
            try:
                probe.connect(host[len("unix://"):])
            except OSError as exc:
                raise SystemExit(f"docker_logs: no Docker engine at {host} ({exc}); run scripts/engines up") from None
    return docker.DockerClient(base_url=host, timeout=120, version="auto")


def ensure_image(client: Any) -> None:
    """The same image tests/docker builds: /bin/busybox and applet links, with ``docker import``."""
    try:
        if (client.images.get(IMAGE).labels or {}).get(APPLETS_LABEL) == ",".join(APPLETS):
            return
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="irt-image-") as tmp:
        root = Path(tmp)
        (root / "bin").mkdir()
        (root / "tmp").mkdir()
        shutil.copy2("/bin/busybox", root / "bin" / "busybox")
        for applet in APPLETS:
            (root / "bin" / applet).symlink_to("busybox")
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            for path in sorted(root.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    repository, _, tag = IMAGE.rpartition(":")
    client.api.import_image_from_data(data.getvalue(), repository=repository, tag=tag,
                                      changes=[f'LABEL {APPLETS_LABEL}="{",".join(APPLETS)}"', 'ENV PATH="/bin"'])


def start(client: Any, run_id: str, script: str, name: str, **extra: Any) -> Any:
    return client.containers.run(IMAGE, ["sh", "-c", script], name=name, detach=True, network_mode="none",
                                 labels={BENCH_LABEL: run_id}, **extra)


def wait_log_settled(client: Any, container: Any, timeout: float = 180) -> int:
    """Wait for the container to exit and its log (as the engine reports it) to stop growing."""
    container.wait(timeout=timeout)
    container.reload()
    log_path = Path(container.attrs.get("LogPath") or "")
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            size = log_path.stat().st_size
        except OSError:  # not readable here (no root): trust the exit, then a last line check
            tail = container.logs(tail=1).decode()
            size = len(tail)
            if tail.strip() == LINE:
                return -1
        if size != last:
            last, stable_since = size, time.monotonic()
        elif time.monotonic() - stable_since >= 1.0:
            return size
        time.sleep(0.2)
    raise SystemExit("docker_logs: the container's log kept growing")


# -- timing one command ------------------------------------------------------------------------------
@dataclass
class Sample:
    seconds: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_mb(self) -> float:
        return max(self.rss_kb) / 1024


def timed(cmd: list[str], stdout: Path | None, cwd: Path) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of ``cmd``, its stdout to ``stdout`` (or discarded)."""
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    err = tempfile.TemporaryFile()  # noqa: SIM115 (read on failure, closed below)
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]
    if proc.returncode != 0:
        err.seek(0)
        sys.stderr.write(err.read().decode(errors="replace")[-2000:])
        raise SystemExit(f"docker_logs: {' '.join(cmd)} exited {proc.returncode}")
    err.close()
    return elapsed, int(usage.ru_maxrss)


def write_runbook(folder: Path, name: str, steps: list[dict[str, Any]]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps({"apiVersion": "irt/v1", "kind": "Runbook", "name": name, "steps": steps}))
    return path


def respond(book: Path, work: Path) -> tuple[float, int, Path]:
    incidents = work / "incidents"
    shutil.rmtree(incidents, ignore_errors=True)
    seconds, rss = timed([*irt_command(), "respond", str(book), "--yes", "--json", "--incident-dir",
                          str(incidents)], None, work)
    folders = [p for p in incidents.iterdir() if (p / "journal.jsonl").is_file()]
    return seconds, rss, folders[0]


def step_output(folder: Path, step: str) -> dict[str, Any]:
    for line in (folder / "journal.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "step.succeeded" and event.get("step") == step:
            return dict(event["output"])
        if event["type"] == "step.failed" and event.get("step") == step:
            raise SystemExit(f"docker_logs: step {step} failed: {event.get('error')}")
    raise SystemExit(f"docker_logs: step {step} did not finish")


def step_seconds(folder: Path) -> float:
    total = 0.0
    for line in (folder / "journal.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "step.succeeded":
            total += float(event.get("duration") or 0)
    return total


# -- the two experiments ---------------------------------------------------------------------------
def big_log(client: Any, run_id: str, work: Path, lines: int, rounds: int, with_timestamps: bool) -> None:
    name = f"irt-bench-biglog-{run_id}"
    print(f"writing {lines:,} lines of {len(LINE)} characters into the log of {name} ...", flush=True)
    started = time.monotonic()
    container = start(client, run_id, f'yes "{LINE}" | head -n {lines}', name)
    size = wait_log_settled(client, container)
    expected = lines * (len(LINE) + 1)
    print(f"  done in {time.monotonic() - started:.1f} s; {expected / 1e6:.0f} MB of log lines"
          + (f", {size / 1e6:.0f} MB in the engine's json-file" if size > 0 else ""))

    plain = {"container": name, "timestamps": False}
    books = {
        "irt, no redaction": write_runbook(work, "raw", [{"id": "logs", "action": "docker.logs",
                                                          "with": {**plain, "redact": False}}]),
        "irt, redaction on": write_runbook(work, "scrubbed", [{"id": "logs", "action": "docker.logs",
                                                               "with": plain}]),
        "irt, timestamps + redaction (default)": write_runbook(work, "default", [
            {"id": "logs", "action": "docker.logs", "with": {"container": name}}]),
    }
    cli = "docker logs NAME > file"
    cli_ts = "docker logs -t NAME > file"
    labels = [cli, *list(books)[:2]] + ([cli_ts, list(books)[2]] if with_timestamps else [])
    samples: dict[str, Sample] = {k: Sample() for k in labels}
    sink = work / "cli.log"

    def once(label: str) -> None:
        if label in (cli, cli_ts):
            args = ["docker", "logs", *(["-t"] if label == cli_ts else []), name]
            seconds, rss = timed(args, sink, work)
            if label == cli and sink.stat().st_size != expected:
                raise SystemExit(f"docker_logs: docker logs wrote {sink.stat().st_size} bytes, not {expected}")
            sink.unlink()
        else:
            seconds, rss, folder = respond(books[label], work)
            out = step_output(folder, "logs")
            if out["lines"] != lines:
                raise SystemExit(f"docker_logs: {label}: {out['lines']} lines, not {lines}")
            if "timestamps" not in label and out["bytes"] != expected:
                raise SystemExit(f"docker_logs: {label}: {out['bytes']} bytes, not {expected}")
            shutil.rmtree(folder)
        samples[label].seconds.append(seconds)
        samples[label].rss_kb.append(rss)

    print("warm-up ...", flush=True)
    once(cli)
    samples[cli].seconds.clear()
    samples[cli].rss_kb.clear()
    for round_no in range(rounds):
        order = list(samples) if round_no % 2 == 0 else list(reversed(samples))
        for label in order:
            once(label)
        print(f"  round {round_no + 1}/{rounds} done ({load_note()})", flush=True)

    print(f"\n{'':42} {'median s':>9} {'MB/s':>7} {'peak RSS':>9}  {'speed vs CLI':>12}")
    for label, sample in samples.items():
        reference = samples[cli_ts if "timestamps" in label else cli].median
        ratio = "" if label in (cli, cli_ts) else f"{reference / sample.median:.2f}x"
        print(f"{label:42} {sample.median:9.2f} {expected / 1e6 / sample.median:7.0f} "
              f"{sample.peak_mb:7.1f}MB  {ratio:>12}")
    raw, scrubbed = samples["irt, no redaction"], samples["irt, redaction on"]
    worst_rss = max(s.peak_mb for label, s in samples.items() if label.startswith("irt"))
    print("\ngoals:")
    print(f"  no redaction   >= 1.0x the CLI: {samples[cli].median / raw.median:.2f}x "
          f"{'met' if samples[cli].median / raw.median >= 1.0 else 'MISSED'}")
    print(f"  with redaction >= 0.7x the CLI: {samples[cli].median / scrubbed.median:.2f}x "
          f"{'met' if samples[cli].median / scrubbed.median >= 0.7 else 'MISSED'}")
    print(f"  peak RSS of irt <= 50 MB:       {worst_rss:.1f} MB {'met' if worst_rss <= 50 else 'MISSED'}")
    container.remove(force=True)


def many_containers(client: Any, run_id: str, work: Path, rounds: int) -> None:
    print(f"\nstarting {MANY} containers (2000 log lines each, 32 MB memory limit) ...", flush=True)
    names = [f"irt-bench-many-{run_id}-{i:02d}" for i in range(MANY)]
    script = f'for i in $(seq 1 2000); do echo "{LINE} $i"; done; {IDLE}'
    for name in names:
        start(client, run_id, script, name, mem_limit="32m")
    deadline = time.monotonic() + 60
    for name in names:  # every one has written its lines
        while not client.containers.get(name).logs(tail=1).decode().endswith(" 2000\n"):
            if time.monotonic() > deadline:
                raise SystemExit(f"docker_logs: {name} did not write its log lines")
            time.sleep(0.1)

    def book(label: str, targets: list[str]) -> Path:
        return write_runbook(work, label, [
            {"id": "logs", "action": "docker.logs", "with": {"containers": targets}},
            {"id": "stats", "action": "docker.stats", "with": {"containers": targets}},
        ])

    books = {"1 container": book("one", names[:1]), f"{MANY} containers": book("many", names)}
    wall: dict[str, list[float]] = {k: [] for k in books}
    steps: dict[str, list[float]] = {k: [] for k in books}
    for label in books:  # warm-up
        respond(books[label], work)
    for round_no in range(rounds):
        order = list(books) if round_no % 2 == 0 else list(reversed(books))
        for label in order:
            seconds, _, folder = respond(books[label], work)
            count = len(step_output(folder, "logs").get("containers") or {})
            if count != len(names if label != "1 container" else names[:1]):
                raise SystemExit(f"docker_logs: {label}: logs of {count} containers")
            wall[label].append(seconds)
            steps[label].append(step_seconds(folder))
    one, many = (statistics.median(wall[k]) for k in books)
    one_steps, many_steps = (statistics.median(steps[k]) for k in books)
    print(f"{'':16} {'respond s':>10} {'steps s':>9}")
    for label in books:
        print(f"{label:16} {statistics.median(wall[label]):10.3f} {statistics.median(steps[label]):9.3f}")
    print(f"\ngoal: {MANY} containers <= 1.5x the time of one: {many / one:.2f}x by respond wall time "
          f"({'met' if many / one <= 1.5 else 'MISSED'}); {many_steps / one_steps:.2f}x by the steps' own time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lines", type=int, default=2_600_000)
    parser.add_argument("--timestamps", action="store_true", help="also compare with timestamps on (docker logs -t)")
    parser.add_argument("--keep-dir", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    began = time.monotonic()
    client = connect()
    run_id = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="irt-bench-docker-"))
    version = client.version()
    print(f"docker engine {version.get('Version')} (API {version.get('ApiVersion')}), "
          f"python {sys.version.split()[0]}, {load_note()}")
    print(f"working in {work}")
    try:
        ensure_image(client)
        big_log(client, run_id, work, args.lines, args.rounds, args.timestamps)
        many_containers(client, run_id, work, args.rounds)
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{BENCH_LABEL}={run_id}"}):
            container.remove(force=True)
        client.close()
        if not args.keep_dir:
            shutil.rmtree(work, ignore_errors=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\ntotal {time.monotonic() - began:.0f} s; children's CPU {children.ru_utime + children.ru_stime:.0f} s; "
          f"{load_note()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
