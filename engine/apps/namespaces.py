"""Where an app's namespaced objects go when they name no namespace.

An app's destination namespace (Argo CD ``destination.namespace``, Flux
``targetNamespace``) fills in a missing ``metadata.namespace`` at render time.
An app that names none (a plain directory, an Application without one) gets the
caller's default: ``-n`` on the command line, else the kubeconfig context's
namespace on a real cluster, else ``default`` (what kubectl and Argo CD do).
Filling it in on the spec, before anything is rendered, is what makes a plan
and the sync that follows agree on every object's key.
"""

from __future__ import annotations

from dataclasses import replace

from gitwave.engine.apps.model import AppSpec

DEFAULT_NAMESPACE = "default"


def with_default_namespace(app: AppSpec, namespace: str) -> AppSpec:
    """``app`` (and its children) with ``namespace`` as the destination
    namespace of every app that names none; an app that names one keeps it."""
    children = tuple(with_default_namespace(child, namespace) for child in app.children)
    if app.destination_namespace or not namespace:
        return app if children == app.children else replace(app, children=children)
    render = app.source.render
    if not render.default_namespace:
        render = replace(render, default_namespace=namespace)
    return replace(
        app,
        destination_namespace=namespace,
        source=replace(app.source, render=render),
        children=children,
    )


__all__ = ["DEFAULT_NAMESPACE", "with_default_namespace"]
