"""Sinks: consumers that copy output topics somewhere else (the Redis read model)."""
