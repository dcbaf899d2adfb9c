"""One module per command group; the table in envkit.cli.table says which command is where."""
