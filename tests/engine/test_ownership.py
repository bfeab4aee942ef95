"""Whose a live object is, and what a plan does with it (issue 10 items 8, 9, 12):
the pure plan stage, table by table. The command line runs the same rules on
the sandbox in tests/tui/test_cli_ownership.py."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from gitwave.engine.errors import OwnershipError
from gitwave.engine.graph import build_graph
from gitwave.engine.model import (
    ANNOTATION_SYNC_OPTIONS_ARGO,
    ANNOTATION_TRACKING_ID,
    Action,
    Live,
    Owner,
    Plan,
    Resource,
    SyncStatus,
)
from gitwave.engine.plan import PlanOptions, make_plan
from tests.engine.test_plan import res

APP = "shop"
SOURCE = "0123456789ab"
OURS = Owner(APP, SOURCE)
SETTINGS = res("ConfigMap", "settings", "shop", data={"mode": "prod"})
OLD = res("ConfigMap", "old", "shop", data={})


def live(resource: Resource, owner: Owner | None, *, ann: dict[str, str] | None = None) -> Live:
    """``resource`` as it is live, applied by ``owner`` (None: made by hand)."""
    manifest = copy.deepcopy(resource.manifest)
    annotations = manifest["metadata"].setdefault("annotations", {})
    annotations.update(ann or {})
    if owner is not None:
        annotations[ANNOTATION_TRACKING_ID] = owner.tracking_id(resource.key)
    return Live(resource.key, manifest, "1")


def plan_of(
    resources: Sequence[Resource],
    *,
    seen: Sequence[Live] = (),
    tracked: Sequence[Live] = (),
    **options: Any,
) -> Plan:
    return make_plan(
        app=APP,
        source=SOURCE,
        revision="abc123",
        graph=build_graph(list(resources)),
        live={s.key: s for s in seen},
        tracked=tracked,
        options=PlanOptions(source_label="github.com/org/repo shop", **options),
        namespaces_live=("shop",),
    )


def actions(plan: Plan) -> dict[str, str]:
    return {t.key.display: t.action.value for t in plan.tasks()}


@dataclass(frozen=True)
class Refused:
    reason: str
    seen: tuple[Live, ...] = ()
    tracked: tuple[Live, ...] = ()
    message: str = ""


REFUSED = [
    Refused(
        "a desired object another app applied",
        seen=(live(SETTINGS, Owner("billing", "fedcba987654")),),
        message="ConfigMap/shop/settings is managed by app billing (source fedcba987654); "
        "this app is shop (source github.com/org/repo shop, id 0123456789ab)",
    ),
    Refused(
        "a desired object an app of the same name from another source applied",
        seen=(live(SETTINGS, Owner(APP, "fedcba987654")),),
        message="ConfigMap/shop/settings is managed by app shop (source fedcba987654)",
    ),
    Refused(
        "an object labelled with this app's name that another source of that name applied",
        seen=(live(SETTINGS, OURS),),
        tracked=(live(OLD, Owner(APP, "fedcba987654")),),
        message="ConfigMap/shop/old is managed by app shop (source fedcba987654); this app is shop",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.reason)
def test_another_owners_object_stops_the_plan_unless_adopted(case: Refused) -> None:
    with pytest.raises(OwnershipError) as raised:
        plan_of([SETTINGS], seen=case.seen, tracked=case.tracked, prune=True)
    assert case.message in str(raised.value)
    assert "--adopt" in raised.value.hint

    adopted = plan_of([SETTINGS], seen=case.seen, tracked=case.tracked, prune=True, adopt=True)
    assert adopted.adopted == (raised.value.key,)
    want = {"ConfigMap/shop/settings": "update" if case.seen[0].key in adopted.adopted else "none"}
    if case.tracked:
        want["ConfigMap/shop/old"] = "prune"
    assert actions(adopted) == want


def test_in_the_controller_a_namesake_from_another_source_is_another_apps() -> None:
    """The controller's apps are unique per kind and namespace only: a ``shop``
    in another namespace labels its objects ``shop`` too. Its objects are
    neither a conflict nor this app's to prune; a desired object it applied
    still is a conflict."""
    theirs = live(OLD, Owner(APP, "fedcba987654"))
    plan = plan_of(
        [SETTINGS], seen=[live(SETTINGS, OURS)], tracked=[theirs], prune=True, namesakes_apart=True
    )
    assert actions(plan) == {"ConfigMap/shop/settings": "none"}
    assert plan.unpruned == () and plan.adopted == ()
    with pytest.raises(OwnershipError, match="is managed by app shop \\(source fedcba987654\\)"):
        plan_of(
            [SETTINGS],
            seen=[live(SETTINGS, Owner(APP, "fedcba987654"))],
            prune=True,
            namesakes_apart=True,
        )


@dataclass(frozen=True)
class Taken:
    reason: str
    owner: Owner | None
    tracking_before: str | None


TAKEN = [
    Taken("an object made by hand is adopted (Argo CD)", None, None),
    Taken(
        "an older gitwave's tracking id (name only) is this app's, rewritten once",
        Owner(APP),
        "shop:/ConfigMap:shop/settings",
    ),
]


@pytest.mark.parametrize("case", TAKEN, ids=lambda c: c.reason)
def test_objects_taken_over_are_applied_once_to_rewrite_their_tracking_id(case: Taken) -> None:
    plan = plan_of([SETTINGS], seen=[live(SETTINGS, case.owner)])
    (task,) = plan.tasks()
    assert task.action is Action.UPDATE
    assert [(c.path, c.live, c.desired) for c in task.changes] == [
        (
            'metadata.annotations["gitwave.dev/tracking-id"]',
            case.tracking_before,
            "shop@0123456789ab:/ConfigMap:shop/settings",
        )
    ]
    assert plan.adopted == ()
    assert actions(plan_of([SETTINGS], seen=[live(SETTINGS, OURS)])) == {
        "ConfigMap/shop/settings": "none"
    }


def test_an_older_gitwaves_object_gone_from_the_source_is_pruned() -> None:
    plan = plan_of([SETTINGS], seen=[live(SETTINGS, OURS)], tracked=[live(OLD, Owner(APP))])
    assert plan.unpruned == (OLD.key,)
    pruned = plan_of(
        [SETTINGS], seen=[live(SETTINGS, OURS)], tracked=[live(OLD, Owner(APP))], prune=True
    )
    assert actions(pruned)["ConfigMap/shop/old"] == "prune"


def test_objects_a_prune_would_delete_make_the_app_out_of_sync() -> None:
    plan = plan_of([SETTINGS], seen=[live(SETTINGS, OURS)], tracked=[live(OLD, OURS)])
    assert not plan.has_changes  # a sync without prune does nothing...
    assert plan.unpruned == (OLD.key,)
    assert SyncStatus.of_plan(plan) is SyncStatus.OUT_OF_SYNC  # ...but the app is not in sync

    kept = plan_of(
        [SETTINGS],
        seen=[live(SETTINGS, OURS)],
        tracked=[live(OLD, OURS, ann={ANNOTATION_SYNC_OPTIONS_ARGO: "Prune=false"})],
    )
    assert kept.unpruned == ()
    assert [(k.key, k.reason) for k in kept.kept] == [(OLD.key, "its sync option Prune=false")]
    assert SyncStatus.of_plan(kept) is SyncStatus.SYNCED


@dataclass(frozen=True)
class Removed:
    reason: str
    cascade: bool
    ann: dict[str, str] = field(default_factory=dict)
    want: dict[str, str] = field(default_factory=dict)
    kept: str = ""


REMOVED = [
    Removed(
        "with the resources-finalizer its objects are pruned",
        cascade=True,
        want={"ConfigMap/shop/old": "prune"},
    ),
    Removed(
        "without it they stay, as Argo CD leaves them",
        cascade=False,
        kept="app shop was removed from parent without Argo CD's resources-finalizer",
    ),
    Removed(
        "Delete=false keeps an object when its app is removed",
        cascade=True,
        ann={ANNOTATION_SYNC_OPTIONS_ARGO: "Delete=false"},
        kept="its sync option Delete=false",
    ),
]


@pytest.mark.parametrize("case", REMOVED, ids=lambda c: c.reason)
def test_the_objects_of_a_child_app_removed_from_its_parent(case: Removed) -> None:
    plan = plan_of(
        [],
        tracked=[live(OLD, OURS, ann=case.ann)],
        prune=True,
        allow_empty=True,
        removed_from="parent",
        cascade=case.cascade,
    )
    assert actions(plan) == case.want
    assert [k.reason.startswith(case.kept) for k in plan.kept] == ([True] if case.kept else [])
