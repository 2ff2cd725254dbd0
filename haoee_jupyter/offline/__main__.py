"""Command line: ``python -m haoee_jupyter.offline --port PORT [--latency-ms N] [--video-ms N] [--host ADDR]``.

Prints one line with the base URL, then serves until Ctrl-C or SIGTERM.

    $ python -m haoee_jupyter.offline --port 0
    Haoee offline demo server on http://127.0.0.1:54321/v1 (no key needed; Ctrl-C stops)
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from ._server import OfflineServer, is_loopback

DEFAULT_PORT = 8765


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m haoee_jupyter.offline",
        description=(
            "Serve the Haoee API offline with demo answers: /v1/responses, /v1/chat/completions, "
            "/v1/images/generations, /v1/images/edits, /v1/videos and /v1/models."
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        help="milliseconds between streamed tokens (default 20)",
    )
    parser.add_argument(
        "--video-ms",
        type=float,
        default=None,
        help="milliseconds a video job takes from queued to completed (default 100 x --latency-ms)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="loopback address to listen on: 127.0.0.1 (default), ::1 or localhost",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host must be a loopback address (127.0.0.1, ::1, localhost), not {args.host!r}")
    try:
        server = OfflineServer(port=args.port, latency_ms=args.latency_ms, host=args.host, video_ms=args.video_ms)
        server.start()
    except ValueError as exc:
        parser.error(str(exc))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"Cannot listen on {args.host}:{args.port}: {reason}. Try --port 0.", file=sys.stderr)
        return 1

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, request_stop)
    print(f"Haoee offline demo server on {server.url} (no key needed; Ctrl-C stops)", flush=True)
    try:
        # A timed wait lets the signal handlers run promptly on every platform.
        while not stopping.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
