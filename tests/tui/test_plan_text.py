"""The plan's text in a terminal: the engine's lines, coloured by action."""

from __future__ import annotations

from gitwave.engine.model import (
    Action,
    FieldChange,
    FieldOp,
    HookPhase,
    Plan,
    ResourceKey,
    Task,
    Wave,
)
from gitwave.engine.plan_report import format_plan as plain_plan
from gitwave.tui.plan_text import format_plan

SETTINGS = ResourceKey("", "ConfigMap", "shop", "settings")
WEB = ResourceKey("apps", "Deployment", "shop", "web")
OLD = ResourceKey("", "ConfigMap", "shop", "old")
MIGRATE = ResourceKey("batch", "Job", "shop", "migrate")
SECRET = ResourceKey("", "Secret", "shop", "db")

PLAN = Plan(
    app="shop",
    revision="abc123",
    waves=(
        Wave(HookPhase.PRE_SYNC, 0, (Task(MIGRATE, Action.HOOK),)),
        Wave(
            HookPhase.SYNC,
            0,
            (
                Task(SETTINGS, Action.CREATE),
                Task(
                    WEB,
                    Action.UPDATE,
                    changes=(FieldChange("spec.replicas", FieldOp.REPLACE, 10, 3),),
                ),
                Task(
                    SECRET,
                    Action.UPDATE,
                    changes=(FieldChange("data.password", FieldOp.REPLACE, "b2xk", "bmV3"),),
                ),
            ),
        ),
        Wave(HookPhase.SYNC, 1, (Task(OLD, Action.PRUNE),)),
    ),
    warnings=("ConfigMap/shop/foreign is never pruned",),
)


def test_format_plan_colors_by_action() -> None:
    text = format_plan(PLAN, color=True)

    assert "\x1b[1mPreSync wave 0:\x1b[0m\n" in text
    assert "  \x1b[36m* Job/shop/migrate (PreSync hook)\x1b[0m\n" in text
    assert "  \x1b[32m+ ConfigMap/shop/settings (create)\x1b[0m\n" in text
    assert "  \x1b[33m~ Deployment/shop/web\x1b[0m\n      spec.replicas: 10 -> 3\n" in text
    assert "  \x1b[31m- ConfigMap/shop/old (prune)\x1b[0m\n" in text
    assert "\x1b[33mWarning: ConfigMap/shop/foreign is never pruned\x1b[0m\n" in text
    assert text.endswith(
        "\x1b[1mPlan: 1 to create, 2 to update, 1 to prune, 1 hook, 0 unchanged.\x1b[0m\n"
    )


def test_without_color_it_is_the_engines_plain_text() -> None:
    assert format_plan(PLAN) == plain_plan(PLAN)
    assert "\x1b" not in format_plan(PLAN, verbose=True)


def test_secret_values_stay_masked_in_colour() -> None:
    # A plan built by hand, not by the diff stage: the text masks all the same.
    text = format_plan(PLAN, color=True)
    assert "data.password: *** -> ***" in text
    assert "b2xk" not in text and "bmV3" not in text
