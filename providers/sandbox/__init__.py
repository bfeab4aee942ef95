"""sandbox provider."""
