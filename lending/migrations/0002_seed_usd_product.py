"""Seed the USD loan product with the defaults (8.9% APR, 5.00 late fee, 100.00–5,000.00, 3/6/12/24 months).

Staff change it in the admin; other currencies get a product only when staff add one.
"""

from decimal import Decimal

from django.db import migrations


def seed(apps, schema_editor):
    LoanProduct = apps.get_model("lending", "LoanProduct")
    LoanProduct.objects.get_or_create(
        currency="USD",
        defaults={
            "apr": Decimal("0.089"),
            "late_fee": 500,
            "min_amount": 100_00,
            "max_amount": 5_000_00,
            "terms": [3, 6, 12, 24],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("lending", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
