"""TUI benchmark: the Application screen of a 10,000-object app, headless.

    .venv/bin/python benchmarks/bench_tui.py                 # N = 10,000
    .venv/bin/python benchmarks/bench_tui.py --size 1000 --json

The app is bench_engine's synthetic repo (Namespaces, ConfigMaps, Deployments,
Services), synced into a sandbox first, so the live tree also holds every
Deployment's ReplicaSet and Pod. Each measurement then runs in a fresh
process, headless (``run_test``) at 80x24, with the heap policy on as
``gitwave tui`` runs it:

- cold: ``gitwave tui PATH --app NAME``: start to the tree on screen, and
  how much of that is the worker planning the app (engine prepare plus the
  live tree: health of every object and the owned ReplicaSets and Pods);
- open: from the app list (which has just planned every app) to the
  Application screen painted with its full tree, then to the fresh plan;
- key: key press to repaint while moving through the tree: from the key event
  entering the app to the frame being written (the headless driver skips the
  terminal write, so the frame is serialised here as a terminal needs it);
  wall clock, and the event loop thread's CPU time over the same span, read
  as the frame is written (``*_cpu_*``: what the key costs, which a loaded
  machine disturbs little); ``*_cpu_to_idle_*``: to the next idle moment,
  with what the key leaves for after its frame (the tree draws the lines of
  the next page then) and Pilot's own wait;
- pilot: ``pilot.press`` + ``pilot.pause`` as a test would time it, next to
  the same figure for an empty Textual app (the floor Pilot's idle waits add).

Targets (issue 13, 2 cores): a 100,000-object app opens in < 1 s; a key
repaints in < 16 ms p95. ``--phases warm`` skips the cold start (at
100,000 objects each phase plans the app from scratch for minutes).

``--rows-only`` skips the sandbox and the screens: it times, in CPU seconds
(``process_time``, which a loaded machine disturbs less than the wall
clock), what opening the Application screen costs before anything is drawn
for a synthetic live tree of N planned objects (a quarter of them
Deployments with a ReplicaSet and a Pod): sorting them, building the tree's
rows and flattening the lines shown. It runs at 100,000 in seconds, where
the full benchmark first syncs 100,000 objects into a sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _bench_engine() -> Any:
    spec = importlib.util.spec_from_file_location("bench_engine", HERE / "bench_engine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def setup(work: Path, count: int) -> dict[str, Any]:
    """The synthetic repo, synced into a sandbox in ``work``."""
    from gitwave.engine.app_pipeline import plan_resources
    from gitwave.engine.apps import load_apps, render_app
    from gitwave.engine.router import ProviderRouter
    from gitwave.engine.sync import SyncOptions, execute
    from gitwave.providers.sandbox import SandboxProvider

    repo = work / "repo"
    _bench_engine().generate(repo, count)
    sandbox = SandboxProvider(work / "state", rollout_seconds=0.0)
    targets = ProviderRouter([sandbox])
    _, apps = load_apps(str(repo))
    rendered = render_app(apps[0])
    plan = plan_resources(
        apps[0], rendered.resources, revision=rendered.revision, targets=targets, prune=False
    ).plan
    t0 = time.perf_counter()
    execute(plan, targets=targets, options=SyncOptions(parallelism=8))
    return {
        "n": count,
        "setup_sandbox_sync_s": round(time.perf_counter() - t0, 2),
        "live_objects": len(sandbox.list()),
    }


class Paints:
    """Timestamps of the frames an app writes (see module docstring)."""

    def __init__(self, app: Any) -> None:
        self.times: list[float] = []
        # The event loop thread's CPU time as each frame is written.
        self.cpu_times: list[float] = []
        # Set at each frame: ``after`` sleeps on it. A loop of sleep(0) would
        # spin on the event loop thread until the frame and count as the
        # key's CPU time (up to a frame interval of it).
        self._painted = asyncio.Event()
        original = app._display
        console = app.console

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None:
                if hasattr(renderable, "render_segments"):
                    renderable.render_segments(console)
                self.times.append(time.perf_counter())
                self.cpu_times.append(time.thread_time())
                self._painted.set()

        app._display = display

    async def after(self, start: float, timeout: float = 60.0) -> float:
        """Seconds from ``start`` to the first frame written after it."""
        return (await self.frame_after(start, timeout))[0] - start

    async def frame_after(self, start: float, timeout: float = 60.0) -> tuple[float, float]:
        """(``perf_counter``, ``thread_time``) as the first frame after ``start`` was written."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            later = [i for i, p in enumerate(self.times) if p > start]
            if later:
                return self.times[later[0]], self.cpu_times[later[0]]
            self._painted.clear()
            try:
                await asyncio.wait_for(self._painted.wait(), deadline - time.perf_counter())
            except TimeoutError:
                break
        raise TimeoutError("no frame was written")


