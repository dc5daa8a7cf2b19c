"""The client side of the Hyperliquid API: everything that talks to a venue over HTTP.

- `client`: orders, cancels, leverage and account state through the official SDK, safe to retry.
- `connect`: opening the SDK's `Info` without its extra start-up calls; `settings`: endpoint, timeout, retries.
- `retry`: retries of temporary failures; `ids`: cloids and nonces; `secrets`: the trading key.
- `market_data`: candleSnapshot / fundingHistory parsers and pagers; `rate_limit`: the weight budget.
- `limits`: the API's tick, lot, $10 minimum, fees, history depth, nonce window and rate-limit weights
  (the loopback venue reads them too).

Nothing is imported here, so that `exchange.hyperliquid.limits` stays light for the venue and tasks.
"""
