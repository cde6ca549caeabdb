"""Payments services, one module per capability (DESIGN §6: ``<noun>_<verb>`` functions).

- ``wallet``:   wallet accounts per currency (opened on demand), balances
- ``fx``:       rates, quotes with the disclosed spread, USD equivalents
- ``send``:     payment_send / payment_return / payment_cancel / payment_release and review decisions
- ``requests``: requests and splits;  ``tips``: tip_send
- ``funding``:  linked cards (through ``payments.vault``), add money, cash out
"""
