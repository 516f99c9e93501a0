"""Text that is safe to print to a terminal: control characters escaped, other Unicode kept.

Ids, keys, topic names and payloads come from producers and from the environment. Printed
raw, an ESC (``\\x1b``) or a C1 CSI (``\\x9b``) in one of them is executed by the terminal:
it can recolour or erase lines, rewrite the window title, or hide what follows. Every
human-readable line the CLI prints goes through `printable`; JSON lines go through
`printable_json`, which keeps them valid JSON with the same values.

Escaped: C0 (U+0000–U+001F), DEL (U+007F), C1 (U+0080–U+009F), and lone surrogates
(U+D800–U+DFFF), which cannot be encoded for the terminal at all and would crash the
print. Backslashes are not escaped, so escaping twice changes nothing.
"""

from __future__ import annotations

import re

__all__ = ["printable", "printable_json"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The short forms people read without a table; everything else as \xNN or \uNNNN.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _python_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def printable(text: str) -> str:
    """`text` with every control character and lone surrogate shown as an escape (``\\x1b``)."""
    return _UNSAFE.sub(_python_escape, text)


def printable_json(text: str) -> str:
    """JSON text with the same characters escaped as JSON ``\\uXXXX``: still JSON, same values.

    Those characters can only occur inside JSON strings, where ``\\uXXXX`` means exactly
    the character it replaces, so the document parses to the same value.
    """
    return _UNSAFE.sub(_json_escape, text)
