import sys

from django.core.management.base import BaseCommand

from ledger.selectors import ledger_verify


class Command(BaseCommand):
    help = "Verify the ledger's invariants; exit 1 naming the offending account or currency if one fails."

    def handle(self, *args, **options):
        report = ledger_verify()
        if report.ok:
            self.stdout.write(
                f"ledger_check: OK — {report.accounts} accounts, {report.transfers} transfers, "
                f"{len(report.currencies)} currencies balanced ({', '.join(report.currencies) or 'none'})"
            )
            return
        for problem in report.problems:
            self.stderr.write(f"ledger_check: {problem}")
        self.stderr.write(f"ledger_check: FAILED — {len(report.problems)} problem(s)")
        sys.exit(1)
