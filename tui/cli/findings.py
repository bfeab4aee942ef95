"""Policy findings as the CLI prints them: ``warning: file:line: Kind/ns/name: message``."""

from __future__ import annotations

from collections.abc import Iterable

from gitwave.engine.policy import Action, Finding
from gitwave.tui.cli.context import Context


def print_findings(ctx: Context, findings: Iterable[object]) -> None:
    """Warnings the policy stage left on a plan (stderr); Audit findings are only
    recorded (the sync's events), as an API server only writes them to its audit log."""
    print_all(
        ctx,
        (f for f in findings if isinstance(f, Finding) and f.action is not Action.AUDIT),
        stream="err",
    )


def print_all(ctx: Context, findings: Iterable[Finding], stream: str = "out") -> None:
    write = ctx.out if stream == "out" else ctx.err
    for finding in findings:
        label = {Action.DENY: "error", Action.WARN: "warning", Action.AUDIT: "audit"}[
            finding.action
        ]
        color = {Action.DENY: "red", Action.WARN: "yellow", Action.AUDIT: "dim"}[finding.action]
        write(ctx.paint(f"{label}: {finding.text()}", color))


__all__ = ["print_all", "print_findings"]
