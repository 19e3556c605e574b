"""The faces users meet. Each only parses, calls the core, and encodes."""
