"""Everything that talks the Hyperliquid API.

- `client`: orders, cancels, leverage and account state through the official SDK, safe to retry.
- `market_data`: candleSnapshot / fundingHistory parsers and pagers; `rate_limit`: the weight budget.
- `errors`: the typed exception hierarchy (what is retried) and the venue's own sentences.
- `limits`: tick, lot, $10 minimum, fees, history depth, nonce window and rate-limit weights.
- `settings`, `connect`, `retry`, `ids`, `secrets`: endpoint, start-up, retries, cloids/nonces, the key.
- `venue/`: the loopback venue, a local Hyperliquid-compatible server over replayed data.
"""
