"""The app's OpenAPI 3.1 document, served at GET /openapi.json, with a plain HTML page of it
at GET /docs (no credentials needed, nothing loaded from elsewhere).

Methods, paths, path parameters, operation ids, summaries and tags come from the app's own
Route objects and handlers; TABLE says the rest for each route: who may call it, the
request model its handler parses, its query parameters, and its answers.
"""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.schemas import BaseSchemaGenerator, EndpointInfo

from memanto_redis.api import auth
from memanto_redis.api.agent_memory import models as seed003
from memanto_redis.api.agent_memory.memory import STM_DEFAULT_LIMIT, STM_MAX_LIMIT
from memanto_redis.api.agent_memory.swarm import LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT
from memanto_redis.api.agno import models as agno
from memanto_redis.api.errors import V2_PREFIX
from memanto_redis.api.query import MAX_HOURS
from memanto_redis.api.v2 import files as v2_files
from memanto_redis.api.v2 import models as v2
from memanto_redis.api.v2 import policy as v2_policy
from memanto_redis.api.v2 import quotas
from memanto_redis.shared.agent_memory.stm import CURRENT, SESSION_ID_RE
from memanto_redis.shared.infra.cursors import MAX_CURSOR
from memanto_redis.shared.memory.edits import HISTORY_MAX_PAGE, HISTORY_PAGE
from memanto_redis.shared.memory.imports import ImportIn
from memanto_redis.shared.memory.policy import MemoryPolicy
from memanto_redis.shared.memory.rules import MAX_RECALL_LIMIT, USER_ID_PATTERN
from memanto_redis.shared.schedule.inbox import MAX_COUNT, MAX_WAIT, STREAM_ID_RE
from memanto_redis.shared.trees.store import INDEX_MAX_PAGE, INDEX_PAGE

REF = "#/components/schemas/{model}"
Schema = type[BaseModel] | TypeAdapter[Any]

# Who may call an operation, as OpenAPI security requirements (any one of them will do).
Security = tuple[dict[str, list[str]], ...]
OPEN: Security = ()
KEY: Security = ({"apiKey": []}, {"xApiKey": []})
SESSION: Security = ({"sessionToken": []},)
KEY_OR_SESSION: Security = KEY + SESSION

SECURITY_SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer",
               "description": "Authorization: Bearer <api key>: the admin key "
                              "(MEMANTO_API_KEY) or a named key (POST /api/v2/apikeys)"},
    "xApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key",
                "description": "the same API key in MEMANTO's other header"},
    "sessionToken": {"type": "apiKey", "in": "header", "name": "X-Session-Token",
                     "description": "an agent's session token, from "
                                    "POST /api/v2/agents/{agent_id}/activate"},
}

