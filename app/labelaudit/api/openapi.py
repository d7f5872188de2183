"""The OpenAPI document people build clients on: readable operation ids, tags, problem+json errors everywhere.

FastAPI declares its own ``HTTPValidationError`` body for every 422, while the
service answers every error with RFC 9457 problem+json (:mod:`labelaudit.api.errors`);
:func:`install` rewrites the document so each error response says what really comes.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute

from labelaudit.api.errors import PROBLEM_JSON
from labelaudit.api.schemas import Problem

TAGS = [
    {"name": "datasets", "description": "Upload datasets (tables, arrays, IDX, image zips, your own pred_probs), "
                                        "read, delete, derive noisy copies."},
    {"name": "audits", "description": "Queue an audit, poll its progress, cancel or delete it, read its ranked "
                                      "issues and export them."},
    {"name": "dashboard queries", "description": "What dashboards ask of a finished audit: class table, noise "
                                                 "matrix, score histogram, one example, comparisons."},
    {"name": "usage", "description": "The caller's holdings against its quotas."},
    {"name": "health", "description": "Liveness, readiness and metrics."},
]


def operation_id(route: APIRoute) -> str:
    """``<resource>-<action>``: ``datasets-upload``, ``audits-create``, ``audits-get-issues``, ``health-healthz``.

    The resource is the path's first segment after ``/v1`` (else the route's first
    tag); the action is the route function's name without the resource's name.
    """
    parts = [p for p in route.path.split("/") if p and not p.startswith("{")]
    if len(parts) > 1 and parts[0] == "v1":
        resource = parts[1]
    else:
        resource = (route.tags[0] if route.tags else "service").replace(" ", "-")
    action = re.sub(rf"_{re.escape(resource.rstrip('s'))}s?$", "", route.name)
    return f"{resource}-{action.replace('_', '-')}"


def install(app: FastAPI) -> None:
    """Serve the rewritten document from ``app.openapi()``."""
    original = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        _add_problem(schema)
        schema["tags"] = TAGS
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def _add_problem(schema: dict) -> None:
    """The Problem model in the components, as the body of every error response (FastAPI's 422 model gone)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in problem.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components["Problem"] = problem
    body = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if status[:1] in ("4", "5"):
                    response["content"] = dict(body)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
