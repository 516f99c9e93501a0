"""The HTML pages: one template, the data embedded as JSON, a script and a stylesheet.

The page is a single response (one Redis read) and works offline: no CDN, no
build step. The script draws everything with textContent, never innerHTML.
While the read model is rebuilt, a page that cannot be drawn yet is a small
server-rendered notice that reloads itself (`render_rebuilding`).
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
# Seconds a client should wait while the read model is rebuilt (Retry-After, page reload).
REBUILD_RETRY_S: Final = 5
_REBUILDING_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{retry}">
<title>{title} · assetstream</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/static/style.css">
</head>
<body data-page="rebuilding">
<header class="topbar">
  <span class="brand" aria-hidden="true">◆</span>
  <span class="brand-name">assetstream</span>
  <span class="brand-sub">Asset lifecycle</span>
</header>
<main id="app" data-testid="app" data-ready="true">
  <section class="card" data-testid="rebuilding">
    <h1>Read model rebuilding</h1>
    <p>{what} is not back in the read model yet: it is being rebuilt from the
    Kafka topics. This page reloads in {retry} seconds.</p>
  </section>
</main>
</body>
</html>
"""


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


def render_rebuilding(kind: str, item_id: str) -> str:
    """The notice for an asset or account page while the read model is rebuilt."""
    label = "Account" if kind == "account" else "Asset"
    what = html.escape(f"{label} {item_id}", quote=True)
    return _REBUILDING_PAGE.format(retry=REBUILD_RETRY_S, title=what, what=what)
