"""Credentials as the HTTP layer carries them."""

from __future__ import annotations

from starlette.requests import Request

from api.services import Services
from shared.tokens import SessionClaims


def services(request: Request) -> Services:
    return request.state.services


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def require_api_key(request: Request) -> str:
    return await services(request).api_keys.identify(bearer(request))


def session_claims(request: Request) -> SessionClaims:
    """Verify the X-Session-Token signature (liveness is checked with the request's work)."""
    return services(request).signer.verify(request.headers.get("x-session-token"))