# Every 4xx (and 503) answer: api/errors.py is the one place that writes it; on /api/v2 in
# MEMANTO's shapes (api/v2/errors.py), elsewhere as Error.
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object", "additionalProperties": False, "required": ["detail"],
        "properties": {
            "detail": {"type": "string", "description": "what went wrong, in one message"},
            "errors": {"type": "array", "items": {"$ref": REF.format(model="FieldError")},
                       "description": "each field at fault (invalid input only)"},
        },
    },
    "FieldError": {
        "type": "object", "additionalProperties": False,
        "required": ["field", "message", "type"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"},
                       "type": {"type": "string"},
                       "in": {"enum": ["query", "path", "header"],
                              "description": "where the field was, when not in the body"}},
    },
    "MemantoError": {
        "type": "object", "additionalProperties": False, "required": ["detail"],
        "description": "an /api/v2 error, as MEMANTO answers it: its envelope, one of its "
                       "limits, a bare message (where MEMANTO raises HTTPException with a "
                       "string: a missing token or key, a memory not found, an empty PATCH, "
                       "an unknown preset, an unsupported file type, no active session), or "
                       "FastAPI's list of the fields at fault (422)",
        "properties": {
            "detail": {"anyOf": [
                {"type": "string"},
                {"$ref": REF.format(model="MemantoErrorDetail")},
                {"$ref": REF.format(model="MemantoLimit")},
                {"type": "array", "items": {"$ref": REF.format(model="ValidationError")}}]},
            "message": {"type": "string",
                        "description": "beside a list: the problem in one line"},
        },
    },
    "MemantoErrorDetail": {
        "type": "object", "required": ["error", "message", "details"],
        "properties": {
            "error": {"type": "string",
                      "description": "MEMANTO's error name: SessionExpired, "
                                     "InvalidSessionToken, SessionNotFound, AgentNotFound, "
                                     "AgentAlreadyExists, AuthenticationError, "
                                     "AuthorizationError, ValidationError; or for what "
                                     "MEMANTO lacks NotFound, Conflict, RateLimited, "
                                     "ServiceUnavailable"},
            "message": {"type": "string"},
            "details": {"type": "object"},
        },
    },
    "MemantoLimit": {
        "type": "object", "required": ["error", "message"],
        "description": "one of MEMANTO's limits (its CostGuard), its figures beside the "
                       "message: k_too_large (actual_k, max_k), query_too_long and "
                       "text_too_long (actual_length, max_length), file_too_large "
                       "(max_bytes), request_too_large (max_size)",
        "properties": {
            "error": {"type": "string", "enum": ["k_too_large", "query_too_long",
                                                 "text_too_long", "file_too_large",
                                                 "request_too_large"]},
            "message": {"type": "string"},
            "actual_k": {"type": ["integer", "null"]}, "max_k": {"type": "integer"},
            "actual_length": {"type": "integer"}, "max_length": {"type": "integer"},
            "max_bytes": {"type": "integer"}, "max_size": {"type": "integer"},
        },
    },
    "ValidationError": {
        "type": "object", "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"}, "type": {"type": "string"},
        },
    },
}
ERRORS = {
    400: "the body is not JSON",
    401: "no credentials, or credentials that prove nothing (bad key, dead session)",
    403: "known credentials, but not for this",
    404: "not found",
    409: "exists already, or a limit on how many is reached",
    413: "the body is larger than MEMANTO_MAX_BODY_BYTES",
    415: "a multipart body: send JSON",
    422: "invalid input: `errors` names each field at fault",
    429: "writing faster than the agent's quota: retry after Retry-After seconds",
    503: "storage unavailable, or a bound reached (the ingest backlog, the inbox's "
         "long-poll slots): retry after Retry-After seconds",
}
# Where /api/v2 answers otherwise than the other dialects (MEMANTO's statuses).
V2_ERRORS = ERRORS | {
    400: "over one of MEMANTO's limits (k_too_large: recall's limit over "
         f"{MAX_RECALL_LIMIT}, recall/all's over {v2.MAX_ALL_LIMIT}), an empty PATCH, an "
         "unknown preset to adopt, a file of a kind not read",
    401: "no session token or API key (a bare message, as MEMANTO), or one that proves "
         "nothing: SessionExpired, InvalidSessionToken",
    404: "not found: AgentNotFound, SessionNotFound, or a bare message for a memory, a "
         "preset, no active session",
    409: "exists already (AgentAlreadyExists), or a limit on how many is reached",
    413: f"the query is longer than {v2.MAX_QUERY} characters (query_too_long), a memory's "
         "content longer than 10,000 (text_too_long), the file "
         "larger than MEMANTO_MAX_UPLOAD_BYTES (file_too_large), or the body larger than "
         "MEMANTO_MAX_BODY_BYTES (request_too_large)",
    422: "invalid input, or a body that is not JSON: `detail` lists each field at fault",
}


@dataclass(frozen=True)
class Query:
    """One query parameter."""

    name: str
    schema: dict[str, Any]
    description: str = ""


def whole(name: str, default: int, low: int, high: int | None = None) -> Query:
    schema = {"type": "integer", "minimum": low, "default": default}
    return Query(name, schema | ({"maximum": high} if high is not None else {}))


