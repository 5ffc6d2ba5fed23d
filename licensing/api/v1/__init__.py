"""API v1: the public contract for procurement systems. See README "API"."""
