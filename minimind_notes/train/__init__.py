"""Training: the optimizer, the loop and its objectives."""
