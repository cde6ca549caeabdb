import pytest  # noqa: F401

from payments.tests.conftest import alice, bob, carol, fx_rates  # noqa: F401 - funded, verified users
