"""The official client's connection pieces without its 700 model classes.

``import kubernetes`` (and any ``kubernetes.client.*`` submodule, since Python
runs every parent package's ``__init__`` first) loads every API and model
class of the client: about 40 MiB of resident memory and a second of CPU on
a loaded 2-core machine. gitwave sends and reads plain JSON through
``ApiClient.call_api(_preload_content=False)`` and never builds a model, so
it needs only ``Configuration``, ``ApiClient``, ``ApiException`` and the
kubeconfig loader.

``load()`` puts the two parent packages (``kubernetes``, ``kubernetes.client``)
and ``kubernetes.client.models`` in ``sys.modules`` as lazy packages: their
``__path__`` and spec are real, so submodules import as usual, and their own
``__init__`` runs into them on the first attribute they do not hold yet
(PEP 562 ``__getattr__``). So code that wants the whole client
(``from kubernetes import client; client.CoreV1Api``) still gets it, loaded
at that moment. When ``kubernetes`` was imported before, it is used as is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

__all__ = ["Client", "load"]

_LOCK = threading.RLock()
_LAZY = ("kubernetes", "kubernetes.client", "kubernetes.client.models")
# Looked up by the import system itself (set on a real package); asking for
# them must not load the package.
_IMPORT_SYSTEM = frozenset({"__path__", "__spec__", "__loader__", "__file__", "__package__"})


class _LazyPackage(types.ModuleType):
    """A package whose ``__init__`` runs on the first attribute it lacks."""

    def __getattr__(self, name: str) -> Any:
        if name in _IMPORT_SYSTEM:
            raise AttributeError(name)
        with _LOCK:
            state = self.__dict__
            if not state.get("_gitwave_loaded") and not state.get("_gitwave_loading"):
                state["_gitwave_loading"] = True
                try:
                    spec = state["__spec__"]
                    spec.loader.exec_module(self)
                finally:
                    state["_gitwave_loading"] = False
                state["_gitwave_loaded"] = True
            if name in state:
                return state[name]
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


def _lazy(name: str) -> types.ModuleType:
    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not an importable package")
    module = _LazyPackage(name)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    module.__path__ = list(spec.submodule_search_locations)
    module.__package__ = name
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


class Client(types.SimpleNamespace):
    """What gitwave uses of the official client (all untyped: it has no hints)."""

    Configuration: Any
    ApiClient: Any
    ApiException: Any
    ConfigException: Any
    KubeConfigLoader: Any
    KubeConfigMerger: Any


_LOADED: Client | None = None


def load() -> Client:
    """The client's connection classes, importing no API or model class."""
    global _LOADED
    with _LOCK:
        if _LOADED is not None:
            return _LOADED
        if "kubernetes" not in sys.modules:
            for name in _LAZY:
                _lazy(name)
        # Submodules before the modules that name them as attributes of the
        # package (``from kubernetes.client import rest``): imported, they are.
        exceptions = importlib.import_module("kubernetes.client.exceptions")
        configuration = importlib.import_module("kubernetes.client.configuration")
        importlib.import_module("kubernetes.client.rest")
        api_client = importlib.import_module("kubernetes.client.api_client")
        client = sys.modules["kubernetes.client"]
        # kube_config does ``from kubernetes.client import ApiClient, Configuration``:
        # present already, they do not make the package load.
        client.__dict__.setdefault("Configuration", configuration.Configuration)
        client.__dict__.setdefault("ApiClient", api_client.ApiClient)
        config_exception = importlib.import_module("kubernetes.config.config_exception")
        kube_config = importlib.import_module("kubernetes.config.kube_config")
        _LOADED = Client(
            Configuration=configuration.Configuration,
            ApiClient=api_client.ApiClient,
            ApiException=exceptions.ApiException,
            ConfigException=config_exception.ConfigException,
            KubeConfigLoader=kube_config.KubeConfigLoader,
            KubeConfigMerger=kube_config.KubeConfigMerger,
        )
        return _LOADED
