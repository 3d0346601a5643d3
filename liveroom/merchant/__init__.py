"""The merchant's signed server-to-server API: products, rooms, sales, checkout, events."""
