"""The REST API. Versions live in subpackages; v1 is the first public contract."""
