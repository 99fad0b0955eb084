"""runtime layer of unrollkit."""
