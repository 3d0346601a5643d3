"""Lucky draws: the store that keeps them (memory or Redis, matching the engine, built in
liveroom/node.py), the service, claim tickets and the public record."""
