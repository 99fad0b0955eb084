"""``python -m unrollkit`` is the ``unrollkit`` command."""
from .cli import main

main()
