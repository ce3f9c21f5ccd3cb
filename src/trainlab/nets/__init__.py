"""trainlab.nets."""
