"""Wire models (pydantic v2): input CloudEvents, output records, JSON Schema export.

Unknown extra fields are ignored everywhere on input (forward compatibility: a
producer may add fields before we read them). `schemas` maps the wire to
`domain` types; `domain` never imports `schemas`.

Modules: `envelope` (CloudEvents attributes), `events` (one `data` model per
type), `types` (exact decimals, strict dates and times), `decode` (bytes →
`Decoded` | `Rejection`), `outputs` (snapshot and dead-letter records),
`snapshot_render` (the snapshot's JSON, re-encoding only changed rows), `export`
(`python -m schemas.export` writes `schemas/json/`). The tables' rows are encoded
by `streams.records`.
"""
