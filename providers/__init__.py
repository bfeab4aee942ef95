"""Targets gitwave reconciles into: the embedded sandbox, Kubernetes and AWS."""
