"""Who is calling: env keys (browsers), secret keys (servers), end-user tokens.

Each helper returns what it authenticated or raises an ApiError in the SPEC's
shape: 401 for a missing or unknown credential, 403 for one of the wrong kind.
"""

from dataclasses import dataclass

from rest_framework import status

from ascendkit_site import ids
from ascendkit_site.errors import ApiError

from .models import EndUser, Environment, UserToken
from .selectors import environment_for_env_key, environment_for_secret_key, user_token_get

ENV_KEY_HEADER = "HTTP_X_ASCENDKIT_ENV_KEY"


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(code, message, status.HTTP_401_UNAUTHORIZED)


def _forbidden(code: str, message: str) -> ApiError:
    return ApiError(code, message, status.HTTP_403_FORBIDDEN)


def bearer_token(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def env_key_from(request, body: dict | None = None) -> str | None:
    """The env key from the header, else from the JSON body (`navigator.sendBeacon`)."""
    key = request.META.get(ENV_KEY_HEADER)
    if not key and isinstance(body, dict):
        key = body.get("envKey")
    return key if isinstance(key, str) and key else None


def authenticate_env_key(request, body: dict | None = None) -> Environment:
    key = env_key_from(request, body)
    if key is None:
        raise _unauthorized("missing_key", "Send the environment's env key in X-AscendKit-Env-Key.")
    if key.startswith("sk_"):
        raise _forbidden("wrong_key_kind", "This endpoint takes the public env key, never the secret key.")
    # A malformed key (a NUL, a lone surrogate, a wrong shape) is unknown without a query.
    environment = environment_for_env_key(env_key=key) if ids.is_env_key(key) else None
    if environment is None:
        raise _unauthorized("invalid_key", "The env key is unknown.")
    if not environment.origin_allowed(request.META.get("HTTP_ORIGIN")):
        raise _forbidden("origin_not_allowed", "This origin is not allowed to send to this environment.")
    return environment


def authenticate_secret_key(request) -> Environment:
    """A server call: `Authorization: Bearer sk_…`; an env key sent too must match."""
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("missing_key", "Send the secret key as Authorization: Bearer sk_….")
    if token.startswith("env_"):
        raise _forbidden("wrong_key_kind", "This endpoint takes the secret key, not the env key.")
    if not token.startswith("sk_"):
        raise _forbidden("wrong_key_kind", "This endpoint takes the environment's secret key.")
    environment = environment_for_secret_key(secret_key=token) if ids.is_secret_key(token) else None
    if environment is None:
        raise _unauthorized("invalid_key", "The secret key is unknown or has been rotated.")
    _require_matching_env_key(request, environment)
    return environment


def _require_matching_env_key(request, environment: Environment) -> None:
    env_key = request.META.get(ENV_KEY_HEADER)
    if env_key and env_key != environment.env_key:
        raise _forbidden("key_mismatch", "The env key does not belong to the secret key's environment.")


def authenticate_user_token(request) -> UserToken:
    """A browser call as an end user: `Authorization: Bearer <token>` plus the env key."""
    environment = authenticate_env_key(request)
    raw = bearer_token(request)
    if raw is None:
        raise _unauthorized("missing_token", "Send the user's session token as Authorization: Bearer ….")
    token = user_token_get(raw_token=raw) if ids.is_user_token(raw) else None
    if token is None or token.environment_id != environment.id:
        raise _unauthorized("invalid_token", "The session token is unknown, expired or revoked.")
    return token


@dataclass(frozen=True)
class EventsCaller:
    environment: Environment
    user: EndUser | None  # set for a browser calling with a user token


def authenticate_events_caller(request) -> EventsCaller:
    """`POST /v1/events`: a secret key (server) or a user token plus env key (browser)."""
    token = bearer_token(request)
    if token is not None and token.startswith("sk_"):
        return EventsCaller(environment=authenticate_secret_key(request), user=None)
    if token is not None and token.startswith("env_"):
        raise _forbidden(
            "wrong_key_kind", "Send the secret key or a user session token as the bearer, not the env key."
        )
    if token is None and request.META.get(ENV_KEY_HEADER):
        raise _unauthorized("missing_token", "Send the secret key, or a user session token with the env key.")
    user_token = authenticate_user_token(request)
    return EventsCaller(environment=user_token.environment, user=user_token.user)
