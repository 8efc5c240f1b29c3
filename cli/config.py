"""The command line's saved state: ~/.memanto/config.json (MEMANTO_HOME moves the folder).

The server URL and API key may come from the environment (MEMANTO_URL, MEMANTO_API_KEY),
which wins over the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_URL = "http://localhost:8000"


def home() -> Path:
    return Path(os.environ.get("MEMANTO_HOME") or Path.home() / ".memanto")


@dataclass
class CliConfig:
    server_url: str = DEFAULT_URL
    api_key: str | None = field(default=None, repr=False)
    agent_id: str | None = None
    session_id: str | None = None
    session_token: str | None = field(default=None, repr=False)
    expires_at: str | None = None

    @property
    def path(self) -> Path:
        return home() / "config.json"

    @classmethod
    def load(cls) -> CliConfig:
        path = home() / "config.json"
        saved = {}
        if path.exists():
            try:
                saved = json.loads(path.read_text())
            except ValueError:
                saved = {}
            if not isinstance(saved, dict):  # not ours, or damaged: start afresh
                saved = {}
        config = cls(**{k: v for k, v in saved.items() if k in cls.__dataclass_fields__})
        config.server_url = os.environ.get("MEMANTO_URL") or config.server_url
        config.api_key = os.environ.get("MEMANTO_API_KEY") or config.api_key
        return config

    def save(self) -> None:
        folder = home()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / "config.json"
        # Keys from the environment stay there; only what the user gave us is written.
        data = asdict(self)
        if os.environ.get("MEMANTO_API_KEY") == self.api_key:
            data.pop("api_key")
        if os.environ.get("MEMANTO_URL") == self.server_url:
            data.pop("server_url")
        # Written whole and private from the first byte: it holds a session token.
        partial = folder / f".config.json.{os.getpid()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(data, indent=2) + "\n")
        os.replace(partial, path)

    def remember_session(self, agent_id: str, session: dict) -> None:
        self.agent_id = agent_id
        self.session_id = session["session_id"]
        self.session_token = session["session_token"]
        self.expires_at = session.get("expires_at")
        self.save()

    def forget_session(self) -> None:
        self.session_id = self.session_token = self.expires_at = None
        self.save()
