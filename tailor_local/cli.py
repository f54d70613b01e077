"""``tailor``: the command line of the embedded local service."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from tailor_local.server import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STATE_DIR, LocalService


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tailor", description="Tailor: the Amazon Personalize API, self-hosted."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the embedded local service (Personalize API, S3, IAM, Kinesis, DynamoDB...) on one port",
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to bind, 0 for any free one (default {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help=f"models and job logs go here (default {DEFAULT_STATE_DIR})",
    )
    serve.add_argument("--log-level", default="WARNING", help="logging level on stderr (default WARNING)")
    return parser


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        # A second signal while shutting down takes the default, immediate route.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    service = LocalService(host=args.host, port=args.port, state_dir=args.state_dir)
    try:
        url = service.start()
    except OSError as exc:
        print(f"tailor: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"Tailor ready at {url}", flush=True)
    try:
        # Short waits keep the main thread where signal handlers can run.
        while not stop.wait(0.5):
            pass
    finally:
        service.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
