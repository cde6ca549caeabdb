"""The project's OpenAPI schema class (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

Its own module, not core.api: drf-spectacular's AutoSchema imports rest_framework.generics, which
imports the pagination class named in the settings (core.api), so core.api cannot import it."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions
from rest_framework.pagination import CursorPagination

from .api import ERROR_RESPONSE


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the error answers (``ERROR_RESPONSE``) any operation can give
    that its own ``responses`` do not name: 403 (not signed in, or not allowed) and 429 (throttled)
    behind a permission check; 404 for a path with parameters (unknown or someone else's object,
    or a value the URL pattern rejects) and for a cursor-paginated list (a forged cursor); 400 where
    there is input (a body or query parameters)."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(ERROR_RESPONSE, str(code), direction=direction)
        return responses

    def _error_codes(self) -> list[int]:
        codes = []
        if self.method in ("POST", "PUT", "PATCH") or any(p.get("in") == "query" for p in self._get_parameters()):
            codes.append(400)
        guarded = any(not isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())
        if guarded:
            codes.append(403)
        if "{" in self.path or (self._is_list_view() and isinstance(self._get_paginator(), CursorPagination)):
            codes.append(404)
        if getattr(self.view, "throttle_classes", None):
            codes.append(429)
        return codes
