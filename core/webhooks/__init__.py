"""Outgoing webhooks, the parts that know nothing of licensing: signing, SSRF checks, HTTP."""
