"""Reason codes of SPEC §4.6: public API, so add new ones but never rename."""

from enum import StrEnum


class ReasonCode(StrEnum):
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_TYPE = "unknown_type"
    DUPLICATE_CONFLICT = "duplicate_conflict"
    UNKNOWN_ASSET = "unknown_asset"
    ASSET_ALREADY_EXISTS = "asset_already_exists"
    BEFORE_LIFECYCLE_START = "before_lifecycle_start"
    OUTSIDE_LIFECYCLE = "outside_lifecycle"
    INSUFFICIENT_QUANTITY = "insufficient_quantity"
    RENEWAL_NOT_CONTIGUOUS = "renewal_not_contiguous"
    UNKNOWN_EVENT = "unknown_event"  # a void names an event this asset has not received (§9.3)
    INVALID_VOID = "invalid_void"  # a void names another void (§9.3)
    # Added (never renamed): the worker failed on a message through no fault of the producer.
    INTERNAL_ERROR = "internal_error"
