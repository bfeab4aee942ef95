"""The sandbox playing Argo Rollouts: each canary step kind, pauses on a
hand-moved clock, analysis against a local HTTP server, promote and abort
through the same merge patches ``gitwave rollout`` sends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.engine.model import HealthCode, Live, ResourceKey
from gitwave.engine.rollouts import abort_patches, promote_patches, rollout_view
from gitwave.providers.sandbox import SandboxProvider
from gitwave.providers.sandbox.analysis import AnalysisError, evaluate, json_path
from tests.providers.conftest import FakeClock
from tests.providers.contract import resource
from tests.rollouts.conftest import ROLLOUT_S, MetricServer

NS = "shop"
KEY = ResourceKey("argoproj.io", "Rollout", NS, "web")
S, P, H, D = (
    HealthCode.SUSPENDED,
    HealthCode.PROGRESSING,
    HealthCode.HEALTHY,
    HealthCode.DEGRADED,
)


def rollout(image: str, steps: list[dict[str, Any]], *, replicas: int = 4, **spec: Any) -> Any:
    return resource(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
                "strategy": {"canary": {"steps": steps}},
                **spec,
            },
        }
    )


def template(
    name: str, metrics: list[dict[str, Any]], args: list[dict[str, Any]] | None = None
) -> Any:
    spec: dict[str, Any] = {"metrics": metrics}
    if args:
        spec["args"] = args
    return resource(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        }
    )


@pytest.fixture
def shop(sandbox: SandboxProvider) -> SandboxProvider:
    sandbox.apply(resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
    return sandbox


def live(sandbox: SandboxProvider) -> Live:
    found = sandbox.observe(KEY)
    assert found is not None
    return found


def replica_sets(sandbox: SandboxProvider) -> dict[str, int]:
    """Each ReplicaSet's pod-template hash → its replicas."""
    return {
        rs.manifest["metadata"]["labels"]["rollouts-pod-template-hash"]: rs.manifest["spec"][
            "replicas"
        ]
        for rs in sandbox.list(kind="ReplicaSet", namespace=NS)
    }


def health(sandbox: SandboxProvider) -> tuple[HealthCode, str]:
    view = rollout_view(live(sandbox))
    return view.health.code, view.summary


def promote(sandbox: SandboxProvider, *, full: bool = False) -> None:
    for patch in promote_patches(live(sandbox).manifest, full=full):
        sandbox.merge_patch(KEY, patch.body, subresource=patch.subresource)


def abort(sandbox: SandboxProvider) -> None:
    for patch in abort_patches(live(sandbox).manifest):
        sandbox.merge_patch(KEY, patch.body, subresource=patch.subresource)


def start_canary(
    sandbox: SandboxProvider, clock: FakeClock, steps: list[dict[str, Any]]
) -> tuple[str, str]:
    """A stable v1 (settled), then v2 applied: (stable hash, canary hash)."""
    sandbox.apply(rollout("nginx:1", steps))
    clock.advance(ROLLOUT_S)
    stable = live(sandbox).manifest["status"]["stableRS"]
    sandbox.apply(rollout("nginx:2", steps))
    canary = live(sandbox).manifest["status"]["currentPodHash"]
    assert canary != stable
    return stable, canary


# ------------------------------------------------------------------ steps


def test_a_first_revision_goes_straight_to_stable(shop: SandboxProvider, clock: FakeClock) -> None:
    shop.apply(rollout("nginx:1", [{"setWeight": 25}, {"pause": {}}]))
    status = live(shop).manifest["status"]
    assert status["stableRS"] == status["currentPodHash"]
    assert status["currentStepIndex"] == 2
    assert health(shop)[0] is P  # pods starting
    clock.advance(ROLLOUT_S)
    assert health(shop) == (H, "step 2/2 weight 100%")
    assert replica_sets(shop) == {status["stableRS"]: 4}


