"""Browser tests: Playwright driving Debian's Chromium against a live ASGI server (DESIGN §7)."""
