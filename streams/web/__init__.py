"""The HTTP read API and the asset pages, served from the Redis read model."""
