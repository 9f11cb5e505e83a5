"""Groups, versions, aliases, search and lineage."""
