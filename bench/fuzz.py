"""Fuzzing every route of every dialect from the app's own OpenAPI document (schemathesis):
input generated from the schemas and input mutated to break them, under each kind of
credential (the admin API key, the agent's own session token, a named non-admin API key,
no credentials). Whatever a client sends, the server never answers 5xx nor hangs, and
every 4xx answer is as the document says: an Error, {"detail": str, "errors": [{"field",
"message", "type"}]}, or on /api/v2 a MemantoError, MEMANTO's {"detail": {"error",
"message", "details"}} or FastAPI's {"detail": [{"loc", "msg", "type"}], "message"}.

    cd /work/main && .venv/bin/python bench/fuzz.py [--examples 100] [--seed 0]

Starts its own embedded Redis (free port, temporary data dir), loads the real embedding
model, drives the app in this process (its lifespan run once) and stops the Redis by PID.
Each finding is printed with its route, its request (as curl) and the server's traceback or
answer; the exit code is 1 when there is one. tests/test_fuzz.py runs the same `Fuzzer`
with a few examples per operation.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator
from schemathesis import Case, GenerationMode
from schemathesis.python import asgi

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CREDENTIALS = ("admin", "session", "named_key", "none")
# Where the server's own code lives (a traceback is shown from its first frame there).
SERVER_FOLDERS = ("api", "shared")
AUTH_HEADERS = ("authorization", "x-session-token")
V2 = "/api/v2/agents/{agent_id}"
# What replaces or ends an agent's session, or the agent: each example gets a throwaway
# agent, so that the other operations keep a live one.
SCRATCH = {("POST", V2 + "/activate"), ("POST", V2 + "/deactivate"), ("DELETE", V2)}
# The inbox long-polls up to `wait` seconds: a generated wait longer than this is cut to 0
# so a run stays short (a non-number, or one out of bounds, is sent as generated).
LONGEST_WAIT = 0.1
# Starlette's own answers for a path that matches no route (a generated path parameter
# holding "/", or naming /memories/topics): not the handler's doing, and not an error.
ROUTER_MISSES = {(404, "Not Found"), (405, "Method Not Allowed")}


@dataclass(frozen=True)
class Finding:
    credentials: str
    operation: str
    problem: str
    request: str
    detail: str

    def __str__(self) -> str:
        return (f"{self.operation} [{self.credentials}]: {self.problem}\n"
                f"  {self.request}\n" + "\n".join(f"    {line}" for line in
                                                  self.detail.rstrip().splitlines()))


@dataclass
class Caller:
    """One kind of credentials, and the agent the agent-scoped paths name."""

    kind: str
    agent_id: str
    headers: dict[str, str]


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    # Operations schemathesis could not generate for, with why (not the server's fault).
    skipped: list[str] = field(default_factory=list)
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class Fuzzer:
    """Drives the ASGI `app` (in this process) with schemathesis cases."""

    def __init__(self, app: Any, admin_key: str, *, timeout: float = 10.0,
                 seed: int = 0) -> None:
        self.app = app
        self.admin = {"Authorization": f"Bearer {admin_key}"}
        self.timeout = timeout
        self.seed = seed
        self.http = asgi.get_client(app).__enter__()
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        self.spec: dict[str, Any] = self.http.get("/openapi.json").json()
        # The documented error shapes, their refs resolved in the document.
        self.shapes = {name: Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": self.spec["components"]})
            for name in ("Error", "MemantoError")}
        # A tenant key over the fuzzer's agents, allowed all a tenant key may be, so that
        # its calls reach the handlers (out of its scope is a 403 like any other).
        key = self._post("/api/v2/apikeys", {
            "name": f"fuzz-{uuid.uuid4().hex[:12]}", "agents": ["fuzz-*"],
            "may_activate": True, "may_manage_agents": True}, self.admin)
        self.named = {"Authorization": f"Bearer {key['api_key']}"}

    def close(self) -> None:
        self.http.__exit__(None, None, None)
        asgi.shutdown_lifespans()

    def run(self, kind: str, examples: int, report: Report | None = None) -> Report:
        """Every operation, `examples` generated and `examples` mutated cases each, sent
        with `kind` credentials."""
        report = report or Report()
        caller = self.caller(kind)
        for result in self.schema.get_all_operations():
            operation = result.ok()
            fixed = {p: caller.agent_id for p in ("agent_id", "name")
                     if "{" + p + "}" in operation.path and not
                     operation.path.startswith("/api/v2/apikeys/")}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(mode, path_parameters=fixed)
                try:
                    self._explore(strategy, examples,
                                  lambda case: self._one(case, caller, report))
                except Exception as exc:  # schemathesis could not generate: say so
                    if isinstance(exc, Unsatisfiable) and mode is GenerationMode.NEGATIVE:
                        continue  # nothing to break: no parameter, body nor credentials
                    report.skipped.append(f"{operation.method.upper()} {operation.path} "
                                          f"{mode.value}: {type(exc).__name__}: {exc}")
        return report

    def caller(self, kind: str) -> Caller:
        agent_id, token = self._agent()
        headers = {"admin": self.admin, "session": {"X-Session-Token": token},
                   "named_key": self.named, "none": {}}[kind]
        return Caller(kind, agent_id, headers)

    def _explore(self, strategy: Any, examples: int, check: Callable[[Case], None]) -> None:
        # Findings are collected, not raised, so Hypothesis neither stops nor shrinks.
        @hypothesis.seed(self.seed)
        @hypothesis.settings(max_examples=examples, database=None, deadline=None,
                             phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.given(strategy)
        def explore(case: Case) -> None:
            check(case)

        explore()

    def _one(self, case: Case, caller: Caller, report: Report) -> None:
        operation = f"{case.method.upper()} {case.operation.path}"
        if (case.method.upper(), case.operation.path) in SCRATCH:
            caller = self._scratch(caller)
            case.path_parameters = {**(case.path_parameters or {}),
                                    "agent_id": caller.agent_id}
        for name in [h for h in case.headers or {} if h.lower() in AUTH_HEADERS]:
            del case.headers[name]
        case.headers = {**(case.headers or {}), **caller.headers}
        _short_wait(case)
        report.requests += 1

        def found(problem: str, detail: str) -> None:
            report.findings.append(Finding(caller.kind, operation, problem,
                                           _curl(case), detail))

        started = time.monotonic()
        try:
            with _logged_errors() as logged:
                response = case.call(timeout=self.timeout)
        except requests.Timeout:
            found(f"no answer within {self.timeout:g} s", "")
            return
        except Exception as exc:
            if _raised_in_server(exc):
                report.statuses[500] = report.statuses.get(500, 0) + 1
                found("500: unhandled exception", _server_traceback(exc))
            return  # the client could not even send it (a header it cannot encode)
        status = response.status_code
        report.statuses[status] = report.statuses.get(status, 0) + 1
        body = response.content.decode(errors="replace")
        if status >= 500:
            found(f"{status}", "\n".join(logged) or body[:2000])
        elif 400 <= status < 500 and (status, _detail(response)) not in ROUTER_MISSES:
            problem = self._error_shape(response, case.operation.path)
            if problem:
                found(f"{status} {problem}", body[:2000])
        documented = self.spec["paths"][case.operation.path][case.method.lower()]["responses"]
        if status < 500 and str(status) not in documented \
                and (status, _detail(response)) not in ROUTER_MISSES:
            found(f"{status} is not among the documented answers {sorted(documented)}",
                  body[:500])
        if time.monotonic() - started > self.timeout:
            found(f"answered after {time.monotonic() - started:.1f} s", "")

    def _error_shape(self, response: requests.Response, path: str) -> str | None:
        """What is wrong with a 4xx answer's body, or None when it is the documented one."""
        try:
            body = response.json()
        except ValueError:
            return "not JSON"
        shape = "MemantoError" if path.startswith("/api/v2/") else "Error"
        wrong = next(self.shapes[shape].iter_errors(body), None)
        return None if wrong is None else f"not the documented {shape}: {wrong.message}"

    def _scratch(self, caller: Caller) -> Caller:
        agent_id, token = self._agent()
        headers = {"X-Session-Token": token} if caller.kind == "session" else caller.headers
        return Caller(caller.kind, agent_id, headers)

    def _agent(self) -> tuple[str, str]:
        agent_id = f"fuzz-{uuid.uuid4().hex[:12]}"
        self._post("/api/v2/agents", {"agent_id": agent_id}, self.admin)
        session = self._post(f"/api/v2/agents/{agent_id}/activate", {}, self.admin)
        return agent_id, str(session["session_token"])

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        reply = self.http.post(path, json=body, headers=headers, timeout=self.timeout)
        if reply.status_code >= 300:
            raise RuntimeError(f"POST {path}: {reply.status_code} {reply.text}")
        return reply.json()


