"""trainlab.losses."""
