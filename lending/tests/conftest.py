from payments.tests.conftest import alice, bob, carol  # noqa: F401 - funded, verified users


def usd_product():
    """The USD product the data migration seeds (a transactional test's flush may have emptied the table)."""
    from decimal import Decimal

    from lending.models import LoanProduct

    return LoanProduct.objects.get_or_create(
        currency="USD",
        defaults={
            "apr": Decimal("0.089"),
            "late_fee": 500,
            "min_amount": 100_00,
            "max_amount": 5_000_00,
            "terms": [3, 6, 12, 24],
        },
    )[0]
