"""The operator's view: consumer lag, group membership, pending events and dead letters.

- `streams.ops.cluster`: reads offsets and groups from the cluster (no topic is ever named
  in a Metadata request, so nothing is auto-created).
- `streams.ops.scan`: reads `assets.snapshots` and `assets.deadletter` to a fixed end for
  pending-event and dead-letter counts.
- `streams.ops.lag`: `run_lag_monitor`, the worker's background task that exports lag.
- `streams.ops.pending`: `PendingTracker`, the worker's pending-event gauges.
- `streams.commands.status`: `assetstream status`, all of the above from the cluster alone.
"""
