"""Every verb's function, imported only when that verb runs.

The parser names a function for each verb (``set_defaults(func=...)``); importing
them all would import the whole engine, the compositions, CEL, boto3 and rich
before ``gitwave --help`` could print a line (0.6 s of a 0.8 s start). Each name
here is a stand-in that imports its module on the first call, so a command pays
only for what it uses. A new verb adds one line below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitwave.tui.cli.context import Context


@dataclass(frozen=True, slots=True)
class LazyVerb:
    """A verb's function by module and name; calling it imports the module."""

    module: str
    name: str

    def __call__(self, ctx: Context) -> int:
        func = getattr(importlib.import_module(f"gitwave.tui.cli.{self.module}"), self.name)
        code: int = func(ctx)
        return code


cmd_graph = LazyVerb("verbs_app", "cmd_graph")
cmd_history = LazyVerb("verbs_app", "cmd_history")
cmd_plan = LazyVerb("verbs_app", "cmd_plan")
cmd_render = LazyVerb("verbs_app", "cmd_render")
cmd_rollback = LazyVerb("verbs_app", "cmd_rollback")
cmd_resume = LazyVerb("verbs_autosync", "cmd_resume")
cmd_suspend = LazyVerb("verbs_autosync", "cmd_suspend")
cmd_bootstrap = LazyVerb("verbs_bootstrap", "cmd_bootstrap")
cmd_cluster_add = LazyVerb("verbs_cluster", "cmd_cluster_add")
cmd_cluster_list = LazyVerb("verbs_cluster", "cmd_cluster_list")
cmd_cluster_rm = LazyVerb("verbs_cluster", "cmd_cluster_rm")
cmd_events = LazyVerb("verbs_events", "cmd_events")
cmd_run = LazyVerb("verbs_loop", "cmd_run")
cmd_unpin = LazyVerb("verbs_loop", "cmd_unpin")
cmd_watch = LazyVerb("verbs_loop", "cmd_watch")
cmd_complete = LazyVerb("verbs_meta", "cmd_complete")
cmd_completion = LazyVerb("verbs_meta", "cmd_completion")
cmd_version = LazyVerb("verbs_meta", "cmd_version")
cmd_validate = LazyVerb("verbs_policy", "cmd_validate")
cmd_sandbox_edit = LazyVerb("verbs_sandbox", "cmd_sandbox_edit")
cmd_sandbox_get = LazyVerb("verbs_sandbox", "cmd_sandbox_get")
cmd_sandbox_scale = LazyVerb("verbs_sandbox", "cmd_sandbox_scale")
cmd_sandbox_aws_exec = LazyVerb("verbs_sandbox_aws", "cmd_sandbox_aws_exec")
cmd_sandbox_kms_create_key = LazyVerb("verbs_sandbox_aws", "cmd_sandbox_kms_create_key")
cmd_refresh = LazyVerb("verbs_refresh", "cmd_refresh")
cmd_seal = LazyVerb("verbs_seal", "cmd_seal")
cmd_status = LazyVerb("verbs_status", "cmd_status")
cmd_sync = LazyVerb("verbs_sync", "cmd_sync")
cmd_tui = LazyVerb("verbs_tui", "cmd_tui")
cmd_wait = LazyVerb("verbs_wait", "cmd_wait")
