"""GS1 keys, AI data, Digital Link URIs and scanner data."""
