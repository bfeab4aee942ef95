"""The Kubernetes provider imports the official client's connection classes
without its API and model classes, and code that wants the whole client
still gets it (loaded on first use). Fresh interpreters: the test process
has imported ``kubernetes`` already."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import gitwave.providers.kubernetes.provider
print(sum(m.startswith("kubernetes.client.models.") for m in sys.modules))
from kubernetes import client
print(client.CoreV1Api.__name__, client.ApiClient.__module__)
from kubernetes.client.models import V1Pod
print(V1Pod.__name__)
"""


def test_the_provider_loads_no_model_class_and_the_full_client_still_loads() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["0", "CoreV1Api", "kubernetes.client.api_client", "V1Pod"], out