@contextlib.contextmanager
def _logged_errors() -> Iterator[list[str]]:
    """What the app logs as unhandled meanwhile (its 500 handler logs the traceback)."""
    logged: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and record.exc_info[1] is not None:
                logged.append(_server_traceback(record.exc_info[1]))

    handler = Keep(logging.ERROR)
    logging.getLogger("memanto").addHandler(handler)
    try:
        yield logged
    finally:
        logging.getLogger("memanto").removeHandler(handler)


def _short_wait(case: Case) -> None:
    wait = (case.query or {}).get("wait")
    try:
        too_long = float(wait) > LONGEST_WAIT  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    if too_long:
        case.query = {**(case.query or {}), "wait": 0}


def _detail(response: requests.Response) -> str | None:
    """A string detail (a router miss's); None for any other body."""
    try:
        body = response.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else None


def _raised_in_server(exc: BaseException) -> bool:
    """Whether the exception came out of the app (Starlette re-raises what its error
    handler answered 500 for), rather than from preparing the request."""
    frames = (frame.f_globals.get("__name__", "") for frame, _ in
              traceback.walk_tb(exc.__traceback__))
    return any(name.startswith(("memanto_redis.", "starlette.")) for name in frames)


def _server_traceback(exc: BaseException) -> str:
    """The traceback from the app's first frame on (not the test client's way in), and
    the error with its causes."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [i for i, f in enumerate(frames)
            if any(Path(f.filename).is_relative_to(ROOT / d) for d in SERVER_FOLDERS)]
    lines = traceback.format_list(frames[ours[0]:] if ours else frames[-8:])
    causes = []
    cause: BaseException | None = exc
    while cause is not None:
        causes.append("".join(traceback.format_exception_only(cause)).strip())
        cause = cause.__cause__
    return "".join(lines) + "\n".join(reversed(causes))


def _curl(case: Case) -> str:
    try:
        return case.as_curl_command()
    except Exception:  # a request curl cannot spell: show its parts instead
        return (f"{case.method} {case.formatted_path} query={case.query!r} "
                f"headers={dict(case.headers or {})!r} body={case.body!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100,
                        help="generated and mutated cases per operation and credentials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = parser.parse_args()
    # The model ships in a package: never ask a model hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from memanto_redis.api.app import create_app
    from memanto_redis.cli.processes import free_port, start_redis, stop
    from memanto_redis.shared.infra.embeddings import load_vectorizer
    from memanto_redis.shared.infra.settings import Settings

    with tempfile.TemporaryDirectory(prefix="memanto-fuzz-") as data_dir:
        port = free_port()
        redis_proc = start_redis(port, data_dir, cwd=ROOT)
        try:
            settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0",
                                api_key=secrets.token_urlsafe(24),
                                jwt_secret=secrets.token_urlsafe(48))
            app = create_app(settings, load_vectorizer(settings.embed_model))
            fuzzer = Fuzzer(app, settings.api_key, timeout=args.timeout, seed=args.seed)
            report = Report()
            started = time.monotonic()
            try:
                for kind in CREDENTIALS:
                    fuzzer.run(kind, args.examples, report)
                    print(f"{kind}: {report.requests} requests so far, "
                          f"{len(report.findings)} findings", flush=True)
            finally:
                fuzzer.close()
        finally:
            stop(redis_proc)
    print(f"{report.requests} requests in {time.monotonic() - started:.0f} s; "
          f"answers {dict(sorted(report.statuses.items()))}")
    for line in report.skipped:
        print("skipped:", line)
    for finding in _unique(report.findings):
        print(finding, end="\n\n")
    return 1 if report.findings else 0


def _unique(findings: list[Finding]) -> Iterator[Finding]:
    """One finding per operation, credentials and problem."""
    seen = set()
    for f in findings:
        if (f.operation, f.credentials, f.problem) not in seen:
            seen.add((f.operation, f.credentials, f.problem))
            yield f


if __name__ == "__main__":
    sys.exit(main())