def test_set_weight_scales_the_canary_then_pause_waits_for_a_promote(
    shop: SandboxProvider, clock: FakeClock
) -> None:
    stable, canary = start_canary(
        shop, clock, [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}]
    )
    assert replica_sets(shop) == {stable: 3, canary: 1}
    assert health(shop)[0] is P  # the canary pod is starting
    clock.advance(ROLLOUT_S)
    assert health(shop) == (S, "step 1/3 (pause) weight 25%")
    status = live(shop).manifest["status"]
    assert status["pauseConditions"][0]["reason"] == "CanaryPauseStep"
    assert status["controllerPause"] is True
    assert status["canary"]["weights"]["canary"] == {"weight": 25, "podTemplateHash": canary}
    clock.advance(3600)  # an indefinite pause does not end by itself
    assert health(shop)[0] is S
    promote(shop)
    assert replica_sets(shop) == {stable: 1, canary: 3}
    assert "pauseConditions" not in live(shop).manifest["status"]
    clock.advance(ROLLOUT_S)
    # Last step done: the canary becomes stable, the old ReplicaSet goes to zero.
    clock.advance(ROLLOUT_S)
    assert health(shop) == (H, "step 3/3 weight 100%")
    assert replica_sets(shop) == {stable: 0, canary: 4}
    assert live(shop).manifest["status"]["stableRS"] == canary


def test_a_pause_with_a_duration_ends_when_the_clock_passes_it(
    shop: SandboxProvider, clock: FakeClock
) -> None:
    start_canary(shop, clock, [{"setWeight": 50}, {"pause": {"duration": "30s"}}])
    clock.advance(ROLLOUT_S)
    assert health(shop) == (S, "step 1/2 (pause 30s) weight 50%")
    clock.advance(29)
    assert health(shop)[0] is S
    clock.advance(1)
    assert health(shop)[0] is P  # promoted to 100%: the rest of the pods start
    clock.advance(ROLLOUT_S)
    assert health(shop)[0] is H


def test_a_read_long_after_sees_the_whole_walk(shop: SandboxProvider, clock: FakeClock) -> None:
    steps = [
        {"setWeight": 20},
        {"pause": {"duration": "1m"}},
        {"setWeight": 60},
        {"pause": {"duration": 45}},
    ]
    _, canary = start_canary(shop, clock, steps)
    clock.advance(3600)
    assert health(shop) == (H, "step 4/4 weight 100%")
    assert live(shop).manifest["status"]["stableRS"] == canary


def test_abort_scales_the_canary_down_and_is_degraded(
    shop: SandboxProvider, clock: FakeClock
) -> None:
    stable, canary = start_canary(shop, clock, [{"setWeight": 50}, {"pause": {}}])
    clock.advance(ROLLOUT_S)
    abort(shop)
    code, _ = health(shop)
    view = rollout_view(live(shop))
    assert code is D
    assert view.health.message == f"Rollout aborted update to revision {canary}"
    assert live(shop).manifest["status"]["abort"] is True
    assert replica_sets(shop) == {stable: 4, canary: 0}
    clock.advance(3600)
    assert health(shop)[0] is D  # stays aborted until the template changes
    shop.apply(rollout("nginx:1", [{"setWeight": 50}, {"pause": {}}]))  # back to stable
    assert health(shop) == (H, "step 2/2 weight 100%")


