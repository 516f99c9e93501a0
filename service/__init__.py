"""The service layer: what happens to each message, once, for the worker and for replay.

Pure functions over typed commands (`service.messages`) and records; no Kafka, no
faust, no clock reads. `streams.agents` translates Kafka messages into these
commands and their effects into sends; `streams.replay` drives the same
handlers through an in-memory bus (`service.bus`), so replay is the worker minus
Kafka by construction.
"""
