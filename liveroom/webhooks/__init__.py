"""Merchant webhooks: the rooms' commerce events pushed to the brand's backend (see
dispatcher.py); the delivery state behind one interface, in memory or in Redis."""
