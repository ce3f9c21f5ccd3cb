"""trainlab.core."""
