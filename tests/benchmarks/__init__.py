"""`make bench`: performance measured side by side on PostgreSQL; see run.py."""
