"""Market data: the local store, imports and fetches into it, the nightly refresh, and the windows a run cuts."""
