"""The API versions a cluster serves, as Helm's ``.Capabilities.APIVersions``
holds them: ``group/version`` and ``group/version/Kind`` (``v1`` and
``v1/ConfigMap`` for the core group), from discovery (``discovery``)."""

from __future__ import annotations

from .discovery import Discovery


def served_api_versions(discovery: Discovery) -> tuple[str, ...]:
    """Every version of every served kind, subresources left out, sorted.
    Raises what discovery raises when the cluster cannot be asked."""
    served: set[str] = set()
    for rtype in discovery.served():
        if "/" in rtype.plural:  # a subresource (pods/log) is no API version of its own
            continue
        served.update((rtype.api_version, f"{rtype.api_version}/{rtype.kind}"))
    return tuple(sorted(served))


__all__ = ["served_api_versions"]
