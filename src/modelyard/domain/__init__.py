"""Pure domain logic of modelyard: no I/O, no frameworks (see README.md)."""
