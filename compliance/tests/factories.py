"""Test helpers other apps use to make users who may send money."""

from __future__ import annotations


def make_verified(user, *, tier: int = 1):
    """Give ``user`` KYC tier ``tier`` (1: identity details; 2: document approved). STUB until compliance lands."""
    return None