def _controller(work: Path) -> Any:
    from gitwave.engine.router import ProviderRouter
    from gitwave.engine.store import Store
    from gitwave.providers.sandbox import SandboxProvider
    from gitwave.tui.controller import Controller

    state = work / "state"
    sandbox = SandboxProvider(state, rollout_seconds=0.0)
    return Controller(
        str(work / "repo"),
        targets=ProviderRouter([sandbox]),
        store=Store(state / "gitwave.db"),
        state_dir=state,
    )


def _watch_shows() -> tuple[list[float], list[float]]:
    """(times, planning seconds) of each plan the Application screen shows."""
    from gitwave.tui.screens.application import ApplicationScreen

    shown: list[float] = []
    took: list[float] = []
    original = ApplicationScreen._show

    def show(self: Any, view: Any, seconds: float) -> None:
        shown.append(time.perf_counter())
        took.append(seconds)
        original(self, view, seconds)

    ApplicationScreen._show = show  # type: ignore[method-assign]
    return shown, took


async def cold(work: Path) -> dict[str, Any]:
    from gitwave.tui.app import GitwaveApp

    started = time.perf_counter()
    controller = _controller(work)
    name = controller.apps()[0].name
    shown, took = _watch_shows()
    app = GitwaveApp(controller, refresh_seconds=0, open_app=name)
    app.heap.start()  # as `gitwave tui` runs it (App.run starts it)
    async with app.run_test(size=(80, 24)):
        paints = Paints(app)
        first = await paints.after(started)
        while not shown:
            await asyncio.sleep(0.005)
        tree = shown[0] + await paints.after(shown[0])
        return {
            "cold_first_paint_ms": _ms(first),
            "cold_start_to_tree_painted_ms": _ms(tree - started),
            "cold_of_which_planning_in_worker_ms": _ms(took[0]),
            "cold_tree_painted_after_plan_ms": _ms(tree - shown[0]),
        }


