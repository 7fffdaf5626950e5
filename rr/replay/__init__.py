"""The replay engine: a trace re-executed bit for bit, with divergence checks."""
