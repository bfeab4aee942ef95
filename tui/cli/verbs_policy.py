"""``gitwave validate``: schemas and policies over the rendered objects, for CI.

Every object after compose is checked against the Kubernetes OpenAPI schema of
the target's release (``--kubernetes-version`` overrides), a custom resource
against its CRD (in the render or on the target), a composite resource
against its XRD; then the ``--policy`` directories and the render's
ValidatingAdmissionPolicies, Rego policies and the plaintext-Secret check
(``engine.policy``). Lines read like kubeconform's and conftest's::

    deploy.yaml:12: Deployment/shop/api: spec.replicas: Invalid value: "three": …

Exit codes: 0 clean (warnings allowed), 1 violations (a schema error or a
Deny; a plaintext Secret with ``--strict``), 2 bad input (an app that does not
render, a policy that cannot run). ``plan`` and ``sync`` run the same checks
and refuse a Deny with exit 2, as every refused operation.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gitwave.compositions.definitions import parse_xrd
from gitwave.compositions.selection import validated
from gitwave.engine.app_pipeline import desired_of
from gitwave.engine.apps.loader import checkout_for
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.kube_versions import current_version, kubernetes_version
from gitwave.engine.model import Resource
from gitwave.engine.policy import Action, Check, CheckInput, Finding, check, load_policy_dirs
from gitwave.engine.policy.field_lines import FileReader, field_line, reader_for
from gitwave.engine.policy.gate import app_policy_dirs, lookups, target_version
from gitwave.engine.validate import check_objects
from gitwave.tui.cli.app_listing import chosen_apps, report_error
from gitwave.tui.cli.context import EXIT_CHANGES, EXIT_OK, EXIT_USAGE, Context
from gitwave.tui.cli.findings import print_all
from gitwave.tui.cli.output import dump
from gitwave.tui.cli.verbs_app import render_offline

_XRD = ("apiextensions.crossplane.io", "CompositeResourceDefinition")
_MACHINERY = frozenset({"apiextensions.crossplane.io", "kro.run"})


def _where(resource: Resource, path: str, read: FileReader) -> str:
    if resource.source is None:
        return resource.key.display
    line = field_line(resource.source, path, read) if path else resource.source.line
    return f"{resource.source.file}:{line}" if line else resource.source.file


def schema_findings(resources: list[Resource], ctx: Context, read: FileReader) -> list[Finding]:
    """Schema errors of built-in kinds, custom resources and composite resources."""
    found: list[Finding] = []
    # Composition machinery is the composition engine's to read, never applied;
    # composite resources are checked against their XRD below.
    composite = _xrd_kinds(resources)
    applied = [
        r
        for r in resources
        if r.key.group not in _MACHINERY and (r.key.group, r.key.kind) not in composite
    ]
    for resource, problem in check_objects(applied, targets=ctx.targets):
        display = resource.key.display
        if not problem.errors:
            found.append(
                Finding(
                    Check.SCHEMA, Action.DENY, display, _where(resource, "", read), problem.message
                )
            )
            continue
        for error in problem.errors:
            text = error.text(reveal=not resource.is_secret)
            message = text.partition(": ")[2] if error.path else text
            found.append(
                Finding(
                    Check.SCHEMA,
                    Action.DENY,
                    display,
                    _where(resource, error.path, read),
                    message,
                    path=error.path,
                )
            )
    found += _composite_findings(resources, read)
    return found


def _xrd_kinds(resources: list[Resource]) -> set[tuple[str, str]]:
    found = set()
    for resource in resources:
        if (resource.key.group, resource.key.kind) == _XRD:
            spec = resource.manifest.get("spec") or {}
            names = spec.get("names") or {} if isinstance(spec, dict) else {}
            if isinstance(names, dict):
                found.add((str(spec.get("group", "")), str(names.get("kind", ""))))
    return found


def _composite_findings(resources: list[Resource], read: FileReader) -> list[Finding]:
    xrds = {}
    for resource in resources:
        if (resource.key.group, resource.key.kind) == _XRD:
            try:
                xrd = parse_xrd(resource)
            except ValidationError:
                continue  # compose reports a broken XRD when the app is planned
            xrds[(xrd.group, xrd.kind)] = xrd
    found: list[Finding] = []
    for resource in resources:
        if (resource.key.group, resource.key.kind) not in xrds:
            continue
        xrd = xrds[(resource.key.group, resource.key.kind)]
        version = resource.api_version.rpartition("/")[2]
        if version not in xrd.versions:
            try:
                validated(resource, xrd)
            except ValidationError as err:
                found.append(
                    Finding(
                        Check.SCHEMA,
                        Action.DENY,
                        resource.key.display,
                        _where(resource, "", read),
                        err.detail,
                    )
                )
            continue
        schema = xrd.schema(version)
        for problem in schema.problems(schema.default(resource.manifest)):
            found.append(
                Finding(
                    Check.SCHEMA,
                    Action.DENY,
                    resource.key.display,
                    _where(resource, problem.path, read),
                    problem.message,
                    path=problem.path,
                )
            )
    return found


def cmd_validate(ctx: Context) -> int:
    options = ctx.policy_options()
    try:
        load_policy_dirs(options.dirs)  # a broken --policy directory stops every app
    except GitwaveError as exc:
        report_error(ctx, "policy", exc)
        return EXIT_USAGE
    errors = False
    findings: list[tuple[str, Finding]] = []
    checked = 0
    with kubernetes_version(target_version(ctx.targets, options.kubernetes_version)):
        version = current_version()
        for entry in chosen_apps(ctx):
            try:
                app = entry.loaded()
                policies = load_policy_dirs((*options.dirs, *app_policy_dirs(app)))
                rendered = render_offline(ctx, app)
                read = reader_for(checkout_for(app).root)
                resources = list(rendered.resources)
                try:  # the composed objects too; a broken XR is reported below
                    graph = desired_of(resources).graph
                    resources = [graph.resources[k] for k in graph.order if k in graph.resources]
                except GitwaveError:
                    pass
                found = schema_findings(resources, ctx, read)
                versions = {(r.key.group, r.key.kind): r.api_version for r in resources}
                live, list_live = lookups(ctx.targets, {}, versions)
                found += check(
                    CheckInput(
                        objects=resources,
                        rendered=rendered.resources,
                        encrypted=rendered.encrypted,
                        where=lambda r: _where(r, "", read),  # noqa: B023 (used at once)
                    ),
                    policies,
                    strict=options.strict,
                    live=live,
                    list_live=list_live,
                )
            except GitwaveError as exc:
                report_error(ctx, entry.name, exc)
                errors = True
                continue
            checked += len(resources)
            findings += [(app.name, f) for f in found]
    violations = [f for _, f in findings if f.action is Action.DENY]
    if ctx.args.junit:
        _write_junit(Path(ctx.args.junit), findings)
    if ctx.output in ("json", "yaml"):
        ctx.out(
            dump(
                {
                    "kubernetesVersion": version,
                    "objects": checked,
                    "violations": len(violations),
                    "findings": [{"app": app, **f.to_dict()} for app, f in findings],
                },
                ctx.output,
            )
        )
    else:
        print_all(ctx, (f for _, f in findings))
        summary = (
            f"{checked} objects checked against Kubernetes {version}: "
            f"{len(violations)} violations, {len(findings) - len(violations)} warnings"
        )
        ctx.out(ctx.paint(summary, "bold"))
    if errors:
        return EXIT_USAGE
    return EXIT_CHANGES if violations else EXIT_OK


def _write_junit(path: Path, findings: list[tuple[str, Finding]]) -> None:
    """One testsuite per app, one testcase per finding (failure for a violation,
    skipped with the message for a warning), as CI systems read JUnit XML."""
    suites = ET.Element("testsuites", name="gitwave validate")
    by_app: dict[str, list[Finding]] = {}
    for app, finding in findings:
        by_app.setdefault(app, []).append(finding)
    for app, items in sorted(by_app.items()):
        failures = sum(1 for f in items if f.action is Action.DENY)
        suite = ET.SubElement(
            suites, "testsuite", name=app, tests=str(len(items)), failures=str(failures)
        )
        for finding in items:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{app}.{finding.check.value}",
                name=f"{finding.subject} {finding.path}".strip(),
                file=finding.where.rpartition(":")[0] or finding.where,
            )
            tag = "failure" if finding.action is Action.DENY else "skipped"
            element = ET.SubElement(case, tag, message=finding.text())
            element.text = finding.text()
    path.write_text(ET.tostring(suites, encoding="unicode"), encoding="utf-8")


__all__ = ["cmd_validate", "schema_findings"]
