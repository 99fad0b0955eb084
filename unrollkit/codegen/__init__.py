"""codegen layer of unrollkit."""
