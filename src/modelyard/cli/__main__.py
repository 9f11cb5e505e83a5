"""``python -m modelyard.cli`` runs the CLI (same as the ``modelyard`` script)."""

from modelyard.cli.main import main

main()
