"""Compare: which ``forProvider`` fields Git wants differently from AWS.

Two kinds of field: those AWS reports, compared with what it has now (each
kind says when two values mean the same, ``KindHandler.same``), and
write-only inputs AWS never reports (a DB instance's master password
reference, a bucket's ACL), compared with what gitwave recorded when it last
wrote them. A
field that cannot change in place is a ProviderError naming both values.
``value_comparer`` hands the same notion of equal to the engine's plan diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.api import SameValue
from gitwave.engine.errors import ProviderError

from .kinds import KindHandler, Observed
from .managed import Managed, ManagementAction, ManagementPolicies


def changed_fields(handler: KindHandler, managed: Managed, observed: Observed) -> frozenset[str]:
    """The forProvider fields AWS has differently; ProviderError for one that
    cannot change in place."""
    key = managed.key
    skip = {handler.tag_style.field, *handler.write_only}
    changed = set()
    for name, want in managed.for_provider.items():
        if name in skip or want is None:
            continue
        have = observed.for_provider.get(name)
        if handler.same(name, want, have):
            continue
        if name in handler.immutable or name == handler.region_field:
            error = ProviderError(
                key,
                f"spec.forProvider.{name} cannot change in place (AWS has {have!r}, "
                f"Git asks for {want!r})",
            )
            error.hint = (
                "create a new resource under another name and move to it, or put the old value back"
            )
            raise error
        changed.add(name)
    return frozenset(changed)


def changed_inputs(
    handler: KindHandler, managed: Managed, recorded: Mapping[str, Any] | None
) -> frozenset[str]:
    """The write-only fields Git sets differently from ``recorded`` (the inputs
    gitwave recorded on the resource; None when it recorded none).
    ProviderError for an immutable one: AWS cannot report these, so the record
    is what they were created with."""
    inputs = recorded or {}
    changed = frozenset(
        f
        for f in handler.write_only
        if f in managed.for_provider and managed.for_provider[f] != inputs.get(f)
    )
    if recorded is not None:
        frozen = sorted(changed & handler.immutable)
        if frozen:
            raise ProviderError(
                managed.key,
                f"spec.forProvider.{frozen[0]} cannot change after creation (it was "
                f"{inputs.get(frozen[0])!r}, Git asks for "
                f"{managed.for_provider[frozen[0]]!r})",
            )
    return changed


_FOR_PROVIDER = "spec.forProvider"


def value_comparer(handler: KindHandler, policies: ManagementPolicies) -> SameValue:
    """The plan's comparison for one object of ``handler``'s kind: each
    ``forProvider`` field as the kind compares it (AWS's case, order and
    version spellings; ``KindHandler.same``), and no ``forProvider`` drift at
    all when gitwave may not update the resource (observe-only): such fields
    describe it, gitwave never writes them."""

    def same(path: str, want: Any, have: Any) -> bool:
        if path == _FOR_PROVIDER:
            return not policies.allows(ManagementAction.UPDATE)
        name = path.removeprefix(_FOR_PROVIDER + ".")
        if name == path or not name.isidentifier():
            return False  # not a top-level forProvider field: compared as it is
        return handler.same(name, want, have)

    return same
