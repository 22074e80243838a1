"""``irt sim``: serve a simulator in the foreground until Ctrl-C (or SIGTERM).

``irt sim cloudrun --world FILE [--port 8085] [--host 127.0.0.1]`` serves the Cloud Run Admin API
v2 for the ``cloudrun:`` section of a World file; point ``providers.cloudrun`` at it.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from pyirt.errors import EXIT_OK, InvalidInput


def cloudrun(world: str, port: int, host: str, quiet: bool) -> int:
    from pyirt.sim.cloudrun import CloudRunSimulator

    try:
        sim = CloudRunSimulator.from_file(world, host=host, port=port,
                                          log=None if quiet else lambda line: print(line, file=sys.stderr))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    try:
        sim.start()
    except OSError as exc:
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    services = ", ".join("/".join(key) for key in sim.world.service_keys()) or "none"
    print(f"Cloud Run simulator on {sim.url} (services: {services}); Ctrl-C stops it", file=sys.stderr)
    print(f"irt.yaml:  providers: {{cloudrun: {{endpoint: {sim.url}, credentials: anonymous}}}}", file=sys.stderr)
    try:
        serve_until_stopped()
    finally:
        sim.stop()
    print("Cloud Run simulator stopped", file=sys.stderr)
    return EXIT_OK


def serve_until_stopped() -> None:
    """Block until Ctrl-C or SIGTERM (every ``irt sim`` command serves this way)."""
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
