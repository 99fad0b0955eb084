"""``python -m unrollkit`` is the ``unrollkit`` command."""
from unrollkit.cli import main

main()
