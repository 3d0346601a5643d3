"""liveroom: a real-time live-room engine for private-domain live commerce."""

__version__ = "0.1.0"
