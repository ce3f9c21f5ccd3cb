"""trainlab.metrics."""
