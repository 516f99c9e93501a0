"""Sinks: consumers that copy output topics somewhere else (the Redis read model).

`logfilters.RateLimitFilter` keeps their outage logs to one line every few seconds.
"""
