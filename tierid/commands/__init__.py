"""One module per group of subcommands; ``tierid/cli.py`` registers them."""
