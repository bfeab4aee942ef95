"""The handler of an Upbound kind (``upbound.Alias``): it speaks the Upbound
kind's names and calls the classic handler with the classic ones.

Desired and observed fields are renamed both ways with the alias's field map;
tags (a map in Upbound) are converted to the classic handler's tag style;
observed objects get Upbound's ``atProvider`` fields (``alias.at_provider``)
next to the classic ones. :func:`alias_handler` makes one class per alias.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, Manifest, ResourceKey

from .base import Context, Desired, FieldType, KindHandler, Observed, TagStyle
from .upbound import ALIASES, Alias

__all__ = ["AliasHandler", "alias_handler"]


def _tags_map(value: Any) -> dict[str, str] | None:
    """Upbound's tags (a map) as ``{k: v}``; None when absent or not a map."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return None


class AliasHandler(KindHandler):
    """A KindHandler speaking an Upbound kind's names over a classic handler.
    Subclasses are made by :func:`alias_handler`; see the module docstring."""

    alias: Alias
    base: KindHandler
    to_base: Mapping[str, str]
    from_base: Mapping[str, str]

    # ------------------------------------------------------------ translation

    def _base_for_provider(self, for_provider: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.alias.defaults)
        for name, value in for_provider.items():
            if name == "tags":
                tags = _tags_map(value) or {}
                out.update(self.base.tag_style.show(tags) if tags else _empty(self.base))
                continue
            out[self.to_base.get(name, name)] = value
        return out

    def _alias_for_provider(self, for_provider: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        tags_field = self.base.tag_style.field
        for name, value in for_provider.items():
            if name == tags_field:
                tags = self.base.tag_style.read(ResourceKey("", "", "", ""), for_provider)
                out["tags"] = dict(sorted((tags or {}).items()))
            elif name in self.from_base:
                out[self.from_base[name]] = value
        return out

    def _observed(self, observed: Observed | None) -> Observed | None:
        if observed is None:
            return None
        extra = {k: v for k, v in self.alias.at_provider(observed).items() if v is not None}
        return replace(
            observed,
            for_provider=self._alias_for_provider(observed.for_provider),
            at_provider={**observed.at_provider, **extra},
        )

    def _base_observed(self, observed: Observed) -> Observed:
        return replace(observed, for_provider=self._base_for_provider(observed.for_provider))

    def _base_desired(self, desired: Desired) -> Desired:
        return replace(desired, for_provider=self._base_for_provider(desired.for_provider))

    def _base_names(self, names: frozenset[str]) -> frozenset[str]:
        out = {self.to_base.get(n, n) for n in names}
        if "tags" in names and self.base.tag_style.field:
            out.add(self.base.tag_style.field)
        return frozenset(out)

    # ------------------------------------------------------------ AWS calls

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        return self._observed(self.base.get(ctx, external_name, self._base_for_provider(hint)))

    def find_owned(self, ctx: Context, owner_key: str, hint: Mapping[str, Any]) -> Observed | None:
        found = self.base.find_owned(ctx, owner_key, self._base_for_provider(hint))
        return self._observed(found)

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        return [o for o in (self._observed(o) for o in self.base.scan(ctx, app)) if o is not None]

    def create(self, ctx: Context, desired: Desired) -> str:
        return self.base.create(ctx, self._base_desired(desired))

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        self.base.update(
            ctx,
            self._base_observed(observed),
            self._base_desired(desired),
            self._base_names(changed),
        )

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        self.base.delete(ctx, self._base_observed(observed), self._base_for_provider(inputs))

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        self.base.retag(ctx, self._base_observed(observed), put, remove)

    # ------------------------------------------------------------ pure parts

    def health(self, manifest: Manifest) -> Health:
        return self.base.health(manifest)

    def check(self, key: ResourceKey, for_provider: Mapping[str, Any]) -> None:
        if "tags" in for_provider and _tags_map(for_provider["tags"]) is None:
            raise ProviderError(key, "spec.forProvider.tags must be a map")
        self.base.check(key, self._base_for_provider(for_provider))

    def same(self, name: str, want: Any, have: Any) -> bool:
        if name == "tags":
            return super().same(name, want, have)
        return self.base.same(self.to_base.get(name, name), want, have)

    def uses(self, for_provider: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        found = super().uses(for_provider)
        # What the classic handler finds (an alarm's DB instance) names classic
        # kinds: the Upbound kinds of the same resource are named too.
        for group, kind, name in self.base.uses(self._base_for_provider(for_provider)):
            found.append((group, kind, name))
            for alias in ALIASES:
                if alias.base == (group, kind):
                    found.append((alias.group, alias.kind, name))
        return sorted(set(found))

    def connection(self, observed: Observed) -> dict[str, str]:
        classic = self.base.connection(self._base_observed(observed))
        return {**classic, **self.alias.connection(classic)}

    def planned_name(self, key: ResourceKey, external_name: str | None) -> str | None:
        return self.base.planned_name(key, external_name)


def _empty(base: KindHandler) -> dict[str, Any]:
    """The classic field for "no user tags" (an explicit empty map in Upbound)."""
    if base.tag_style is TagStyle.MAP:
        return {"tags": {}}
    if base.tag_style is TagStyle.LIST:
        return {"tags": []}
    if base.tag_style is TagStyle.TAG_SET:
        return {"tagging": {"tagSet": []}}
    return {}


def alias_handler(alias: Alias, base: KindHandler) -> type[AliasHandler]:
    """The handler class of ``alias``, over the classic ``base`` handler."""
    to_base = dict(alias.fields)
    from_base = {classic: upbound for upbound, classic in to_base.items()}
    types: dict[str, FieldType] = {
        name: base.types[classic] for name, classic in to_base.items() if classic in base.types
    }
    if "tags" in to_base:
        types.pop("tags", None)
    attrs: dict[str, Any] = {
        "alias": alias,
        "base": base,
        "to_base": to_base,
        "from_base": from_base,
        "group": alias.group,
        "kind": alias.kind,
        "version": alias.version,
        "service": base.service,
        "region_field": "region" if base.region_field else None,
        "named_by_aws": base.named_by_aws,
        "global_listing": base.global_listing,
        "tag_style": TagStyle.MAP if base.tag_style is not TagStyle.NONE else TagStyle.NONE,
        "fields": frozenset(to_base),
        "write_only": frozenset(from_base[f] for f in base.write_only if f in from_base),
        "immutable": frozenset(from_base[f] for f in base.immutable if f in from_base),
        "required": alias.required,
        "unordered": frozenset(from_base[f] for f in base.unordered if f in from_base),
        "needs_password": base.needs_password,
        "names_others": dict(alias.names_others),
        "types": types,
        "password_ref_field": alias.password_ref_field or base.password_ref_field,
        "autogenerate_field": alias.autogenerate_field or base.autogenerate_field,
    }
    return type(f"Upbound{alias.kind}", (AliasHandler,), attrs)
