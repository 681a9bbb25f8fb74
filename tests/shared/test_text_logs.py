"""The text log format keeps one line per record whatever a request puts in the message."""

from __future__ import annotations

import logging
import sys

from services.shared.logs import TextFormatter


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("ferry.test", logging.INFO, __file__, 1, message, args, None)


def test_text_formatter_escapes_controls():
    formatter = TextFormatter("%(levelname)s %(message)s")

    line = formatter.format(_record("import queued: %s", "http://a/\r\nINFO forged\x00"))

    assert line == "INFO import queued: http://a/\\r\\nINFO forged\\x00"


def test_text_formatter_keeps_unicode():
    formatter = TextFormatter("%(message)s")

    assert formatter.format(_record("title: %s", "vidéo ✓")) == "title: vidéo ✓"


def test_text_formatter_keeps_traceback_lines():
    formatter = TextFormatter("%(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "ferry.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )

    lines = formatter.format(record).splitlines()

    assert lines[0] == "failed"
    assert lines[1] == "Traceback (most recent call last):"
