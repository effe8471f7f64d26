"""SQL, by resource. Query functions take a connection; the caller owns the transaction."""
