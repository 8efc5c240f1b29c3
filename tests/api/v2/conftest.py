"""MEMANTO 0.2.30 itself, for the tests that hold our answers to its own models and checks
(installed beside the venv by the Makefile, without its dependencies or console script)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support import memanto_importable


@pytest.fixture(scope="session")
def memanto(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """MEMANTO's modules, imported once: `m` its models (memanto.app.models), `s` its
    session models, `r` its memory routes (their request models), and `CostGuard` with the
    `HTTPException` it raises."""
    with memanto_importable(tmp_path_factory.mktemp("memanto-home")):
        import memanto.app.models as models
        import memanto.app.models.session as session
        import memanto.app.routes.memory as routes
        from fastapi import HTTPException
        from memanto.app.utils.validation import CostGuard
    return SimpleNamespace(m=models, s=session, r=routes, CostGuard=CostGuard,
                           HTTPException=HTTPException)
