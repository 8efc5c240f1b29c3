"""`memanto dev` (what `make run` runs): the whole service on local defaults.

Generates local secrets into an env file once and keeps them between runs, then starts
the embedded Redis (data in .data/redis) and every Procfile process under the supervisor
of cli/supervisor.py, which restarts any of them that exits. Ctrl-C stops the processes,
then Redis.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import redis

from memanto_redis.cli import processes
from memanto_redis.cli.supervisor import Program, Supervisor, read_procfile

LOCAL_DEFAULTS = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PORT": "8000",
    "HOST": "127.0.0.1",
}


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.strip().startswith("#"):
                values[name.strip()] = value.strip()
    return values


def ensure_env_file(path: Path) -> dict[str, str]:
    """Fill in what is missing (never overwriting), so secrets survive restarts."""
    values = read_env_file(path)
    wanted = dict(LOCAL_DEFAULTS)
    wanted["MEMANTO_API_KEY"] = "mk_" + secrets.token_urlsafe(32)
    wanted["MEMANTO_JWT_SECRET"] = secrets.token_urlsafe(48)
    added = {k: v for k, v in wanted.items() if k not in values and k not in os.environ}
    if added:
        with path.open("a") as handle:
            for name, value in added.items():
                handle.write(f"{name}={value}\n")
        path.chmod(0o600)
    return {**values, **added}


def run(env_file: str, procfile: str = "Procfile", data_dir: str = ".data/redis") -> None:
    path = Path(env_file)
    env = {**ensure_env_file(path), **os.environ}
    # For a human at a terminal: plain log lines unless asked otherwise (production: JSON).
    env.setdefault("LOG_FORMAT", "text")
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    port = int(redis.connection.parse_url(env["REDIS_URL"]).get("port", 6379))
    try:
        programs = read_procfile(Path(procfile), env)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"memanto dev: {exc}") from None
    embedded = Program("redis", processes.redis_command(port, data_dir), tier=0,
                       ready=lambda: processes.redis_answers(port), grace=30)
    supervisor = Supervisor([embedded, *programs], env)
    supervisor.install_signal_handlers()
    try:
        supervisor.start()
    except (TimeoutError, RuntimeError) as exc:
        supervisor.stop()
        raise SystemExit(f"embedded Redis did not start on {env['REDIS_URL']}: {exc}") from None
    except KeyboardInterrupt:
        supervisor.stop()
        raise SystemExit(130) from None
    print(f"\nMEMANTO API:  http://{env['HOST']}:{env['PORT']}\n"
          f"Admin API key: {env['MEMANTO_API_KEY']}   (kept in {path})\n"
          f"Redis:        {env['REDIS_URL']} (data in {data_dir})\n", flush=True)
    raise SystemExit(supervisor.run())
