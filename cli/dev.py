"""`memanto dev` (what `make run` runs): the whole service on local defaults.

Generates local secrets into an env file once and keeps them between runs, then starts
the embedded Redis (data in .data/redis) and every Procfile process under the supervisor
of cli/supervisor.py, which restarts any of them that exits. Ctrl-C stops the processes,
then Redis.

Local secrets: the env file is private to its owner from its first byte (mode 600, and
tightened if found looser); the embedded Redis requires a generated password, carried in
the file's REDIS_URL (a URL written before passwords were added gets one); the admin key
is printed when it is generated, not on every start.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from memanto_redis.cli import processes
from memanto_redis.cli.redis_server import PASSWORD_VARIABLE
from memanto_redis.cli.supervisor import Program, Supervisor, read_procfile

LOCAL_DEFAULTS = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PORT": "8000",
    "HOST": "127.0.0.1",
}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class EnvFile:
    values: dict[str, str]
    generated: frozenset[str]  # the variables this run generated (or gave a password)


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.strip().startswith("#"):
                values[name.strip()] = value.strip()
    return values


def with_password(url: str) -> str:
    """A local Redis URL with a generated password, if it names none yet; any other URL
    (a Redis elsewhere, or one with a password) as it is."""
    parts = urlsplit(url)
    if parts.password or parts.username or parts.hostname not in LOCAL_HOSTS:
        return url
    password = secrets.token_urlsafe(32)
    return urlunsplit(parts._replace(netloc=f":{password}@{parts.netloc}"))


def ensure_env_file(path: Path) -> EnvFile:
    """Fill in what is missing (never overwriting a secret), so secrets survive restarts."""
    if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)  # before reading: secrets found world-readable stop being so
    values = read_env_file(path)
    wanted = dict(LOCAL_DEFAULTS)
    wanted["REDIS_URL"] = with_password(wanted["REDIS_URL"])
    wanted["MEMANTO_API_KEY"] = "mk_" + secrets.token_urlsafe(32)
    wanted["MEMANTO_JWT_SECRET"] = secrets.token_urlsafe(48)
    added = {k: v for k, v in wanted.items() if k not in values and k not in os.environ}
    changed = {}
    if "REDIS_URL" in values and "REDIS_URL" not in os.environ:
        url = with_password(values["REDIS_URL"])
        if url != values["REDIS_URL"]:
            changed["REDIS_URL"] = url
    if changed:
        _rewrite(path, changed)
    if added:
        # O_CREAT with mode 600: private from its first byte, never readable by others
        # between its creation and a chmod.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            for name, value in added.items():
                handle.write(f"{name}={value}\n")
    return EnvFile({**values, **changed, **added}, frozenset(added) | frozenset(changed))


def _rewrite(path: Path, changes: dict[str, str]) -> None:
    """The file with these variables' lines replaced, written whole and private, then
    moved over the old one."""
    lines = []
    for line in path.read_text().splitlines():
        name = line.partition("=")[0].strip()
        lines.append(f"{name}={changes[name]}" if name in changes else line)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(partial, path)


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def banner(env: dict[str, str], path: Path, generated: frozenset[str], data_dir: str) -> str:
    """What a start prints: the admin key only on the start that generated it (a terminal's
    scrollback and a shared screen keep what is printed)."""
    if "MEMANTO_API_KEY" in generated:
        key = f"{env['MEMANTO_API_KEY']}   (new; kept in {path})"
    else:
        key = f"MEMANTO_API_KEY in {path}" if "MEMANTO_API_KEY" not in os.environ else (
            "MEMANTO_API_KEY from the environment")
    return (f"\nMEMANTO API:  http://{env['HOST']}:{env['PORT']}\n"
            f"Admin API key: {key}\n"
            f"Redis:        {hide_password(env['REDIS_URL'])} (data in {data_dir})\n")


def run(env_file: str, procfile: str = "Procfile", data_dir: str = ".data/redis") -> None:
    path = Path(env_file)
    local = ensure_env_file(path)
    env = {**local.values, **os.environ}
    # For a human at a terminal: plain log lines unless asked otherwise (production: JSON).
    env.setdefault("LOG_FORMAT", "text")
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    options = redis.connection.parse_url(env["REDIS_URL"])
    port = int(options.get("port", 6379))
    password = options.get("password") or None
    if password:
        env[PASSWORD_VARIABLE] = password  # the embedded Redis requires it
    try:
        programs = read_procfile(Path(procfile), env)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"memanto dev: {exc}") from None
    embedded = Program("redis", processes.redis_command(port, data_dir), tier=0,
                       ready=lambda: processes.redis_answers(port, password), grace=30)
    supervisor = Supervisor([embedded, *programs], env)
    supervisor.install_signal_handlers()
    try:
        supervisor.start()
    except (TimeoutError, RuntimeError) as exc:
        supervisor.stop()
        raise SystemExit(f"embedded Redis did not start on {hide_password(env['REDIS_URL'])}:"
                         f" {exc}") from None
    except KeyboardInterrupt:
        supervisor.stop()
        raise SystemExit(130) from None
    print(banner(env, path, local.generated, data_dir), flush=True)
    raise SystemExit(supervisor.run())
