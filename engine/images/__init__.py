"""Image update automation in Flux's shapes (image.toolkit.fluxcd.io), read as-is.

::

    ImageRepository ──scan (registry.py: /v2/<name>/tags/list)──► tags
    ImagePolicy ──────choose (policy.py: semver, alphabetical, numerical)──► latest image
    ImageUpdateAutomation ──clone, setters (setters.py), commit, push (automation.py)

``objects.py`` reads the objects from a directory; ``commit_message.py``
renders ``messageTemplate``; ``loop.py`` runs automations on their interval for
``gitwave run``. The CLI is ``gitwave image scan|update PATH``.
"""

from gitwave.engine.images.automation import (
    AutomationResult,
    PolicyChoice,
    RepositoryScan,
    ScanReport,
    run_automation,
    scan,
    secret_credentials,
)
from gitwave.engine.images.objects import ImageObjects, load_image_objects
from gitwave.engine.images.registry import RegistryError

__all__ = [
    "AutomationResult",
    "ImageObjects",
    "PolicyChoice",
    "RegistryError",
    "RepositoryScan",
    "ScanReport",
    "load_image_objects",
    "run_automation",
    "scan",
    "secret_credentials",
]
