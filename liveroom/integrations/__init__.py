"""Clients of outside services liveroom talks to (WeCom group robots)."""
