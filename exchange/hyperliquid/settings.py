"""Where and how the client talks to Hyperliquid: endpoint, timeout, retries, action expiry."""
from __future__ import annotations

from hyperliquid.utils.constants import MAINNET_API_URL, TESTNET_API_URL
from pydantic import BaseModel, ConfigDict, Field, field_validator

from exchange.hyperliquid.retry import RetryPolicy

__all__ = ["ExchangeSettings", "ENDPOINTS"]

ENDPOINTS = {"mainnet": MAINNET_API_URL, "testnet": TESTNET_API_URL}


class ExchangeSettings(BaseModel):
    """Connection settings; `endpoint` is "mainnet", "testnet" or a URL such as the loopback venue's.

    >>> ExchangeSettings(endpoint="http://127.0.0.1:8765").url
    'http://127.0.0.1:8765'
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str = "testnet"
    timeout_s: float = Field(10.0, gt=0)
    max_attempts: int = Field(6, ge=1)
    backoff_s: float = Field(0.25, ge=0)
    backoff_max_s: float = Field(8.0, ge=0)
    expires_after_s: float | None = Field(None, gt=0)
    """Actions are refused by the venue once this long has passed since they were signed (None: never)."""

    @field_validator("endpoint")
    @classmethod
    def _known_or_url(cls, value: str) -> str:
        if value not in ENDPOINTS and not value.startswith(("http://", "https://")):
            raise ValueError(f"endpoint={value!r}: expected 'mainnet', 'testnet' or an http(s) URL")
        return value

    @property
    def url(self) -> str:
        """Base URL of the API (no trailing slash)."""
        return ENDPOINTS.get(self.endpoint, self.endpoint).rstrip("/")

    @property
    def is_mainnet(self) -> bool:
        """Whether actions are signed for mainnet (the SDK's own test: the URL is the mainnet URL)."""
        return self.url == MAINNET_API_URL

    def retry_policy(self) -> RetryPolicy:
        """The retry policy these settings describe."""
        return RetryPolicy(self.max_attempts, self.backoff_s, self.backoff_max_s)
