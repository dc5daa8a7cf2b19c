"""Everything about the exchange: the Hyperliquid client, the loopback venue, paper trading, the replay oracle.

- `hyperliquid/`: the client side of the API (client, connect, settings, secrets, ids, retry, rate_limit,
  market_data, limits).
- `venue/`: the loopback venue, a local Hyperliquid-compatible server over replayed data.
- `paper/`: paper trading of the deployed strategies through the client.
- `replay`: the event-driven replay engine, the oracle the vectorised kernel is checked against.
- `errors`: the typed exception hierarchy (what is retried, `is_transient`) and the venue's own sentences,
  shared by the client and the venue.
- `atomic`: atomic file writes (temporary file, fsync, rename, folder fsync) for every layer above.
"""
