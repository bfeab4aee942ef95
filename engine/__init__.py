"""gitwave's engine: a pure pipeline from Git to a reconciled target.

::

    Source ──► Render ──► Compose ──► Graph ──► Plan ──► Sync ──► Providers
    (Git, dir)  (YAML,     (XRD,       (networkx  (diff vs  (waves,   (sandbox,
                Kustomize, Composition DAG,       live,     hooks,    kubernetes,
                Helm)      → managed)  waves)     prune)    health)   aws)

Each stage takes the previous stage's immutable output and returns a new typed
value (``source.Checkout`` → ``render.Rendered`` → ``compositions.Composed`` →
``graph.ResourceGraph`` → ``model.Plan`` → ``model.ChangeSet``). Only
``source``, ``render`` (subprocesses), ``sync``, ``reconcile``, ``store``,
``pins``, ``watch``, ``loop`` and the providers do I/O; ``model``, ``graph``,
``diff``, ``plan``, ``health``, ``drift`` and the composition engine are pure.

Importing ``gitwave.engine`` never imports textual, kubernetes or boto3.
"""