def test_promote_full_skips_every_step(shop: SandboxProvider, clock: FakeClock) -> None:
    stable, canary = start_canary(
        shop, clock, [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    )
    clock.advance(ROLLOUT_S)
    promote(shop, full=True)
    assert replica_sets(shop) == {stable: 0, canary: 4}
    clock.advance(ROLLOUT_S)
    assert health(shop) == (H, "step 4/4 weight 100%")
    assert "promoteFull" not in live(shop).manifest["status"]


def test_spec_paused_holds_the_rollout_and_promote_lifts_it(
    shop: SandboxProvider, clock: FakeClock
) -> None:
    steps = [{"setWeight": 50}, {"pause": {"duration": "10s"}}]
    shop.apply(rollout("nginx:1", steps))
    clock.advance(ROLLOUT_S)
    shop.apply(rollout("nginx:2", steps, paused=True))
    clock.advance(600)
    assert health(shop)[0] is S
    assert live(shop).manifest["status"]["currentStepIndex"] == 0
    patches = promote_patches(live(shop).manifest)
    assert {"spec": {"paused": False}} in [p.body for p in patches]
    promote(shop)
    assert live(shop).manifest["spec"]["paused"] is False
    clock.advance(ROLLOUT_S + 10)
    assert health(shop)[0] is H


def test_a_bad_pause_duration_is_an_invalid_spec(shop: SandboxProvider, clock: FakeClock) -> None:
    shop.apply(rollout("nginx:1", [{"pause": {"duration": "soon"}}]))
    view = rollout_view(live(shop))
    assert view.health.code is D
    assert "pause duration 'soon'" in view.health.message


# ------------------------------------------------------------------ analysis


def web_metric(url: str, condition: str, path: str = "{$.ok}") -> dict[str, Any]:
    return {
        "name": "smoke",
        "successCondition": condition,
        "provider": {"web": {"url": url, "jsonPath": path}},
    }


@dataclass(frozen=True)
class AnalysisCase:
    reason: str
    answer: Any
    condition: str
    want: HealthCode
    message: str  # in status.canary.currentStepAnalysisRunStatus.message, or the health's


ANALYSIS_CASES = [
    AnalysisCase("true moves on", {"ok": True}, "result == true", S, ""),
    AnalysisCase(
        "false aborts", {"ok": False}, "result == true", D, "metric 'smoke' measured false"
    ),
    AnalysisCase("a number compared", {"ok": 0.97}, "result >= 0.95 && result <= 1", S, ""),
    AnalysisCase("a string", {"ok": "green"}, "result == 'green' || result == 'blue'", S, ""),
    AnalysisCase(
        "a missing field errors", {"other": 1}, "result == true", D, "is not in the answer"
    ),
]


@pytest.mark.parametrize("case", ANALYSIS_CASES, ids=lambda c: c.reason)
def test_a_web_metric_decides_the_analysis_step(
    shop: SandboxProvider, clock: FakeClock, metrics: MetricServer, case: AnalysisCase
) -> None:
    metrics.web["smoke"] = case.answer
    shop.apply(template("smoke", [web_metric(f"{metrics.url}/web/smoke", case.condition)]))
    steps = [
        {"setWeight": 25},
        {"analysis": {"templates": [{"templateName": "smoke"}]}},
        {"pause": {}},
    ]
    start_canary(shop, clock, steps)
    clock.advance(ROLLOUT_S)
    view = rollout_view(live(shop))
    assert view.health.code is case.want, view.health
    run = live(shop).manifest["status"]["canary"]["currentStepAnalysisRunStatus"]
    if case.want is S:
        assert run["status"] == "Successful"
        assert view.current_step == "pause"
    else:
        assert run["status"] in ("Failed", "Error")
        assert case.message in run["message"]
        assert case.message in view.health.message
    assert metrics.asked == ["/web/smoke"]


def test_web_metric_args_and_headers(
    shop: SandboxProvider, clock: FakeClock, metrics: MetricServer
) -> None:
    metrics.web["checkout"] = {"data": {"rate": [0.99]}}
    metric = web_metric(
        f"{metrics.url}/web/{{{{args.service}}}}", "result[0] > 0.9", "{$.data.rate}"
    )
    shop.apply(template("smoke", [metric], args=[{"name": "service"}]))
    step = {
        "analysis": {
            "templates": [{"templateName": "smoke"}],
            "args": [{"name": "service", "value": "checkout"}],
        }
    }
    start_canary(shop, clock, [step])
    clock.advance(ROLLOUT_S)
    assert health(shop)[0] is H
    assert metrics.asked == ["/web/checkout"]


def test_an_inconclusive_analysis_pauses_until_promoted(
    shop: SandboxProvider, clock: FakeClock, metrics: MetricServer
) -> None:
    metrics.web["smoke"] = {"ok": 5}
    metric = {
        **web_metric(f"{metrics.url}/web/smoke", "result > 10"),
        "failureCondition": "result < 1",
    }
    shop.apply(template("smoke", [metric]))
    start_canary(shop, clock, [{"analysis": {"templates": [{"templateName": "smoke"}]}}])
    assert health(shop)[0] is S
    assert (
        live(shop).manifest["status"]["pauseConditions"][0]["reason"] == "InconclusiveAnalysisRun"
    )
    promote(shop)
    clock.advance(ROLLOUT_S)
    assert health(shop)[0] is H


def test_prometheus_metric_queries_the_http_api(
    shop: SandboxProvider, clock: FakeClock, metrics: MetricServer
) -> None:
    query = 'sum(rate(http_requests_total{service="web",code!~"5.."}[5m]))'
    metrics.prometheus[query] = 0.99
    metric = {
        "name": "success-rate",
        "successCondition": "result[0] >= 0.95",
        "failureCondition": "result[0] < 0.9",
        "provider": {
            "prometheus": {"address": metrics.url, "query": query.replace("web", "{{args.svc}}")}
        },
    }
    shop.apply(template("rate", [metric], args=[{"name": "svc", "value": "web"}]))
    steps = [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "rate"}]}}]
    start_canary(shop, clock, steps)
    clock.advance(2 * ROLLOUT_S)
    assert health(shop)[0] is H
    assert len(metrics.asked) == 1 and metrics.asked[0].startswith("/api/v1/query?query=")


