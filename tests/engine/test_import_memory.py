"""A fleet run carries what it imports: the command line and the Kubernetes
provider do not import the CEL library until an expression is compiled
(importing it loads its own command line and prompt_toolkit, ~18 MiB of the
1000-app run's peak RSS, issue 11)."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_and_kubernetes_provider_do_not_import_cel_until_it_is_needed() -> None:
    code = (
        "import sys, gitwave.tui.cli, gitwave.providers.kubernetes\n"
        "print(sorted(m for m in ('cel', 'prompt_toolkit') if m in sys.modules))\n"
        "from gitwave.engine.policy.cel_env import compile_cel\n"
        "compile_cel('1 + 1')\n"
        "print('cel' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["[]", "True"]
