"""The `memanto` command line."""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memanto", description="MEMANTO memory service")
    commands = parser.add_subparsers(dest="command", required=True)

    server = commands.add_parser("redis-server", help="run the embedded Redis in the foreground")
    server.add_argument("--port", type=int, default=6379)
    server.add_argument("--data-dir", default=".data/redis")
    server.add_argument("--bind", default="127.0.0.1")

    dev = commands.add_parser("dev", help="run Redis and every Procfile process locally")
    dev.add_argument("--env-file", default=".env")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "redis-server":
        from cli.redis_server import run

        run(args.port, args.data_dir, args.bind)
    elif args.command == "dev":
        from cli.dev import run as run_dev

        run_dev(args.env_file)


if __name__ == "__main__":
    main()
