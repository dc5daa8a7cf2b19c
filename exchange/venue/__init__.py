"""The loopback venue: a local Hyperliquid-compatible server that replays market data (see venue.py)."""
from exchange.venue.faults import Faults
from exchange.venue.server import VenueServer
from exchange.venue.venue import Venue

__all__ = ["Faults", "Venue", "VenueServer"]
