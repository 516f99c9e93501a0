"""printable(): what a client sent, made safe to put in a log line."""

from __future__ import annotations

from streams.web.logs import printable


def test_printable_escapes_what_could_forge_or_recolour_a_log_line() -> None:
    assert printable("AST-1\r\nINFO ok\x1b[31m\u202e\\x00") == (
        "AST-1\\x0d\\x0aINFO ok\\x1b[31m\\u202e\\\\x00"
    )
    assert printable("ORD-1/1 é ✓") == "ORD-1/1 é ✓"
    assert printable("x" * 500, limit=10) == "x" * 10 + "…"
