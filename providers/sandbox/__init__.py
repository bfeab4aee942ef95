"""The embedded sandbox target: a small Kubernetes-like API server in SQLite.

``gitwave`` syncs to it when no cluster is named, so every sample, test and
demo runs without a cluster. See ``provider.SandboxProvider``.
"""

from gitwave.providers.sandbox.controllers import FAIL_ANNOTATION
from gitwave.providers.sandbox.core import default_state_dir
from gitwave.providers.sandbox.lifecycle import GITWAVE_MANAGER
from gitwave.providers.sandbox.provider import SandboxProvider

__all__ = ["FAIL_ANNOTATION", "GITWAVE_MANAGER", "SandboxProvider", "default_state_dir"]
