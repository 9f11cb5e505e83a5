"""``python -m modelyard``: the ``modelyard`` command."""

from modelyard.server import main

main()