async def warm(work: Path, presses: int) -> dict[str, Any]:
    from textual.app import App

    from gitwave.tui.app import GitwaveApp
    from gitwave.tui.screens.application import ApplicationScreen
    from gitwave.tui.widgets.resource_tree import ResourceTree

    figures: dict[str, Any] = {}
    controller = _controller(work)
    name = controller.apps()[0].name
    shown, _ = _watch_shows()
    app = GitwaveApp(controller, refresh_seconds=0)
    app.heap.start()
    async with app.run_test(size=(80, 24)) as pilot:
        paints = Paints(app)
        apps_screen = app.screen
        t0 = time.perf_counter()
        while not getattr(apps_screen, "loaded", False):
            await asyncio.sleep(0.01)
        figures["app_list_planned_ms"] = _ms(time.perf_counter() - t0)
        await pilot.pause()
        opened = time.perf_counter()
        opened_cpu = time.thread_time()
        app.open_app(name)
        figures["open_first_paint_ms"] = _ms(await paints.after(opened))
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        while not shown:
            await asyncio.sleep(0.005)
        painted = shown[0] + await paints.after(shown[0])
        figures["open_to_tree_painted_ms"] = _ms(painted - opened)
        # The event loop's CPU over the same span (the fresh plan's worker thread is not in it).
        figures["open_to_tree_painted_cpu_ms"] = _ms(time.thread_time() - opened_cpu)
        while len(shown) < 2:  # the fresh plan that follows the list's
            await asyncio.sleep(0.005)
        fresh = shown[1] + await paints.after(shown[1])
        figures["open_to_fresh_plan_painted_ms"] = _ms(fresh - opened)
        tree = screen.query_one("#tree", ResourceTree)
        figures["tree_rows_shown"] = tree.row_count
        view = screen.view
        assert view is not None
        figures["tree_nodes"] = 1 + sum(1 for root in view.nodes for _ in root.walk())

        await _time_keys(app, pilot, paints, presses, figures)

        pilot_times = []
        for _ in range(presses):
            start = time.perf_counter()
            await pilot.press("down")
            await pilot.pause()
            pilot_times.append(time.perf_counter() - start)
        figures["pilot_press_pause_median_ms"] = _ms(statistics.median(pilot_times))

    class Empty(App[None]):
        pass

    empty = Empty()
    async with empty.run_test(size=(80, 24)) as empty_pilot:
        floor = []
        for _ in range(presses):
            start = time.perf_counter()
            await empty_pilot.press("down")
            await empty_pilot.pause()
            floor.append(time.perf_counter() - start)
    figures["pilot_press_pause_empty_app_median_ms"] = _ms(statistics.median(floor))
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def synthetic_nodes(count: int) -> list[Any]:
    """A live tree of ``count`` planned objects in ``ns-0`` .. ``ns-99``, a
    quarter of them Deployments owning a ReplicaSet and a Pod."""
    from gitwave.engine.model import Action, Health, HealthCode, ResourceKey
    from gitwave.tui.views import ResourceNode

    healthy = Health(HealthCode.HEALTHY, "ok")
    created = "2024-05-01T12:00:00Z"
    nodes = []
    for i in range(count):
        ns = f"ns-{i % 100}"
        kind = ("ConfigMap", "Deployment", "Service", "Secret")[i % 4]
        children: tuple[ResourceNode, ...] = ()
        if kind == "Deployment":
            pod_key = ResourceKey("", "Pod", ns, f"web-{i}-x")
            pod = ResourceNode(pod_key, None, healthy, created=created)
            rs = ResourceNode(
                ResourceKey("apps", "ReplicaSet", ns, f"web-{i}"),
                None,
                healthy,
                children=(pod,),
                created=created,
            )
            children = (rs,)
        group = "apps" if kind == "Deployment" else ""
        nodes.append(
            ResourceNode(
                ResourceKey(group, kind, ns, f"obj-{i}"),
                Action.NONE,
                healthy,
                wave="Sync wave 0",
                children=children,
                created=created,
            )
        )
    return nodes


KEYS = ("down", "j", "pagedown", "up", "toggle")