def test_a_failing_prometheus_metric_aborts(
    shop: SandboxProvider, clock: FakeClock, metrics: MetricServer
) -> None:
    metrics.prometheus["up"] = 0.5
    metric = {
        "name": "up",
        "successCondition": "result[0] >= 0.95",
        "provider": {"prometheus": {"address": metrics.url, "query": "up"}},
    }
    shop.apply(template("rate", [metric]))
    stable, canary = start_canary(
        shop, clock, [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "rate"}]}}]
    )
    clock.advance(ROLLOUT_S)
    view = rollout_view(live(shop))
    assert view.health.code is D
    assert "metric 'up' measured [0.5]" in view.health.message
    assert replica_sets(shop) == {stable: 4, canary: 0}


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"],
)
def test_only_http_urls_are_requested(shop: SandboxProvider, clock: FakeClock, url: str) -> None:
    shop.apply(template("smoke", [web_metric(url, "result == true")]))
    start_canary(shop, clock, [{"analysis": {"templates": [{"templateName": "smoke"}]}}])
    view = rollout_view(live(shop))
    assert view.health.code is D
    assert "only http and https URLs are measured" in view.health.message


def test_a_redirect_to_another_scheme_is_not_followed(
    shop: SandboxProvider, clock: FakeClock, metrics: MetricServer
) -> None:
    metrics.web["smoke"] = {"ok": True}
    followed = f"{metrics.url}/redirect/{metrics.url}/web/smoke"
    to_file = f"{metrics.url}/redirect/file%3A%2F%2F%2Fetc%2Fpasswd"
    to_ftp = f"{metrics.url}/redirect/ftp%3A%2F%2F127.0.0.1%2Fx"
    shop.apply(template("good", [web_metric(followed, "result == true")]))
    shop.apply(
        template(
            "bad",
            [
                web_metric(to_file, "result == true"),
                {**web_metric(to_ftp, "result == true"), "name": "ftp"},
            ],
        )
    )
    steps = [
        {"analysis": {"templates": [{"templateName": "good"}]}},
        {"pause": {}},
        {"analysis": {"templates": [{"templateName": "bad"}]}},
    ]
    start_canary(shop, clock, steps)
    assert health(shop)[0] is S  # the http redirect was followed and passed
    promote(shop)
    view = rollout_view(live(shop))
    assert view.health.code is D
    assert "Redirection to url 'file:///etc/passwd' is not allowed" in view.health.message
    assert "only http and https URLs are measured, not 'ftp://127.0.0.1/x'" in view.health.message


def test_a_missing_template_aborts_naming_it(shop: SandboxProvider, clock: FakeClock) -> None:
    start_canary(shop, clock, [{"analysis": {"templates": [{"templateName": "nope"}]}}])
    view = rollout_view(live(shop))
    assert view.health.code is D
    assert "AnalysisTemplate/shop/nope not found" in view.health.message


# ------------------------------------------------------------------ conditions


@pytest.mark.parametrize(
    ("expression", "result", "want"),
    [
        ("result == true", True, True),
        ("!(result == true)", True, False),
        ("result != nil", None, False),
        ("result[0] >= 0.95", [0.96], True),
        ("len(result) > 1 && result[1] == 'b'", ["a", "b"], True),
        ("result.ok == true || result.count > 3", {"ok": False, "count": 4}, True),
        ("asFloat(result) * 2 > 1", "0.6", True),
    ],
)
def test_conditions(expression: str, result: Any, want: bool) -> None:
    assert evaluate(expression, result) is want


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "result.__class__", "(lambda: 1)()", "open('/etc/passwd')"],
)
def test_a_condition_runs_nothing_else(expression: str) -> None:
    with pytest.raises(AnalysisError):
        evaluate(expression, {"ok": True})


def test_json_path() -> None:
    document = {"data": {"items": [{"ok": True}], "odd-key": 3}}
    assert json_path(document, "{$.data.items[0].ok}") is True
    assert json_path(document, "$.data['odd-key']") == 3
    with pytest.raises(AnalysisError, match="is not in the answer"):
        json_path(document, "{$.data.missing}")
