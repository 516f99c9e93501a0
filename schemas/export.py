"""Write the JSON Schema of every input event and output record to schemas/json/.

Run `python -m schemas.export` after changing a model; a test fails while the
committed files are stale. Producers in any language validate against these.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.events import EVENT_MODELS
from schemas.outputs import AssetSnapshotModel, DeadLetterModel

JSON_DIR = Path(__file__).resolve().parent / "json"


def documents() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema document."""
    models: dict[str, type[BaseModel]] = {
        f"{event_type}.schema.json": model for event_type, model in EVENT_MODELS.items()
    }
    models["asset-snapshot.schema.json"] = AssetSnapshotModel
    models["dead-letter.schema.json"] = DeadLetterModel
    result = {}
    for name, model in models.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://assetstream.example/schemas/{name}"
        result[name] = schema
    return result


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    JSON_DIR.mkdir(exist_ok=True)
    for name, schema in documents().items():
        (JSON_DIR / name).write_text(render(schema), encoding="utf-8")
        print(f"wrote {JSON_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
