"""``python -m modelyard``: the CLI."""

from modelyard.cli.main import main

main()
