"""Athena's two wire protocols, read the same way for the test doubles of Athena.

botocore up to 1.44.13 speaks JSON 1.1 to Athena: every call is a `POST /` naming its operation
in `X-Amz-Target: AmazonAthena.<Operation>`, with every parameter in the JSON body. From 1.44.18
its model says `"protocol": "rest-json"`: no `X-Amz-Target`; the method and path name the
operation (`POST /workgroups`, `GET /query-executions/{QueryExecutionId}/results`), some
parameters travel in the path and the query string (`?MaxResults=10&NextToken=...`), the rest
in a JSON body. `read` turns a request in either protocol into (operation, parameters), the REST
routes taken from the Athena model of the installed botocore (the client that sent the request).

moto's server reads whichever protocol the installed botocore's model names, as the client
does; `moto_routes_athena_rest` lets REST-JSON calls reach it (see there).
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import botocore.session
import pytest

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
REST_CONTENT_TYPE = "application/json"
TARGET_PREFIX = "AmazonAthena."


class UnknownOperation(Exception):
    """The request names no Athena operation in either protocol."""


@dataclass(frozen=True)
class Call:
    operation: str  # e.g. "StartQueryExecution"
    params: dict[str, Any]  # the operation's input, as boto3 was given it
    protocol: str  # "json" (X-Amz-Target) or "rest-json" (method and path)

    @property
    def content_type(self) -> str:
        return JSON_CONTENT_TYPE if self.protocol == "json" else REST_CONTENT_TYPE


@dataclass(frozen=True)
class Route:
    method: str
    path: re.Pattern[str]
    labels: tuple[str, ...]  # the path's {labels}, in order
    operation: Any  # botocore.model.OperationModel


def read(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Call:
    """The Athena call in a request: `target` is the request line's path and query."""
    amz_target = headers.get("X-Amz-Target")
    if amz_target:
        if not amz_target.startswith(TARGET_PREFIX):
            raise UnknownOperation(amz_target)
        return Call(amz_target[len(TARGET_PREFIX) :], json.loads(body or b"{}"), "json")
    path, _, query = target.partition("?")
    for route in _routes():
        match = route.path.fullmatch(path) if route.method == method else None
        if match:
            return Call(
                route.operation.name, _rest_params(route, match, query, headers, body), "rest-json"
            )
    raise UnknownOperation(f"{method} {path}")


@functools.cache
def _routes() -> tuple[Route, ...]:
    """The REST routes of the installed botocore's Athena model (none while it speaks JSON 1.1,
    whose operations are all `POST /`). Fixed paths before those with labels."""
    model = botocore.session.get_session().get_service_model("athena")
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri = operation.http.get("requestUri", "/").partition("?")[0]
        if uri == "/":
            continue
        labels = tuple(m.group(1) for m in re.finditer(r"\{([^}+]+)\+?\}", uri))
        pattern = ""
        for literal, label in re.findall(r"([^{]*)(\{[^}]+\})?", uri):
            pattern += re.escape(literal)
            if label:
                pattern += "(.+)" if label.endswith("+}") else "([^/]+)"
        routes.append(Route(operation.http["method"], re.compile(pattern), labels, operation))
    routes.sort(key=lambda r: (len(r.labels), -len(r.path.pattern)))
    return tuple(routes)


def _rest_params(
    route: Route, match: re.Match[str], query: str, headers: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    shape = route.operation.input_shape
    params: dict[str, Any] = json.loads(body) if body.strip() else {}
    if shape is None:
        return params
    path_values = dict(zip(route.labels, match.groups(), strict=True))
    query_values = urllib.parse.parse_qs(query, keep_blank_values=True)
    for member, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        wire_name = member_shape.serialization.get("name", member)
        if location == "uri" and wire_name in path_values:
            params[member] = _typed(member_shape, urllib.parse.unquote(path_values[wire_name]))
        elif location == "querystring" and wire_name in query_values:
            values = query_values[wire_name]
            if member_shape.type_name == "list":
                params[member] = [_typed(member_shape.member, v) for v in values]
            else:
                params[member] = _typed(member_shape, values[0])
        elif location == "header" and wire_name in headers:
            params[member] = _typed(member_shape, headers[wire_name])
    return params


def _typed(shape: Any, text: str) -> Any:
    if shape.type_name in ("integer", "long"):
        return int(text)
    if shape.type_name == "boolean":
        return text.lower() == "true"
    if shape.type_name in ("float", "double"):
        return float(text)
    return text


def error_body(code: str, message: str) -> dict[str, str]:
    """An error both protocols' parsers read (`__type`; REST-JSON also takes x-amzn-ErrorType)."""
    return {"__type": code, "Message": message}


# --- moto's server --------------------------------------------------------------------------


@contextmanager
def moto_routes_athena_rest() -> Iterator[None]:
    """While open, moto's server takes Athena's REST-JSON calls too.

    moto routes an Athena request by the installed botocore's model (`moto.core.routing`: by
    X-Amz-Target under JSON 1.1, by method and path under REST-JSON) and serves every call the
    tests make, but moto 5.2.6's URL table (`moto/athena/urls.py`) lists `/` only, JSON 1.1's one
    path: a REST call (`POST /workgroups`) is answered 404 before it reaches moto's router. The
    table gets every path (`/.*`, the one pattern moto turns into a Flask path of any depth);
    the server's app for Athena is made at its first Athena request, so
    open this before the server serves one. Nothing changes where moto lists the paths itself.
    """
    from moto.athena import urls

    with pytest.MonkeyPatch.context() as patch:
        if all(path == "{0}/$" for path in urls.url_paths):
            patch.setitem(urls.url_paths, "{0}/.*$", urls.AthenaResponse.dispatch)
        yield
