"""core layer of unrollkit."""
