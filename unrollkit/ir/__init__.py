"""ir layer of unrollkit."""