def hours(name: str, default: float | None = None) -> Query:
    schema = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_HOURS}
    return Query(name, schema | ({"default": default} if default is not None else {}))


STM_SESSION = Query("session", {"type": "string", "pattern": SESSION_ID_RE.pattern,
                                "default": CURRENT}, f"a session id, or {CURRENT!r}")
STM_LIMIT = whole("limit", STM_DEFAULT_LIMIT, 1, STM_MAX_LIMIT)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": auth.IDEMPOTENCY_KEY.pattern},
    "description": "a retry with the same key (per caller, for "
                   "MEMANTO_IDEMPOTENCY_SECONDS) is stored once and answered as the first was",
}
USER_ID = Query("user_id", {"type": "string", "pattern": USER_ID_PATTERN},
                "only when the memory is this user's")


@dataclass(frozen=True)
class Doc:
    """What the route itself does not say: who may call it, the model its handler parses
    (a tuple when it takes any one of several), its query parameters (a list, or the model
    that parses the query string) and its answers."""

    auth: Security
    body: Schema | tuple[Schema, ...] | None = None
    body_optional: bool = False
    # The body's media type: JSON but for uploads' multipart/form-data.
    media: str = "application/json"
    query: tuple[Query, ...] | type[BaseModel] = ()
    ok: int = 200
    # Beyond what every operation of its kind may answer (see _answers).
    errors: tuple[int, ...] = ()
    # Takes an Idempotency-Key header: a retry with the same key is stored once.
    idempotent: bool = False


V2 = "/api/v2/agents/{agent_id}"
MEMORY = V2 + "/memories/{memory_id}"
AGENT = "/api/agents/{name}"

