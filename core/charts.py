"""Small arithmetic shared by the server-rendered SVG charts (creator earnings, seller sales)."""

from __future__ import annotations


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2, 2.5 or 5 × 10^n (whole minor units) at or above ``value``, at least 1:
    the top of a chart's y axis, so its ticks read as round amounts."""
    if value <= 0:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for tenths in (10, 20, 25, 50, 100):
        if tenths * magnitude >= value * 10 and (tenths * magnitude) % 10 == 0:
            return tenths * magnitude // 10
    return 10 * magnitude
