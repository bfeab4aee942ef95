"""Composite resources: XRDs, Compositions and CEL-referenced resource graphs."""
