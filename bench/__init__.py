"""Benchmarks that compare Ferry with plain yt-dlp on the same machine (see docs/benchmarks.md)."""
