"""One store interface (``base``) and its backends."""
