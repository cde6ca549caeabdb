"""Reads for creators: tip totals on their own posts, and the dashboard (earnings, chart, supporters).

Earnings land in the creator's wallet as they arrive (tips, subscription charges, tip shares);
nothing here moves money. Every function runs a fixed number of queries, whatever the number
of posts, days, tips or supporters.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.charts import nice_ceiling
from core.money import format_money
from ledger.models import Account, AccountKind
from payments.models import Payment, PaymentKind, PaymentStatus

from .models import CreatorProfile, PostAuthor, PostTip, TipShare
from .selectors import creator_enabled
from .services.posts import post_path
from .visibility import viewer_id

MAX_DAYS = 366
TOP_SUPPORTERS = 5
RECENT_TIPS = 10

# (key, label, css class): the chart's series, bottom to top.
SOURCES = (
    ("tips", "Tips", "series-tips"),
    ("subscriptions", "Subscriptions", "series-subs"),
    ("shares", "Tip shares", "series-shares"),
    ("sales", "Sales (coming with the shop)", "series-sales"),
)


# --- Tip totals on a page of posts ----------------------------------------------------------


def tip_totals_attach(posts, viewer) -> list:
    """Set on each post what the tip partial shows, in one query for the whole page (two when
    some authors' creator profile was not loaded with the posts).

    On every post (and the post a repost shows, when loaded): ``author_is_creator`` (bool),
    ``coauthors`` (users after the first author, in split order), ``tips_attached = True``;
    and ``tip_totals`` — only on the viewer's own posts: [(amount, currency)] of completed
    tips (``None`` on other people's posts, so nobody else ever sees them) — with
    ``tip_total_display`` ("$12.00", "$12.00 + €3.00" or ""). Returns the posts as a list.
    """
    posts = list(posts)
    targets = []
    for post in posts:
        targets.append(post)
        if post.repost_of_id and type(post).repost_of.is_cached(post) and post.repost_of is not None:
            targets.append(post.repost_of)
    if not targets:
        return posts
    me = viewer_id(viewer)
    ids = {post.pk for post in targets}
    own = {post.pk for post in targets if me is not None and post.author_id == me}
    totals, coauthors = _tips_and_coauthors(ids, own)
    # The selectors load ``author__creator`` with every row: read it there, query only the rest.
    creators: set[int] = set()
    unknown: set[int] = set()
    for post in targets:
        author = post.author if type(post).author.is_cached(post) else None
        if author is not None and type(author).creator.is_cached(author):
            if creator_enabled(author):
                creators.add(post.author_id)
        else:
            unknown.add(post.author_id)
    if unknown:
        creators |= set(
            CreatorProfile.objects.filter(user_id__in=unknown, is_enabled=True).values_list("user_id", flat=True)
        )
    for post in targets:
        post.tips_attached = True
        post.author_is_creator = post.author_id in creators
        post.coauthors = coauthors.get(post.pk, [])
        if post.pk in own:
            post.tip_totals = totals.get(post.pk, [])
            post.tip_total_display = " + ".join(format_money(amount, currency) for amount, currency in post.tip_totals)
        else:
            post.tip_totals = None
            post.tip_total_display = ""
    return posts


def _tips_and_coauthors(ids: set[int], own: set[int]) -> tuple[dict, dict]:
    """({post id: [(total, currency)]} of completed tips on ``own`` posts, {post id: [co-author users]}
    of ``ids``, in split order): one ``UNION ALL`` statement, the co-authors' user rows included."""
    totals: dict[int, list[tuple[int, str]]] = defaultdict(list)
    coauthors: dict[int, list] = defaultdict(list)
    if not ids:
        return totals, coauthors
    User = get_user_model()
    fields = User._meta.concrete_fields
    user_columns = ", ".join(f'u."{f.column}"' for f in fields)
    no_user = ", ".join("NULL" for _ in fields)
    marks = lambda values: ", ".join(["%s"] * len(values))  # noqa: E731
    # Table and column names come from the models' meta; every value is a parameter.
    sql = f"""SELECT pa.post_id, pa.position, NULL, NULL, {user_columns}
              FROM {PostAuthor._meta.db_table} pa JOIN {User._meta.db_table} u ON u.id = pa.user_id
              WHERE pa.position >= 1 AND pa.post_id IN ({marks(ids)})"""  # noqa: S608
    params: list = sorted(ids)
    if own:
        sql += f"""
              UNION ALL
              SELECT t.post_id, -1, SUM(t.amount), t.currency, {no_user}
              FROM {PostTip._meta.db_table} t JOIN {Payment._meta.db_table} p ON p.id = t.payment_id
              WHERE p.status = %s AND t.post_id IN ({marks(own)})
              GROUP BY t.post_id, t.currency"""  # noqa: S608
        params += [PaymentStatus.COMPLETED, *sorted(own)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    names = [f.attname for f in fields]
    # What the ORM's compiler applies to each column (JSON, booleans and datetimes on SQLite…).
    columns = [f.get_col("u") for f in fields]
    converters = [(col, col.get_db_converters(connection) + connection.ops.get_db_converters(col)) for col in columns]
    for post_id, position, total, currency, *user in sorted(rows, key=lambda r: (r[0], r[1], r[3] or "")):
        if position == -1:
            totals[post_id].append((int(total), currency))
            continue
        values = []
        for value, (col, funcs) in zip(user, converters, strict=True):
            for convert in funcs:
                value = convert(value, col, connection)
            values.append(value)
        coauthors[post_id].append(User.from_db(connection.alias, names, values))
    return totals, coauthors


# --- The dashboard --------------------------------------------------------------------------


@dataclass
class Bar:
    day: date
    parts: dict[str, int]  # source key -> minor units
    total: int = 0
    segments: list[dict] = field(default_factory=list)


@dataclass
class Earnings:
    user: object
    currency: str  # the chart's currency (the creator's home currency)
    days: int
    start: date
    end: date
    bars: list[Bar]
    window_totals: dict[str, int]  # per source, chart currency, over the window
    other_currencies: list[str]  # window earnings in currencies the chart does not show
    totals: list[dict]  # per currency: {"currency", "month", "all_time", "month_display", "all_time_display"}
    supporters: list[dict]
    recent_tips: list
    balances: list[Account]
    profile: CreatorProfile | None
    chart: dict

    @property
    def window_total(self) -> int:
        return sum(self.window_totals.values())

    @property
    def window_total_display(self) -> str:
        return format_money(self.window_total, self.currency)

    @property
    def has_earnings(self) -> bool:
        return bool(self.totals)


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _completed_received(user):
    return Payment.objects.filter(recipient_id=user.pk, status=PaymentStatus.COMPLETED)


def _shares_received(user):
    return TipShare.objects.filter(
        user_id=user.pk, reversal__isnull=True, amount__gt=0, payment__status=PaymentStatus.COMPLETED
    )


def _shares_given(user):
    return TipShare.objects.filter(
        payment__recipient_id=user.pk, reversal__isnull=True, amount__gt=0, payment__status=PaymentStatus.COMPLETED
    )


def earnings_for(user, *, days: int = 30, now: datetime | None = None) -> Earnings:
    """``user``'s creator earnings: per day for the last ``days`` days (1–366), totals, supporters.

    Tips are counted net of the shares the creator's splits passed on to co-authors; tip
    shares received from other people's posts are their own series; returned tips and
    reversed shares are left out. Amounts are as received (the creator's currency at the
    time). Eleven queries whatever the data.
    """
    days = max(1, min(int(days), MAX_DAYS))
    now = now or timezone.now()
    end = timezone.localdate(now)
    start = end - timedelta(days=days - 1)
    since = _local_midnight(start)
    month_start = _local_midnight(end.replace(day=1))
    currency = user.home_currency

    # 1-3: per day and currency over the window, one query per source.
    per_day: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    paid = (
        _completed_received(user)
        .filter(kind__in=[PaymentKind.TIP, PaymentKind.SUBSCRIPTION], completed_at__gte=since)
        .annotate(day=TruncDate("completed_at"))
        .values("day", "kind", "received_currency")
        .annotate(total=Sum("received_amount"))
        .order_by()
    )
    for row in paid:
        key = "tips" if row["kind"] == PaymentKind.TIP else "subscriptions"
        per_day[(row["day"], row["received_currency"])][key] += row["total"]
    given = (
        _shares_given(user)
        .filter(payment__completed_at__gte=since)
        .annotate(day=TruncDate("payment__completed_at"))
        .values("day", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in given:
        per_day[(row["day"], row["currency"])]["tips"] -= row["total"]
    received = (
        _shares_received(user)
        .filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in received:
        per_day[(row["day"], row["currency"])]["shares"] += row["total"]

    bars = []
    window_totals = {key: 0 for key, _, _ in SOURCES}
    other_currencies = sorted({cur for (_, cur), parts in per_day.items() if cur != currency and any(parts.values())})
    for offset in range(days):
        day = start + timedelta(days=offset)
        parts = {key: max(per_day.get((day, currency), {}).get(key, 0), 0) for key, _, _ in SOURCES}
        bar = Bar(day=day, parts=parts, total=sum(parts.values()))
        bars.append(bar)
        for key, value in parts.items():
            window_totals[key] += value

    # 4-6: this month and all time, per currency.
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"month": 0, "all_time": 0})
    month = Q(completed_at__gte=month_start)
    for row in (
        _completed_received(user)
        .filter(kind__in=[PaymentKind.TIP, PaymentKind.SUBSCRIPTION])
        .values("received_currency")
        .annotate(all_time=Sum("received_amount"), month=Sum("received_amount", filter=month))
        .order_by()
    ):
        totals[row["received_currency"]]["all_time"] += row["all_time"] or 0
        totals[row["received_currency"]]["month"] += row["month"] or 0
    for row in (
        _shares_given(user)
        .values("currency")
        .annotate(all_time=Sum("amount"), month=Sum("amount", filter=Q(payment__completed_at__gte=month_start)))
        .order_by()
    ):
        totals[row["currency"]]["all_time"] -= row["all_time"] or 0
        totals[row["currency"]]["month"] -= row["month"] or 0
    for row in (
        _shares_received(user)
        .values("currency")
        .annotate(all_time=Sum("amount"), month=Sum("amount", filter=Q(created_at__gte=month_start)))
        .order_by()
    ):
        totals[row["currency"]]["all_time"] += row["all_time"] or 0
        totals[row["currency"]]["month"] += row["month"] or 0
    total_rows = [
        {
            "currency": cur,
            "month": values["month"],
            "all_time": values["all_time"],
            "month_display": format_money(values["month"], cur),
            "all_time_display": format_money(values["all_time"], cur),
        }
        for cur, values in sorted(totals.items(), key=lambda item: (item[0] != currency, item[0]))
        if values["all_time"]
    ]

    # 7-8: top supporters (tips and subscriptions, ranked by their US-dollar value), with their users.
    top = list(
        _completed_received(user)
        .filter(kind__in=[PaymentKind.TIP, PaymentKind.SUBSCRIPTION])
        .values("sender_id")
        .annotate(usd=Sum("usd_equivalent"), count=Count("id"))
        .order_by("-usd", "sender_id")[:TOP_SUPPORTERS]
    )
    supporters = []
    if top:
        sender_ids = [row["sender_id"] for row in top]
        people = get_user_model().objects.in_bulk(sender_ids)
        amounts: dict[int, list[tuple[int, str]]] = defaultdict(list)
        # 9: what each of them gave, per currency, as received.
        for row in (
            _completed_received(user)
            .filter(kind__in=[PaymentKind.TIP, PaymentKind.SUBSCRIPTION], sender_id__in=sender_ids)
            .values("sender_id", "received_currency")
            .annotate(total=Sum("received_amount"))
            .order_by("sender_id", "received_currency")
        ):
            amounts[row["sender_id"]].append((row["total"], row["received_currency"]))
        for row in top:
            person = people.get(row["sender_id"])
            if person is None:
                continue
            supporters.append(
                {
                    "user": person,
                    "count": row["count"],
                    "total_display": " + ".join(format_money(a, c) for a, c in amounts[row["sender_id"]]),
                }
            )

    # 10: recent tips (any target), newest first.

    recent = list(
        Payment.objects.filter(recipient_id=user.pk, kind=PaymentKind.TIP)
        .exclude(status__in=[PaymentStatus.CANCELLED, PaymentStatus.REJECTED])
        .select_related("sender")
        .order_by("-id")[:RECENT_TIPS]
    )
    for payment in recent:
        payment.amount_display = format_money(payment.received_amount, payment.received_currency)
        target = payment.tip_target or ""
        payment.post_id = int(target[5:]) if target.startswith("post:") and target[5:].isdigit() else None
        payment.post_url = post_path(payment.post_id) if payment.post_id else ""

    # 11: wallet balances (earnings are already there); 12: the creator profile.
    balances = list(Account.objects.filter(owner_id=user.pk, kind=AccountKind.WALLET).order_by("currency"))
    profile = CreatorProfile.objects.filter(user_id=user.pk).first()
    result = Earnings(
        user=user,
        currency=currency,
        days=days,
        start=start,
        end=end,
        bars=bars,
        window_totals=window_totals,
        other_currencies=other_currencies,
        totals=total_rows,
        supporters=supporters,
        recent_tips=recent,
        balances=balances,
        profile=profile,
        chart={},
    )
    result.chart = earnings_chart(result)
    return result


# --- The chart (server-side SVG) ------------------------------------------------------------

CHART_WIDTH = 640
CHART_HEIGHT = 220
CHART_LEFT = 56  # room for the y-axis labels
CHART_BOTTOM = 24  # room for the x-axis labels
CHART_TOP = 8


def _num(value: float) -> str:
    """An SVG coordinate as plain text ("12.5"), never localised (no thousands separators or commas)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _short(day: date) -> str:
    return f"{day:%b} {day.day}"


def earnings_chart(earnings: Earnings) -> dict:
    """Geometry for the stacked bar chart template: bars with segments, y ticks, x labels.

    Pure arithmetic on ``earnings.bars`` (no queries); the template draws the SVG with a
    <title>/<desc> and the page adds a table of the same numbers.
    """
    bars = earnings.bars
    top = nice_ceiling(max((bar.total for bar in bars), default=0))
    plot_w = CHART_WIDTH - CHART_LEFT - 8
    plot_h = CHART_HEIGHT - CHART_BOTTOM - CHART_TOP
    slot = plot_w / max(len(bars), 1)
    bar_w = max(slot * 0.7, 1)
    label_every = max(1, len(bars) // 6)
    out_bars = []
    for index, bar in enumerate(bars):
        x = CHART_LEFT + index * slot + (slot - bar_w) / 2
        y = CHART_TOP + plot_h
        segments = []
        for key, label, css in SOURCES:
            value = bar.parts.get(key, 0)
            if value <= 0:
                continue
            height = plot_h * value / top
            y -= height
            segments.append(
                {
                    "x": _num(x),
                    "y": _num(y),
                    "w": _num(bar_w),
                    "h": _num(max(height, 0.5)),
                    "css": css,
                    "title": f"{_short(bar.day)}: {label} {format_money(value, earnings.currency)}",
                }
            )
        bar.segments = segments
        out_bars.append(
            {
                "segments": segments,
                "label": _short(bar.day) if index % label_every == 0 or index == len(bars) - 1 else "",
                "label_x": _num(x + bar_w / 2),
                "day": bar.day,
                "total_display": format_money(bar.total, earnings.currency),
            }
        )
    ticks = []
    for fraction in (0, 0.5, 1):
        ticks.append(
            {
                "y": _num(CHART_TOP + plot_h - plot_h * fraction),
                "label": format_money(int(top * fraction), earnings.currency),
            }
        )
    legend = [{"label": label, "css": css} for _, label, css in SOURCES]
    desc = (
        f"Earnings per day from {earnings.start:%B} {earnings.start.day} to {earnings.end:%B} {earnings.end.day}, {earnings.end.year} in {earnings.currency}: "
        f"{earnings.window_total_display} in total"
        + "".join(
            f", {label.lower()} {format_money(earnings.window_totals[key], earnings.currency)}"
            for key, label, _ in SOURCES
            if key != "sales"
        )
        + ". Sales will appear once the shop opens."
    )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "right": CHART_WIDTH - 8,
        "baseline": CHART_TOP + plot_h,
        "label_y": CHART_HEIGHT - 6,
        "bars": out_bars,
        "ticks": ticks,
        "legend": legend,
        "desc": desc,
        "empty": all(bar.total == 0 for bar in bars),
    }


def earnings_as_dict(earnings: Earnings) -> dict:
    """The API's shape of ``earnings_for`` (decimal strings in major units)."""
    from core.api import decimal_text

    cur = earnings.currency
    return {
        "currency": cur,
        "days": earnings.days,
        "start": earnings.start.isoformat(),
        "end": earnings.end.isoformat(),
        "per_day": [
            {
                "date": bar.day.isoformat(),
                **{key: decimal_text(bar.parts.get(key, 0), cur) for key, _, _ in SOURCES},
                "total": decimal_text(bar.total, cur),
            }
            for bar in earnings.bars
        ],
        "window_totals": {key: decimal_text(value, cur) for key, value in earnings.window_totals.items()},
        "other_currencies": earnings.other_currencies,
        "totals": [
            {
                "currency": row["currency"],
                "this_month": decimal_text(row["month"], row["currency"]),
                "all_time": decimal_text(row["all_time"], row["currency"]),
            }
            for row in earnings.totals
        ],
        "top_supporters": [
            {
                "handle": row["user"].handle,
                "name": row["user"].name,
                "count": row["count"],
                "total": row["total_display"],
            }
            for row in earnings.supporters
        ],
        "balances": [
            {"currency": account.currency, "available": decimal_text(account.available, account.currency)}
            for account in earnings.balances
        ],
    }


__all__ = ["SOURCES", "Earnings", "earnings_as_dict", "earnings_chart", "earnings_for", "tip_totals_attach"]
