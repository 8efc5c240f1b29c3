"""The load generator, a separate process: wrk (Debian's package), or bench.loadgen."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str


def ensure_wrk() -> str | None:
    """wrk from PATH, or from Debian's package when running as root; None if neither."""
    path = shutil.which("wrk")
    if path or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    print("wrk is not installed; trying `apt-get install -y wrk` ...", flush=True)
    for command in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "wrk"]):
        try:
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=300, check=False,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        except (OSError, subprocess.TimeoutExpired):
            break
        path = shutil.which("wrk")
        if path:
            return path
    return None


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _wrk_ms(text: str, pattern: str) -> float:
    found = re.search(pattern + r"\s+([\d.]+)(us|ms|s|m|h)\b", text, re.MULTILINE)
    if not found:
        raise ValueError(f"wrk output lacks {pattern!r}:\n{text}")
    return float(found.group(1)) * _UNIT_MS[found.group(2)]


def parse_wrk(text: str) -> LoadResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
    if not rps or not total:
        raise ValueError(f"unexpected wrk output:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.+)", text)
    return LoadResult(
        tool="wrk",
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _UNIT_MS[total.group(3)] / 1000,
        rps=float(rps.group(1)),
        p50_ms=_wrk_ms(text, r"^\s+50%"),
        p99_ms=_wrk_ms(text, r"^\s+99%"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else "none",
    )


def wrk_script(path: Path, body: str, headers: dict[str, str]) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_load(tmp: Path, generator: str, url: str, body: str, headers: dict[str, str],
             seconds: int, connections: int, threads: int) -> LoadResult:
    """One closed-loop load run from a separate process."""
    if generator != "python":
        script = wrk_script(tmp / "post.lua", body, headers)
        command = [generator, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                   "--timeout", "5s", "--latency", "-s", str(script), url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                              check=True)
        return parse_wrk(done.stdout)
    body_file = tmp / "body.json"
    body_file.write_text(body)
    command = [sys.executable, "-m", "bench.loadgen", "--url", url, "--body-file",
               str(body_file), "--connections", str(connections), "--duration", str(seconds)]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                          check=True, cwd=ROOT)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return LoadResult(tool="python", requests=data["requests"], seconds=data["seconds"],
                      rps=data["rps"], p50_ms=data["p50_ms"], p99_ms=data["p99_ms"],
                      non_2xx=data["non_2xx"], socket_errors=f"{data['errors']} errors")
