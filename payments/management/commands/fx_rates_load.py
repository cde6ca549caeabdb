"""Load mid-market FX rates from a CSV file: ``python manage.py fx_rates_load rates.csv [--source NAME]``.

The file has a header ``base,quote,rate[,as_of]`` (as_of ISO 8601, default now). All rows
are recorded or none (``payments.services.fx.fx_rates_load_csv``); an error names the line
and the command exits non-zero. ``payments/fixtures/fx_rates.csv`` holds the defaults.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import ValidationFailed
from payments.services.fx import fx_rates_load_csv

MAX_BYTES = 5 * 1024 * 1024


class Command(BaseCommand):
    help = "Record FX mid rates from a CSV file (base,quote,rate[,as_of]); all rows or none."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the CSV file")
        parser.add_argument("--source", default="", help="where the rates come from (default: csv:<file name>)")

    def handle(self, *args, file: str, source: str, **options):
        path = Path(file)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise CommandError(f"{file}: larger than {MAX_BYTES // (1024 * 1024)} MB; split it.")
            text = path.read_text(encoding="utf-8-sig")  # a BOM from a spreadsheet export is fine
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file.") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file}: not UTF-8 text.") from None
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror or exc}") from None
        try:
            count = fx_rates_load_csv(text, source=source or f"csv:{path.name}")
        except ValidationFailed as exc:
            raise CommandError(f"{file}: {exc.message} Nothing was loaded.") from None
        self.stdout.write(f"fx_rates_load: recorded {count} rate{'s' if count != 1 else ''} from {path.name}")