TABLE: dict[str, Doc] = {
    # MEMANTO v2: memories (the agent's own session token)
    f"POST {V2}/remember": Doc(SESSION, v2.MemoryIn, errors=(409, 429), idempotent=True),
    f"POST {V2}/batch-remember": Doc(SESSION, v2.BatchIn, errors=(409, 429),
                                     idempotent=True),
    f"GET {MEMORY}": Doc(SESSION),
    f"POST {V2}/upload-file": Doc(SESSION, v2_files.UploadForm, media="multipart/form-data",
                                  errors=(409, 429), idempotent=True),
    f"POST {V2}/recall": Doc(SESSION, v2.RecallIn),
    f"PATCH {MEMORY}": Doc(SESSION, v2.MemoryPatch),
    f"DELETE {MEMORY}": Doc(SESSION),
    f"POST {MEMORY}/expire": Doc(SESSION, v2.ExpireIn, body_optional=True),
    f"POST {MEMORY}/restore": Doc(SESSION),
    f"GET {MEMORY}/history": Doc(SESSION, query=(
        whole("limit", HISTORY_PAGE, 1, HISTORY_MAX_PAGE),
        Query("cursor", {"type": "string", "maxLength": MAX_CURSOR},
              "next_cursor of the page before (versions oldest first)"))),
    f"POST {V2}/recall/as-of": Doc(SESSION, v2.AsOfIn),
    f"POST {V2}/recall/changed-since": Doc(SESSION, v2.ChangedSinceIn),
    f"POST {V2}/recall/recent": Doc(SESSION, v2.RecentIn, body_optional=True),
    f"POST {V2}/recall/all": Doc(SESSION, v2.AllIn, body_optional=True),
    # MEMANTO v2: agents, sessions, API keys
    "POST /api/v2/agents": Doc(KEY, v2.AgentCreate, ok=201, errors=(409,)),
    "GET /api/v2/agents": Doc(KEY),
    f"GET {V2}": Doc(KEY),
    f"DELETE {V2}": Doc(KEY, query=(Query(
        "delete-backup-too", {"type": "boolean", "default": False},
        "delete the agent's memories too (else they are kept for an agent of that id)"),)),
    f"POST {V2}/activate": Doc(KEY, v2.ActivateBody, body_optional=True,
                              query=(hours("duration_hours"),)),
    f"POST {V2}/deactivate": Doc(KEY_OR_SESSION),
    f"GET {V2}/bootstrap": Doc(KEY_OR_SESSION),
    "GET /api/v2/session/info": Doc(SESSION),
    # the session activated last (a key), or the token's own (a session alone); 404: none
    "GET /api/v2/status": Doc(KEY_OR_SESSION, errors=(404,)),
    # (with an API key beside the token: past the session's absolute end too)
    "POST /api/v2/session/extend": Doc(SESSION, query=(hours("extend_hours", 6.0),)),
    "POST /api/v2/apikeys": Doc(KEY, v2.ApiKeyCreate, ok=201, errors=(409,)),
    "GET /api/v2/apikeys": Doc(KEY),
    "DELETE /api/v2/apikeys/{name}": Doc(KEY),
    # MEMANTO v2: the memory policy (the apply sweep also runs nightly)
    f"GET {V2}/policy": Doc(KEY_OR_SESSION),
    f"PUT {V2}/policy": Doc(KEY_OR_SESSION, MemoryPolicy),
    f"GET {V2}/policy/presets": Doc(KEY_OR_SESSION),
    f"GET {V2}/policy/presets/{{name}}": Doc(KEY_OR_SESSION),
    f"POST {V2}/policy/preset": Doc(KEY_OR_SESSION, v2_policy.PolicyPresetRequest),
    f"POST {V2}/policy/apply": Doc(KEY_OR_SESSION, v2_policy.PolicyApplyRequest,
                                   body_optional=True),
    f"POST {V2}/policy/purge": Doc(KEY_OR_SESSION, v2_policy.PolicyApplyRequest,
                                   body_optional=True),
    # Write quotas per agent (an extension; the admin key only)
    f"GET {V2}/quota": Doc(KEY),
    f"PUT {V2}/quota": Doc(KEY, quotas.QuotaIn),
    f"DELETE {V2}/quota": Doc(KEY),
    "GET /api/v2/quotas": Doc(KEY),
    # Erasure (an extension): purges leave nothing behind, unlike DELETE
    f"POST {MEMORY}/purge": Doc(KEY_OR_SESSION),
    f"POST {V2}/purge": Doc(KEY),
    # (422: a user id that is none)
    "POST /api/v2/users/{user_id}/purge": Doc(KEY, errors=(422,)),
    # MEMANTO v2: Markdown memory trees
    f"GET {V2}/memory-index": Doc(KEY_OR_SESSION, query=(
        whole("limit", INDEX_PAGE, 1, INDEX_MAX_PAGE),
        Query("cursor", {"type": "string", "maxLength": MAX_CURSOR},
              "next_cursor of the page before (entries in the tree's order)"))),
    f"GET {V2}/memory-export": Doc(KEY_OR_SESSION, query=(
        whole("limit", MAX_RECALL_LIMIT, 1, MAX_RECALL_LIMIT),
        Query("cursor", {"type": "string"}, "next_cursor of the page before"))),
    f"POST {V2}/import": Doc(KEY_OR_SESSION, ImportIn, errors=(409,), idempotent=True),
    # seed 003: scheduled prompts and the inbox
    f"GET {AGENT}/schedules": Doc(KEY_OR_SESSION),
    f"POST {AGENT}/schedules": Doc(KEY_OR_SESSION, seed003.ScheduleIn, ok=201, errors=(409,)),
    f"GET {AGENT}/schedules/{{schedule}}": Doc(KEY_OR_SESSION),
    f"DELETE {AGENT}/schedules/{{schedule}}": Doc(KEY_OR_SESSION),
    # (at most MEMANTO_SCHEDULE_RUNS_KEPT)
    f"GET {AGENT}/schedules/{{schedule}}/runs": Doc(KEY_OR_SESSION,
                                                    query=(whole("limit", 50, 1),)),
    f"GET {AGENT}/inbox": Doc(KEY_OR_SESSION, query=(
        Query("after", {"type": "string", "pattern": STREAM_ID_RE.pattern, "default": "0"},
              "the last message id read (0 for everything held)"),
        Query("wait", {"type": "number", "minimum": 0, "maximum": MAX_WAIT, "default": 0},
              "seconds to wait for a message when none is there"),
        whole("limit", 100, 1, MAX_COUNT))),
    # seed 003: short- and long-term memory
    f"GET {AGENT}/memory": Doc(KEY_OR_SESSION),
    f"DELETE {AGENT}/memory": Doc(KEY_OR_SESSION),
    # one entry, or a list of them
    f"POST {AGENT}/memory/stm": Doc(KEY_OR_SESSION, (seed003.StmEntryIn, seed003.StmEntries),
                                    ok=201, errors=(409,)),
    f"GET {AGENT}/memory/stm": Doc(KEY_OR_SESSION, query=(STM_SESSION, STM_LIMIT)),
    f"DELETE {AGENT}/memory/stm": Doc(KEY_OR_SESSION, query=(STM_SESSION,)),
    f"GET {AGENT}/memory/current": Doc(KEY_OR_SESSION, query=(STM_SESSION, STM_LIMIT)),
    f"POST {AGENT}/memory/ltm": Doc(KEY_OR_SESSION, seed003.LtmAddIn, errors=(409, 429),
                                    idempotent=True),
    f"POST {AGENT}/memory/ltm/search": Doc(KEY_OR_SESSION, seed003.LtmSearchIn),
    f"GET {AGENT}/memory/ltm/{{id}}": Doc(KEY_OR_SESSION),
    f"DELETE {AGENT}/memory/ltm/{{id}}": Doc(KEY_OR_SESSION),
    # seed 003: the swarm
    "POST /api/swarm/facts": Doc(KEY_OR_SESSION, seed003.SwarmFactIn, ok=201,
                                 errors=(409,)),
    "GET /api/swarm/facts": Doc(KEY_OR_SESSION, query=(
        whole("limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT),)),
    "DELETE /api/swarm/facts": Doc(KEY_OR_SESSION),
    "POST /api/swarm/search": Doc(KEY_OR_SESSION, seed003.SwarmSearchIn),
    # agno's /memories (API key only)
    "POST /memories": Doc(KEY, agno.UserMemoryIn, ok=201, errors=(404,), idempotent=True),
    "GET /memories": Doc(KEY, query=agno.MemoryListParams),
    "DELETE /memories": Doc(KEY, agno.DeleteMemoriesIn, ok=204),
    "GET /memories/topics": Doc(KEY, query=agno.StatsParams),
    "GET /memory_topics": Doc(KEY, query=agno.StatsParams),
    "GET /memories/stats": Doc(KEY, query=agno.StatsParams),
    "GET /user_memory_stats": Doc(KEY, query=agno.StatsParams),
    "GET /memories/{memory_id}": Doc(KEY, query=(USER_ID,)),
    "PATCH /memories/{memory_id}": Doc(KEY, agno.UserMemoryPatch),
    "DELETE /memories/{memory_id}": Doc(KEY, query=(USER_ID,), ok=204),
    # this document
    "GET /openapi.json": Doc(OPEN),
    "GET /docs": Doc(OPEN),
    # operations: probes (no credentials) and Prometheus metrics (MEMANTO_METRICS_TOKEN as a
    # Bearer when it is set)
    "GET /": Doc(OPEN),
    "GET /health": Doc(OPEN),
    "GET /live": Doc(OPEN),
    "GET /ready": Doc(OPEN, errors=(503,)),
    "GET /metrics": Doc(OPEN, errors=(401,)),
}


def document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of `routes`; LookupError names a route TABLE leaves out."""
    endpoints = BaseSchemaGenerator().get_endpoints(list(routes))
    docs = {}
    for endpoint in endpoints:
        key = f"{endpoint.http_method.upper()} {endpoint.path}"
        if key not in TABLE:
            raise LookupError(f"{key} has no entry in the OpenAPI TABLE (api/openapi.py)")
        docs[key] = TABLE[key]
    bodies, schemas = _body_schemas(docs)
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for endpoint in endpoints:
        key = f"{endpoint.http_method.upper()} {endpoint.path}"
        operation = _operation(endpoint, docs[key], bodies.get(key), schemas, used)
        paths.setdefault(endpoint.path, {})[endpoint.http_method] = operation
    tags = sorted({op["tags"][0] for ops in paths.values() for op in ops.values()})
    return {
        "openapi": "3.1.0",
        "info": {"title": "memanto-redis", "version": version("memanto-redis"),
                 "description": "A self-hosted memory service for AI agents over Redis. "
                                "Every 4xx answer is an Error; on /api/v2 a "
                                "MemantoError, as MEMANTO answers."},
        "tags": [{"name": tag, "description": _first_line(_dialect_doc(tag))} for tag in tags],
        "paths": paths,
        "components": {"schemas": ERROR_SCHEMAS | schemas, "responses": _error_answers(),
                       "securitySchemes": SECURITY_SCHEMES},
    }


def _body_schemas(docs: dict[str, Doc]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each operation's body schema, and the models they name (all generated at once so
    that one name means one model)."""
    inputs: list[tuple[tuple[str, int], JsonSchemaMode, TypeAdapter[Any]]] = []
    for key, doc in docs.items():
        options = doc.body if isinstance(doc.body, tuple) else (doc.body,) if doc.body else ()
        for i, option in enumerate(options):
            adapter = option if isinstance(option, TypeAdapter) else TypeAdapter(option)
            inputs.append(((key, i), "validation", adapter))
    refs, defs = TypeAdapter.json_schemas(inputs, ref_template=REF)
    bodies: dict[str, list[dict[str, Any]]] = {}
    for name, mode, _ in inputs:
        bodies.setdefault(name[0], []).append(refs[(name, mode)])
    one_of = {key: options[0] if len(options) == 1 else {"oneOf": options}
              for key, options in bodies.items()}
    return one_of, dict(defs.get("$defs", {}))


def _operation(endpoint: EndpointInfo, doc: Doc, body: Any, schemas: dict[str, Any],
               used: set[str]) -> dict[str, Any]:
    func = endpoint.func
    tag = func.__module__.split(".")[2]
    operation_id = f"{tag}.{func.__name__}"
    while operation_id in used:
        operation_id += "_"
    used.add(operation_id)
    path_params = re.findall(r"{(\w+)}", endpoint.path)
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in path_params]
    parameters += [_query_param(q) for q in _queries(doc, schemas)]
    if doc.idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": _first_line(func.__doc__) or func.__name__.replace("_", " ").capitalize(),
        "tags": [tag],
        "security": [dict(s) for s in doc.auth],
        "parameters": parameters,
        "responses": _answers(doc, bool(path_params), endpoint.path),
    }
    if func.__doc__:
        operation["description"] = func.__doc__.strip()
    if body is not None:
        operation["requestBody"] = {"required": not doc.body_optional,
                                    "content": {doc.media: {"schema": body}}}
    return operation


def _queries(doc: Doc, schemas: dict[str, Any]) -> tuple[Query, ...]:
    if isinstance(doc.query, tuple):
        return doc.query
    schema = doc.query.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    return tuple(Query(name, _not_null(spec), spec.get("description", ""))
                 for name, spec in schema["properties"].items())


def _query_param(query: Query) -> dict[str, Any]:
    param = {"name": query.name, "in": "query", "required": False, "schema": query.schema}
    if query.description:
        param["description"] = query.description
    if query.schema.get("type") == "array":
        # Repeated (topics=a&topics=b); the server takes comma-separated values too.
        param |= {"style": "form", "explode": True}
    return param


def _not_null(spec: dict[str, Any]) -> dict[str, Any]:
    """A model field's schema as a query parameter's: no title, and no null (a parameter
    is absent instead)."""
    spec = {k: v for k, v in spec.items() if k != "title"}
    options = [s for s in spec.pop("anyOf", []) if s != {"type": "null"}]
    if len(options) == 1:
        spec |= options[0]
    elif options:
        spec["anyOf"] = options
    if spec.get("default") is None:
        spec.pop("default", None)
    return spec


def _answers(doc: Doc, has_path_params: bool, path: str) -> dict[str, Any]:
    codes = set(doc.errors)
    if doc.auth:
        codes |= {401, 403, 503}
    if has_path_params:
        codes.add(404)
    if doc.body is not None:
        codes |= {400, 413, 415, 422}
    if doc.query:
        codes.add(422)
    media = {"/docs": "text/html", "/metrics": "text/plain"}.get(path, "application/json")
    answers: dict[str, Any] = {
        str(doc.ok): {"description": "No Content"} if doc.ok == 204 else
        {"description": "OK" if doc.ok == 200 else "Created", "content": {media: {"schema": {}}}},
    }
    kind = "V2Error" if path.startswith(V2_PREFIX) else "Error"
    answers |= {str(code): {"$ref": f"#/components/responses/{kind}{code}"}
                for code in sorted(codes)}
    return answers


def _error_answers() -> dict[str, Any]:
    """One answer per error status: components/responses/Error<code>, an Error, and
    V2Error<code>, a MemantoError."""
    answers = {}
    for kind, schema, descriptions in (("Error", "Error", ERRORS),
                                       ("V2Error", "MemantoError", V2_ERRORS)):
        for code, description in descriptions.items():
            answer: dict[str, Any] = {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": REF.format(model=schema)}}},
            }
            if code in (429, 503):
                answer["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                     "description": "seconds to wait"}}
            answers[f"{kind}{code}"] = answer
    return answers


def _dialect_doc(tag: str) -> str | None:
    return importlib.import_module(f"memanto_redis.api.{tag}").__doc__


def _first_line(text: str | None) -> str:
    return text.strip().split("\n\n")[0].replace("\n", " ") if text else ""


def _cached(request: Request) -> dict[str, Any]:
    """Built once per app, from the app's own routes."""
    state = request.app.state
    if getattr(state, "openapi", None) is None:
        state.openapi = document(request.app.routes)
    doc: dict[str, Any] = state.openapi
    return doc


async def openapi_json(request: Request) -> JSONResponse:
    """This document."""
    return JSONResponse(_cached(request))


async def docs(request: Request) -> HTMLResponse:
    """This API as a plain HTML page (the full schemas are in /openapi.json)."""
    spec = _cached(request)
    rows = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            auth = " or ".join(name for s in op["security"] for name in s) or "none"
            query = ", ".join(p["name"] for p in op["parameters"] if p["in"] == "query")
            content = op.get("requestBody", {}).get("content", {})
            body: dict[str, Any] = next(iter(content.values()), {})
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (
                method.upper(), path, op["summary"], auth, _schema_name(body.get("schema")),
                query, ", ".join(op["responses"]))) + "</tr>")
    page = _PAGE.format(title=html.escape(spec["info"]["title"]), rows="\n".join(rows))
    return HTMLResponse(page)


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "oneOf" in schema:
        return " or ".join(_schema_name(s) for s in schema["oneOf"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    return f"list of {_schema_name(schema.get('items'))}"


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title} API</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;text-align:left}}
tr:nth-child(even){{background:#f3f3f3}}</style></head>
<body><h1>{title} API</h1>
<p>The full document, with every request schema: <a href="/openapi.json">/openapi.json</a>.
Credentials: <code>Authorization: Bearer &lt;api key&gt;</code> (apiKey) or
<code>X-Session-Token: &lt;session token&gt;</code> (sessionToken). Every 4xx answer is
<code>{{"detail": str, "errors": [{{"field", "message", "type"}}]}}</code>; on /api/v2 it is
MEMANTO's <code>{{"detail": {{"error", "message", "details"}}}}</code>, or for invalid
input <code>{{"detail": [{{"loc", "msg", "type"}}], "message": str}}</code>.</p>
<table><tr><th>method</th><th>path</th><th>summary</th><th>credentials</th><th>body</th>
<th>query</th><th>answers</th></tr>
{rows}
</table></body></html>
"""

routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
