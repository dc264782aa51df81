"""The HTTP layer: one module per interaction family, content negotiation, errors."""
