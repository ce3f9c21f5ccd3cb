"""The user's own config folder ($TRAINLAB_CONFIG_DIR) ahead of trainlab's configs."""
