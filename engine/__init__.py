"""gitwave's engine: a pure pipeline from Git to a reconciled target.

::

    Source ──► Render ──► Graph ──► Plan ──► Sync ──► Providers
    (Git, dir)  (YAML,     (networkx  (diff vs  (waves,   (sandbox,
                Kustomize, DAG,       live,     hooks,    kubernetes,
                Helm)      waves)     prune)    health)   aws)

Each stage takes the previous stage's immutable output and returns a new typed
value (``source.Checkout`` → ``render.Rendered`` → ``graph.ResourceGraph`` →
``model.Plan`` → ``model.ChangeSet``). Only ``source``, ``render`` (subprocesses),
``sync``, ``store`` and the providers do I/O; everything else is pure.

Importing ``gitwave.engine`` never imports textual, kubernetes or boto3.
"""
