"""tuning layer of unrollkit."""
