"""Polling an app whose chart comes from a Helm repository (Argo CD
``spec.source.chart``): which version its ``targetRevision`` range picks now,
the way the reconcile loop polls a Git source for its commit."""

from __future__ import annotations

from dataclasses import replace

from gitwave.engine.apps.model import AppSpec
from gitwave.engine.render.charts import ChartRef, fetch_chart


def pin_chart_version(app: AppSpec) -> tuple[str, AppSpec]:
    """(the chart version ``app``'s range picks now, ``app`` pinned to it).

    Fetches the chart when that version is not cached yet (the sync needs it
    anyway). Raises RenderError naming the app and the URL when the repository
    cannot be read."""
    chart = app.source.render.chart
    if chart is None:
        raise ValueError(f"{app.where}: not a Helm repository chart")
    fetched = fetch_chart(ChartRef(chart.repo_url, chart.chart, chart.version, where=app.where))
    render = replace(app.source.render, chart=replace(chart, version=fetched.version))
    return fetched.version, replace(app, source=replace(app.source, render=render))


__all__ = ["pin_chart_version"]
