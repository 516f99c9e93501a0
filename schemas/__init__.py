"""Wire models (pydantic v2): input CloudEvents, output records, JSON Schema export.

Unknown extra fields are ignored everywhere (forward compatibility: a
producer may add fields before we read them). `schemas` maps the wire to
`domain` types; `domain` never imports `schemas`.
"""
