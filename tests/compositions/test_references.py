"""${…} references (CEL): compose-time values, late binding, resolve(), edges and cycles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.compositions import (
    ANNOTATION_REFERENCES,
    PendingReference,
    references,
    resolve,
    unresolved,
)
from gitwave.compositions.expressions import compile_expression
from gitwave.engine.errors import CycleError, GitwaveError, ValidationError
from gitwave.engine.graph import build_graph
from gitwave.engine.model import Dependency, Manifest, Resource, ResourceKey
from tests.compositions.support import compose_app, thing

PARAMS = {"name": "shop", "replicas": 3, "public": True, "zones": ["a", "b"], "tags": {"t": "x"}}


def templated(name: str = "thing", **for_provider: Any) -> dict[str, Any]:
    template = thing(name)
    template["base"]["spec"]["forProvider"].update(for_provider)
    return template


def by_name(result: Any) -> dict[str, Resource]:
    return {r.key.name.removeprefix("demo-"): r for r in result.resources}


@dataclass
class Case:
    reason: str
    given: Any
    want: Any


COMPOSE_TIME_CASES = [
    Case("a standalone integer stays an integer", "${schema.spec.parameters.replicas}", 3),
    Case("a standalone boolean stays a boolean", "${schema.spec.parameters.public}", True),
    Case("a standalone list stays a list", "${schema.spec.parameters.zones}", ["a", "b"]),
    Case("a standalone map stays a map", "${schema.spec.parameters.tags}", {"t": "x"}),
    Case("CEL arithmetic", "${schema.spec.parameters.replicas * 2}", 6),
    Case("CEL functions: size()", "${size(schema.spec.parameters.zones)}", 2),
    Case("cel-go string extensions", "${schema.spec.parameters.name.upperAscii()}", "SHOP"),
    Case(
        "a comprehension's own variable is not a reference",
        "${schema.spec.parameters.zones.map(z, 'eu-' + z)}",
        ["eu-a", "eu-b"],
    ),
    Case("xr is the composite too", "${xr.metadata.name}", "demo"),
    Case(
        "embedded expressions interpolate as text",
        "${schema.spec.parameters.name}-${schema.spec.parameters.replicas}-${schema.spec.parameters.public}",
        "shop-3-true",
    ),
    Case(
        "$${ is a literal ${",
        "echo $${HOME} for ${schema.spec.parameters.name}",
        "echo ${HOME} for shop",
    ),
    Case("text without expressions is left alone", "plain text", "plain text"),
]


@pytest.mark.parametrize("case", COMPOSE_TIME_CASES, ids=lambda c: c.reason)
def test_composite_references_are_evaluated_when_composing(case: Case) -> None:
    result = compose_app([templated(value=case.given, nested=[{"v": case.given}])], PARAMS)

    manifest = by_name(result)["thing"].manifest
    assert manifest["spec"]["forProvider"]["value"] == case.want
    assert manifest["spec"]["forProvider"]["nested"] == [{"v": case.want}]
    assert ANNOTATION_REFERENCES not in manifest["metadata"]["annotations"]
    assert result.edges == ()


def two_resources() -> list[dict[str, Any]]:
    return [
        templated("db", engine="postgres"),
        templated(
            "app",
            host="${db.status.atProvider.address}",
            port="${db.status.atProvider.port}",
            url="postgres://${db.status.atProvider.address}:${db.status.atProvider.port}/${schema.spec.parameters.name}",
            script="echo $${PATH}",
        ),
    ]


DB = ResourceKey("things.example.org", "Thing", "", "demo-db")
APP = ResourceKey("things.example.org", "Thing", "", "demo-app")


def test_sibling_references_are_kept_for_late_binding_and_become_edges() -> None:
    result = compose_app(two_resources(), PARAMS)

    app = by_name(result)["app"]
    assert app.manifest["spec"]["forProvider"] == {
        "host": "${db.status.atProvider.address}",
        "port": "${db.status.atProvider.port}",
        # The composite's part is filled in; the database's waits.
        "url": "postgres://${db.status.atProvider.address}:${db.status.atProvider.port}/shop",
        # Literal ${ stays escaped until resolve(), so it is never taken for a reference.
        "script": "echo $${PATH}",
    }
    assert app.annotations[ANNOTATION_REFERENCES] == f"db={DB}"
    assert references(app) == {"db": DB}
    assert unresolved(app) == {"db"}
    assert unresolved(by_name(result)["db"]) == frozenset()
    assert result.edges == (Dependency(DB, APP),)


def live_db(**at_provider: Any) -> dict[ResourceKey, Manifest]:
    return {DB: {"metadata": {"name": "demo-db"}, "status": {"atProvider": at_provider}}}


def test_resolve_fills_values_from_the_live_objects() -> None:
    app = by_name(compose_app(two_resources(), PARAMS))["app"]
    live = live_db(address="db.internal", port=5432)

    resolved = resolve(app, lookup=live.get)

    assert resolved.manifest["spec"]["forProvider"] == {
        "host": "db.internal",
        "port": 5432,  # standalone: the CEL value's type
        "url": "postgres://db.internal:5432/shop",
        "script": "echo ${PATH}",
    }
    assert ANNOTATION_REFERENCES not in resolved.manifest["metadata"]["annotations"]
    assert unresolved(resolved) == frozenset()
    assert resolved.key == app.key and resolved.source == app.source
    # The input is never changed, and a resolved resource resolves to itself.
    assert app.manifest["spec"]["forProvider"]["host"] == "${db.status.atProvider.address}"
    assert resolve(resolved, lookup=live.get) is resolved


@dataclass
class PendingCase:
    reason: str
    live: dict[ResourceKey, Manifest]
    want: str


PENDING_CASES = [
    PendingCase(
        "the referenced object does not exist yet",
        {},
        "Thing/demo-app: waits for Thing/demo-db: ${db.status.atProvider.address} is not known "
        "yet: the object does not exist",
    ),
    PendingCase(
        "the referenced field is not set yet",
        live_db(address="db.internal"),
        "Thing/demo-app: waits for Thing/demo-db: ${db.status.atProvider.port} is not known yet: "
        "field 'port' is not set",
    ),
]


@pytest.mark.parametrize("case", PENDING_CASES, ids=lambda c: c.reason)
def test_pending_reference(case: PendingCase) -> None:
    app = by_name(compose_app(two_resources(), PARAMS))["app"]

    with pytest.raises(PendingReference) as raised:
        resolve(app, lookup=case.live.get)

    assert str(raised.value) == case.want
    assert isinstance(raised.value, GitwaveError)
    assert raised.value.retriable
    assert raised.value.key == APP
    assert raised.value.waits_for == DB


def test_a_type_error_at_resolve_time_is_not_retried() -> None:
    template = templated("app", port="${db.status.atProvider.port + 1}")
    app = by_name(compose_app([templated("db"), template], PARAMS))["app"]

    with pytest.raises(ValidationError) as raised:
        resolve(app, lookup=live_db(port="5432").get)

    assert not raised.value.retriable
    assert "${db.status.atProvider.port + 1}" in str(raised.value)


@dataclass
class ErrorCase:
    reason: str
    value: str
    want: str


ERROR_CASES = [
    ErrorCase(
        "a reference to an unknown resource names the resource and expression",
        "${cache.status.endpoint}",
        "XApp/demo (app.yaml:3): composition xapps, resource app: ${cache.status.endpoint} "
        "refers to 'cache', which is not a resource of this composition or the composite "
        "(known: db, schema, xr)",
    ),
    ErrorCase(
        "a resource referring to itself",
        "${app.metadata.name}",
        "${app.metadata.name} refers to the resource itself ('app')",
    ),
    ErrorCase(
        "one expression mixing the composite and a sibling",
        "${schema.spec.parameters.name + db.status.host}",
        "mixes the composite with another resource's values",
    ),
    ErrorCase("an expression that does not compile", "${db.status.}", "does not compile"),
    ErrorCase("an unclosed expression", "${db.status.host", "unclosed '${'"),
    ErrorCase("an empty expression", "x${}", "empty expression"),
    ErrorCase(
        "a composite field that does not exist",
        "${schema.spec.parameters.nothing}",
        "${schema.spec.parameters.nothing}: field 'nothing' is not set",
    ),
    ErrorCase(
        "a composite expression with a type error",
        "${schema.spec.parameters.name + 1}",
        "${schema.spec.parameters.name + 1}: ",
    ),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.reason)
def test_reference_error(case: ErrorCase) -> None:
    with pytest.raises(ValidationError) as raised:
        compose_app([templated("db"), templated("app", value=case.value)], PARAMS)

    assert case.want in str(raised.value)


def test_a_name_that_needs_a_late_value_is_refused() -> None:
    template = templated("app")
    template["base"]["metadata"] = {"name": "app-${db.status.id}"}

    with pytest.raises(ValidationError, match=r"metadata\.name 'app-\$\{db\.status\.id\}' reads "):
        compose_app([templated("db"), template], PARAMS)


def test_a_name_from_the_composite_is_fine() -> None:
    template = templated("app")
    template["base"]["metadata"] = {"name": "${schema.spec.parameters.name}-app"}

    result = compose_app([template], PARAMS)

    assert [r.key.name for r in result.resources] == ["shop-app"]


def test_reference_cycles_are_reported_by_the_graph_stage() -> None:
    templates = [
        templated("a", peer="${b.status.id}"),
        templated("b", peer="${c.status.id}"),
        templated("c", peer="${a.status.id}"),
    ]

    result = compose_app(templates, PARAMS)

    with pytest.raises(CycleError) as raised:
        build_graph(result.resources, extra_edges=result.edges)
    assert str(raised.value) == (
        "dependency cycle: Thing/demo-a -> Thing/demo-c -> Thing/demo-b -> Thing/demo-a"
    )


def test_references_order_the_graph() -> None:
    result = compose_app(two_resources(), PARAMS)

    graph = build_graph(result.resources, extra_edges=result.edges)

    assert [[k.name for k in s.keys] for s in graph.stages] == [["demo-db"], ["demo-app"]]


def test_expressions_are_compiled_once() -> None:
    first = compile_expression("db.status.atProvider.address")
    again = compile_expression("db.status.atProvider.address")

    assert first is again
    assert first.names == {"db"}
