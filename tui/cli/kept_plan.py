"""`gitwave plan` of an app nobody touched: the last plan's text, if it
found nothing to do (``engine.plan_verdict``). The CLI side: what it looks
up first to name the inputs, and when a plan it printed may be kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gitwave.engine.app_pipeline import memo_name
from gitwave.engine.apps import AppSpec
from gitwave.engine.decryption_keys import cached_entry_for, render_for
from gitwave.engine.operations import AppState
from gitwave.engine.plan_verdict import (
    entry_identity,
    is_no_op,
    render_identity,
    verdict_key,
    verdicts,
)
from gitwave.engine.render import Rendered
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_request import SyncRequest

_log = logging.getLogger(__name__)
_KEPT = "%s: nothing changed since a plan that found nothing to do: its text"


@dataclass(frozen=True, slots=True)
class KeptPlan:
    """The render a plan starts from (None: not rendered yet), its verdict key
    ("" for none), the text kept under that key (None: plan in full) and the
    revision the kept text is of."""

    rendered: Rendered | None = None
    key: str = ""
    text: str | None = None
    revision: str = ""


def kept_plan(
    app: AppSpec, request: SyncRequest, targets: ProviderRouter, *, form: str
) -> KeptPlan:
    """The plan kept for ``app`` under its inputs. The render cache entry's
    head names the render first (its 10,000 objects are not decoded: most of
    a kept plan's time); on a miss, ``app`` is rendered (the plan needs it
    anyway) and looked up again under the render's own identity. Raises what
    ``render_for`` raises."""
    if app.removed_from:
        return KeptPlan()  # nothing to render: only what it left
    store = verdicts()
    name = memo_name(app)
    head = cached_entry_for(app, targets)
    if head is not None:
        key = verdict_key(app, request, render=entry_identity(head), targets=targets, form=form)
        text = store.load(name, key)
        if text is not None:
            _log.info(_KEPT, app.name)
            return KeptPlan(None, key, text, head.revision)
    rendered = render_for(app, targets)
    key = verdict_key(app, request, render=render_identity(rendered), targets=targets, form=form)
    text = store.load(name, key)
    if text is not None:
        _log.info(_KEPT, app.name)
    return KeptPlan(rendered, key, text, rendered.revision)


def keep_if_no_op(
    kept: KeptPlan,
    state: AppState,
    text: str,
    *,
    request: SyncRequest,
    targets: ProviderRouter,
    form: str,
    shown_more: bool,
) -> None:
    """Keep ``text`` as the app's plan when it found nothing to do, nothing
    else was printed (``shown_more``: findings, namespaces, a blast radius)
    and the inputs are still the ones keyed before the plan (the targets'
    stamp did not move while it read them)."""
    if not kept.key or kept.rendered is None or shown_more or not is_no_op(state.plan):
        return
    after = verdict_key(
        state.app, request, render=render_identity(kept.rendered), targets=targets, form=form
    )
    if after == kept.key:
        verdicts().save(memo_name(state.app), kept.key, text)
