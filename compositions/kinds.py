"""The kinds that define composites, apart from their parsers: ``compose``
checks a render for them before it imports the composition engine, so an app
with none (most apps) never loads it."""

from __future__ import annotations

__all__ = ["COMPOSITION", "CROSSPLANE_GROUP", "DEFINING_KINDS", "KRO_GROUP", "RGD", "XRD"]

CROSSPLANE_GROUP = "apiextensions.crossplane.io"
KRO_GROUP = "kro.run"
XRD = (CROSSPLANE_GROUP, "CompositeResourceDefinition")
COMPOSITION = (CROSSPLANE_GROUP, "Composition")
RGD = (KRO_GROUP, "ResourceGraphDefinition")
DEFINING_KINDS = frozenset({XRD, COMPOSITION, RGD})
