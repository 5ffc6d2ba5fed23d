"""What every API resource shares: problem+json errors, request guards, ETags,
idempotent POSTs, keyset pagination and throttling."""
