"""tierid's application layer: configuration, node assembly and the command line."""
