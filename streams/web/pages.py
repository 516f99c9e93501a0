"""The HTML pages: one template, the data embedded as JSON, a script and a stylesheet.

The page is a single response (one Redis read) and works offline: no CDN, no
build step. The script draws everything with textContent, never innerHTML.
"""

from __future__ import annotations

import hashlib
import html
import re
from importlib import resources
from typing import Final

STATIC_FILES: Final = {"app.js": "text/javascript", "style.css": "text/css"}
# The pages run only our own script and style; the snapshot travels as JSON data.
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PLACEHOLDER: Final = re.compile(r"__(TITLE|PAGE|DATA)__")


def read_static(name: str) -> bytes:
    """A file of streams/static, from the installed package."""
    return resources.files("streams").joinpath("static", name).read_bytes()


def json_for_script(raw: bytes | str) -> str:
    """JSON safe inside <script type="application/json">: no `<`, `>` or `&` left.

    Those characters can only occur inside JSON strings, where the \\u escapes
    mean the same thing.
    """
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha1(body).hexdigest()[:16]}"'


def render_page(template: str, kind: str, title: str, data: bytes | str) -> str:
    """Fill the template: `kind` is asset, account or notfound; `data` is JSON."""
    values = {"TITLE": html.escape(title, quote=True), "PAGE": kind, "DATA": json_for_script(data)}
    # One pass, so a placeholder-like text inside an id or the data stays text.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
