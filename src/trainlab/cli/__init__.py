"""trainlab.cli."""
