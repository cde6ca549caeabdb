"""The wallet API's parsers: the project-wide strict JSON parser (core.parsers)."""

from core.parsers import JSON_ONLY, PARSERS, StrictJSONParser

__all__ = ["JSON_ONLY", "PARSERS", "StrictJSONParser"]
