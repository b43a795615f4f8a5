"""The HTTP layer: thin endpoints that parse, call a service, and answer in the envelope."""