async def _time_keys(
    app: Any,
    pilot: Any,
    paints: Paints,
    presses: int,
    figures: dict[str, Any],
    keys: tuple[str, ...] = KEYS,
) -> None:
    """Key to repaint on the Application screen (see the docstring), into ``figures``."""
    from textual import events

    from gitwave.tui.widgets.resource_tree import ResourceTree

    screen = app.screen
    tree = screen.query_one("#tree", ResourceTree)
    cpu: list[float] = []
    to_idle: list[float] = []

    async def key_to_paint(key: str) -> float:
        await pilot.pause()  # idle first: only this key's work is timed
        start = time.perf_counter()
        start_cpu = time.thread_time()
        app._driver.send_message(events.Key(key, None))
        painted, painted_cpu = await paints.frame_after(start)
        # The event loop's own CPU from the key to the frame: what a key
        # costs on an idle core, which other processes' load disturbs little.
        cpu.append(painted_cpu - start_cpu)
        # And to the next idle moment: with the work a key leaves for after
        # its frame (the tree draws the next page's lines then), and Pilot's
        # own (the same for every key).
        await pilot.pause()
        to_idle.append(time.thread_time() - start_cpu)
        return painted - start

    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[max(int(len(ordered) * 0.95) - 1, 0)]

    for key in (k for k in keys if k != "toggle"):
        cpu.clear()
        to_idle.clear()
        times = [await key_to_paint(key) for _ in range(presses)]
        figures[f"key_{key}_median_ms"] = _ms(statistics.median(times))
        figures[f"key_{key}_p95_ms"] = _ms(p95(times))
        figures[f"key_{key}_cpu_median_ms"] = _ms(statistics.median(cpu))
        figures[f"key_{key}_cpu_p95_ms"] = _ms(p95(cpu))
        figures[f"key_{key}_cpu_to_idle_median_ms"] = _ms(statistics.median(to_idle))
    if "toggle" not in keys:
        return
    # Expand a Deployment (its ReplicaSet joins the rows) and collapse it.
    view = screen.view
    deployment = next(n.key for n in view.nodes if n.key.kind == "Deployment" and n.children)
    tree.move_to(str(deployment))
    cpu.clear()
    toggles = [await key_to_paint(k) for k in ("right", "left") * max(presses // 2, 1)]
    figures["key_expand_collapse_median_ms"] = _ms(statistics.median(toggles))
    figures["key_expand_collapse_cpu_p95_ms"] = _ms(p95(cpu))


async def keys_only(
    count: int, presses: int, profile: str | None, keys: tuple[str, ...] = KEYS
) -> dict[str, Any]:
    """Key to repaint with a synthetic live tree of ``count`` objects on the
    Application screen (see the docstring); ``profile``: write a cProfile of
    the event loop thread over the keys there."""
    import cProfile
    from dataclasses import replace

    from gitwave.engine.router import ProviderRouter
    from gitwave.engine.store import Store
    from gitwave.providers.sandbox import SandboxProvider
    from gitwave.tui.app import GitwaveApp
    from gitwave.tui.controller import Controller
    from gitwave.tui.natural import shown_order
    from gitwave.tui.screens.application import ApplicationScreen
    from gitwave.tui.widgets.resource_tree import ResourceTree

    state = Path(tempfile.mkdtemp(prefix="gitwave-bench-tui-keys-"))
    controller = Controller(
        str(HERE.parent / "samples" / "guestbook"),
        targets=ProviderRouter([SandboxProvider(state, rollout_seconds=0.0)]),
        store=Store(state / "gitwave.db"),
        state_dir=state,
    )
    nodes = shown_order(synthetic_nodes(count))
    app = GitwaveApp(controller, refresh_seconds=0, open_app="guestbook")
    app.heap.start()
    async with app.run_test(size=(80, 24)) as pilot:
        paints = Paints(app)
        while not (isinstance(app.screen, ApplicationScreen) and app.screen.loads):
            await asyncio.sleep(0.01)
        screen = app.screen
        assert screen.view is not None
        await pilot.pause()
        # The screen shows the N objects a plan gave (as when the app list
        # has planned the app): from there to the tree painted.
        shown_at, shown_cpu = time.perf_counter(), time.thread_time()
        screen._show(replace(screen.view, nodes=nodes), 0.0)
        painted, painted_cpu = await paints.frame_after(shown_at)
        figures: dict[str, Any] = {"n": count}
        figures["show_to_tree_painted_ms"] = _ms(painted - shown_at)
        figures["show_to_tree_painted_cpu_ms"] = _ms(painted_cpu - shown_cpu)
        await pilot.pause()
        figures["tree_rows_shown"] = screen.query_one("#tree", ResourceTree).row_count
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        await _time_keys(app, pilot, paints, presses, figures, keys)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
    return figures


def rows_only(count: int, repeat: int = 3) -> dict[str, Any]:
    """CPU seconds of the row building for ``count`` synthetic objects (see the docstring)."""
    from gitwave.engine.model import Health, HealthCode, SyncStatus
    from gitwave.tui.natural import shown_order
    from gitwave.tui.screens.application_rows import tree_rows
    from gitwave.tui.views import AppSummary, AppView, AutoSync, Revision
    from gitwave.tui.widgets.status import UNICODE
    from gitwave.tui.widgets.tree_rows import filter_rows, flatten, line_row

    healthy = Health(HealthCode.HEALTHY, "ok")
    nodes = synthetic_nodes(count)
    summary = AppSummary("bench", SyncStatus.SYNCED, healthy, Revision(""), None, AutoSync.OFF)
    # As the Application screen runs it: HeapPolicy.settled() freezes the
    # plan's objects before the rows are built.
    from gitwave.tui.heap import HeapPolicy

    heap = HeapPolicy()
    heap.start()
    heap.settled()
    figures: dict[str, Any] = {"n": count}

    def best(name: str, step: Any) -> Any:
        took = []
        for _ in range(repeat):
            start = time.process_time()
            result = step()
            took.append(time.process_time() - start)
        figures[f"{name}_cpu_ms"] = _ms(min(took))
        return result

    # In the planning worker (live_tree), not when the screen opens.
    shown = best("worker_natural_sort", lambda: shown_order(nodes))
    view = AppView(spec=None, summary=summary, state=None, nodes=shown)  # type: ignore[arg-type]

    def is_open(rows: Any) -> list[int]:
        return [0] if len(rows) == 1 else []  # the app row, as a big tree opens

    def open_screen() -> list[Any]:
        rows = tree_rows(view, UNICODE, {}, now=1_714_565_100.0)
        lines = flatten(rows, is_open, UNICODE)
        for line in lines[:24]:  # the rows a 24-line screen draws
            line_row(line)
        return lines

    lines = best("open_rows_and_lines", open_screen)
    figures["lines"] = len(lines)

    def first_key() -> Any:  # `/o`: the search texts are made
        fresh = tree_rows(view, UNICODE, {}, now=1_714_565_100.0)
        return list(filter_rows(fresh, "o")[0].children[:20])

    best("filter_first_key", first_key)
    rows = tree_rows(view, UNICODE, {}, now=1_714_565_100.0)
    filter_rows(rows, "o")
    # `/obj-4`, a key at a time: the texts made at the first key are searched again.
    best("filter_next_key", lambda: list(filter_rows(rows, "obj-4")[0].children[:20]))
    return figures


def _phase(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rows-only", action="store_true", help="time the row building only")
    parser.add_argument(
        "--keys-only", action="store_true", help="time keys on a synthetic tree (no sandbox)"
    )
    parser.add_argument("--profile", help="--keys-only: write a cProfile of the keys here")
    parser.add_argument(
        "--keys",
        default=",".join(KEYS),
        help="--keys-only: the keys timed (toggle: expand/collapse a Deployment)",
    )
    parser.add_argument(
        "--phases",
        default="cold,warm",
        help="which of cold,warm to run (at 100,000 each plans the app in full first)",
    )
    parser.add_argument("--phase", choices=["cold", "warm"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        work = Path(args.work)
        figures = asyncio.run(cold(work) if args.phase == "cold" else warm(work, args.presses))
        print(json.dumps(figures))
        return 0
    if args.keys_only:
        figures = asyncio.run(
            keys_only(args.size, args.presses, args.profile, tuple(args.keys.split(",")))
        )
        load = os.getloadavg()[0]
        print(f"machine: {_bench_engine().machine()}; load average {load:.1f} when done")
        print(json.dumps(figures))
        return 0
    if args.rows_only:
        figures = rows_only(args.size)
        load = os.getloadavg()[0]
        print(f"machine: {_bench_engine().machine()}; load average {load:.1f} when done")
        print(json.dumps(figures))
        return 0
    work = Path(tempfile.mkdtemp(prefix="gitwave-bench-tui-"))
    print(f"N={args.size}: generating and syncing ...", file=sys.stderr, flush=True)
    figures = setup(work, args.size)
    for phase in args.phases.split(","):
        print(f"N={args.size}: {phase} ...", file=sys.stderr, flush=True)
        extra = ["--presses", str(args.presses)] if phase == "warm" else []
        figures.update(_phase(["--phase", phase, "--work", str(work), *extra]))
    machine = _bench_engine().machine()
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"machine": machine, "load": load, "results": figures}, indent=2))
        return 0
    print(f"machine: {machine}; load average {load:.1f} when done")
    print("| figure | value |")
    print("|---|---|")
    for key, value in figures.items():
        print(f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
