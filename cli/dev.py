"""`memanto dev` (what `make run` runs): the whole service on local defaults.

Generates local secrets into an env file once and keeps them between runs, starts the
embedded Redis, then every Procfile process under honcho. Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import redis

from memanto_redis.cli import processes

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


def run(env_file: str) -> None:
    path = Path(env_file)
    env = {**ensure_env_file(path), **os.environ}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    port = redis.connection.parse_url(env["REDIS_URL"]).get("port", 6379)
    # Redis runs in its own session so that Ctrl-C reaches the Procfile processes first;
    # it is stopped last, once they have finished with it.
    try:
        redis_proc = processes.start_redis(port, ".data/redis", env=env, output=None,
                                           new_session=True, interval=0.2)
    except (TimeoutError, RuntimeError) as exc:
        raise SystemExit(f"embedded Redis did not start on {env['REDIS_URL']}: {exc}") from None
    try:
        print(f"\nMEMANTO API:  http://{env['HOST']}:{env['PORT']}\n"
              f"Admin API key: {env['MEMANTO_API_KEY']}   (kept in {path})\n"
              f"Redis:        {env['REDIS_URL']} (data in .data/redis)\n", flush=True)
        honcho = subprocess.Popen([str(Path(bin_dir) / "honcho"), "start", "-f", "Procfile",
                                   "-e", str(path)], env=env)
        # honcho receives the terminal's Ctrl-C itself and stops its processes gracefully.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        honcho.wait()
    finally:
        processes.stop(redis_proc, timeout=30)
