"""kubernetes provider."""
