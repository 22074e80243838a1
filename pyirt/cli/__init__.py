"""The ``irt`` command. This module is the one error boundary: every :class:`IrtError` becomes one
line on stderr and its exit code; anything else is a bug (exit 70, traceback with ``--debug``).

Start-up stays fast: command bodies import the engine, and adapters import their SDKs, only when run.
"""

from __future__ import annotations

import os
import sys
import traceback

from pyirt.errors import EXIT_INTERNAL, EXIT_INVALID, EXIT_STOPPED, IrtError, Stopped, ValidationFailed


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("IRT_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    import typer

    from pyirt.cli.app import app

    try:
        result = app(args=args, prog_name="irt", standalone_mode=False)
    except ValidationFailed as exc:
        for problem in exc.problems:
            print(f"irt: error: {problem}", file=sys.stderr)
        return exc.exit_code
    except IrtError as exc:
        if debug:
            traceback.print_exc()
        label = "stopped" if isinstance(exc, Stopped) else "error"
        print(f"irt: {label}: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.Abort:
        print("irt: aborted", file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        print("irt: interrupted", file=sys.stderr)
        return EXIT_STOPPED
    except Exception as exc:
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):  # a usage error from the argument parser
            # One line, like every other error: the parser's own output is usage, a hint and a box.
            ctx = getattr(exc, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            format_message = getattr(exc, "format_message", None)
            message = format_message() if callable(format_message) else str(exc)
            print(f"irt: error: {message}{hint}", file=sys.stderr)
            return code if code else EXIT_INVALID
        if debug:
            traceback.print_exc()
        print(f"irt: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0
