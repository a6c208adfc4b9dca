"""The command line: one module per command group; only these modules print."""
