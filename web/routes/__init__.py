"""HTTP routes, one module per resource: each handler decodes, calls one use case, encodes."""
