"""tools layer of unrollkit."""
