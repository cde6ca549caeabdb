"""Websocket message delivery against a raw Redis pub/sub round trip (issue 9, point 5): prints tables.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/everything_bench \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/messages.py --seconds 30

- seeds ``--clients`` users (default 200) in conversations: half of them in 1:1 pairs, half in
  groups of ``--group-size`` (default 5), and logs each of them in (a session per user, the
  session engine of the settings, and a CSRF cookie);
- **end to end**, once per channel-layer backend (``--layers``, default both): starts the
  production-style server (uvicorn, ``--workers``, ``DEBUG=0``, ``CHANNEL_LAYER=<backend>``),
  connects one websocket per user to ``/ws/``, then for ``--seconds`` sends ``--rate`` messages a
  second (open loop: a send does not wait for the previous one), each from a random user to their
  conversation through ``POST /api/v1/conversations/<id>/messages/``. Latency = from just before
  the POST until the ``message.new`` event reaches a member's socket, for every member (the
  sender's own socket included: their other tabs need it). A delivery not received
  ``--grace`` seconds after the last send is lost;
- **channel layer alone**, for both backends: ``group_send`` to every member's ``user.<id>`` group
  (as ``notifications.services`` does) → ``receive`` on one channel per client, same payload,
  rate and fan-out, no Django and no HTTP;
- **raw Redis pub/sub**: redis-py asyncio, one PUBLISH per recipient channel (pipelined) → a
  subscriber on all the clients' channels: the round trip this machine's Redis allows.

The ratios are taken within the run. Pub/sub channel and layer prefixes carry ``wsbench``
(pub/sub names are global across Redis databases). Writes the ``messages`` section of
docs/benchmarks.md unless ``--no-docs``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from _server import server

# The in-process profile (--profile) serves the ASGI application here, as the server does.
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
common.django_setup()
logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.middleware.csrf import _get_new_csrf_string  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from messaging.models import Conversation, ConversationKind, MemberRole, Membership  # noqa: E402

LAYERS = {
    "redis": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


# --- Seeding --------------------------------------------------------------------------------


@dataclass
class Person:
    id: int
    conversation: int
    cookie: str = ""
    csrf: str = ""


@dataclass
class World:
    people: list[Person]
    members: dict[int, list[int]]  # conversation id -> member user ids
    pairs: int
    groups: int


def seed(clients: int, group_size: int, tag: str) -> World:
    """``clients`` users, half in 1:1 pairs and half in groups, each signed in once."""
    User = get_user_model()
    in_pairs = (clients // 2) // 2 * 2
    rest = clients - in_pairs
    users = User.objects.bulk_create(
        [
            User(handle=f"wsb{tag}u{i}", email=f"wsb{tag}u{i}@bench.invalid", display_name=f"Bench {i}")
            for i in range(clients)
        ]
    )
    for user in users:
        user.set_unusable_password()
    User.objects.bulk_update(users, ["password"])
    now = timezone.now()
    layout: list[list] = [users[i : i + 2] for i in range(0, in_pairs, 2)]
    layout += [users[in_pairs + i : in_pairs + i + group_size] for i in range(0, rest, group_size)]
    with transaction.atomic():
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(
                    kind=ConversationKind.DIRECT
                    if len(group) == 2 and index < in_pairs // 2
                    else ConversationKind.GROUP,
                    name="" if index < in_pairs // 2 else f"bench group {index}",
                    pair_key=f"{group[0].pk}:{group[1].pk}" if index < in_pairs // 2 else None,
                    created_by=group[0],
                    last_activity_at=now,
                )
                for index, group in enumerate(layout)
            ]
        )
        Membership.objects.bulk_create(
            [
                Membership(
                    conversation=conversation,
                    user=user,
                    role=MemberRole.ADMIN
                    if position == 0 and conversation.kind == ConversationKind.GROUP
                    else MemberRole.MEMBER,
                )
                for conversation, group in zip(conversations, layout, strict=True)
                for position, user in enumerate(group)
            ]
        )
    people, members = [], {}
    client = Client()
    for conversation, group in zip(conversations, layout, strict=True):
        members[conversation.pk] = [user.pk for user in group]
        for user in group:
            client.force_login(user)
            csrf = _get_new_csrf_string()
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            people.append(
                Person(
                    id=user.pk,
                    conversation=conversation.pk,
                    cookie=f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}",
                    csrf=csrf,
                )
            )
            client.cookies.clear()
    with connection.cursor() as cursor:
        for table in ("accounts_user", "messaging_conversation", "messaging_membership", "messaging_message"):
            cursor.execute(f"ANALYZE {table}")
    pairs = in_pairs // 2
    return World(people=people, members=members, pairs=pairs, groups=len(layout) - pairs)


# --- Measuring --------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    sent: int = 0
    errors: int = 0
    expected: int = 0
    latencies: list[float] = field(default_factory=list)  # ms, one per delivery received
    post_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    first_error: str = ""
    dropped: int = 0  # sockets closed during the run (their missing deliveries are not "lost")

    @property
    def lost(self) -> int:
        return self.expected - len(self.latencies)

    def row(self, clients: int, baseline_p50: float, baseline_p99: float) -> list:
        p50, p99 = common.percentile(self.latencies, 50), common.percentile(self.latencies, 99)
        return [
            self.name,
            clients,
            self.sent / self.seconds if self.seconds else 0.0,
            len(self.latencies) / self.seconds if self.seconds else 0.0,
            p50,
            p99,
            self.lost,
            self.dropped,
            self.errors,
            p50 / baseline_p50 if baseline_p50 else float("nan"),
            p99 / baseline_p99 if baseline_p99 else float("nan"),
        ]


def _body(tag: str, seq: int, size: int) -> str:
    head = f"wsbench {tag} #{seq} "
    return head + "x" * max(0, size - len(head))


def _seq_of(body: str) -> int | None:
    parts = body.split(" ", 3)
    if len(parts) >= 3 and parts[0] == "wsbench" and parts[2].startswith("#"):
        return int(parts[2][1:])
    return None


async def _steady(rate: float, seconds: float, send) -> int:
    """Call ``send(seq)`` as a task ``rate`` times a second for ``seconds`` (open loop); returns how many."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = set()
    seq = 0
    while True:
        due = start + seq / rate
        if due - start >= seconds:
            break
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(seq))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        seq += 1
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    return seq


class Deliveries:
    """Send times and who must receive each message; receivers report here."""

    def __init__(self):
        self.sent_at: dict[int, float] = {}
        self.waiting: dict[int, set[int]] = {}
        self.latencies: list[float] = []

    def expect(self, seq: int, recipients: list[int], at: float) -> None:
        self.sent_at[seq] = at
        self.waiting[seq] = set(recipients)

    def received(self, seq: int | None, who: int, at: float) -> None:
        waiting = self.waiting.get(seq)
        if waiting is not None and who in waiting:
            waiting.discard(who)
            self.latencies.append((at - self.sent_at[seq]) * 1000)

    def outstanding(self, *, gone: set[int] = frozenset()) -> int:
        """Deliveries still missing (``gone``: only those to sockets that are not in it)."""
        return sum(len(w - gone) for w in self.waiting.values())

    async def settle(self, grace: float, *, gone: set[int] = frozenset()) -> None:
        deadline = time.perf_counter() + grace
        while self.outstanding(gone=gone) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)


def _sample_event(tag: str, size: int) -> dict:
    """A ``user.event`` message shaped like the ``message.new`` the app pushes."""
    return {
        "type": "user.event",
        "event": {
            "id": 123456789,
            "type": "message.new",
            "data": {
                "id": 123456789,
                "conversation": 12345,
                "kind": "text",
                "sender": {"id": 12345, "handle": f"wsb{tag}u123", "name": "Bench 123"},
                "body": _body(tag, 0, size),
                "reply_to": None,
                "created_at": timezone.now().isoformat(),
                "edited_at": None,
                "deleted": False,
                "payment": None,
                "payment_request": None,
                "escrow": None,
                "split": None,
                "reactions": [],
                "attachments": [],
            },
        },
    }


def _with_seq(event: dict, tag: str, seq: int, size: int) -> dict:
    data = dict(event["event"]["data"], body=_body(tag, seq, size))
    return {"type": event["type"], "event": dict(event["event"], data=data)}


async def raw_pubsub(world: World, args, tag: str) -> Run:
    """PUBLISH (one per recipient, pipelined) → a subscriber on every client's channel."""
    import redis.asyncio as redis

    run = Run("raw Redis pub/sub (redis-py)")
    deliveries = Deliveries()
    payload_size = len(json.dumps(_sample_event(tag, args.body_size)))
    channel = {p.id: f"wsbench:{tag}:user.{p.id}" for p in world.people}
    by_channel = {name.encode(): uid for uid, name in channel.items()}
    publisher = redis.Redis.from_url(os.environ["REDIS_URL"])
    subscriber = redis.Redis.from_url(os.environ["REDIS_URL"])
    pubsub = subscriber.pubsub()
    await pubsub.subscribe(*channel.values())

    async def listen():
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                seq = int(message["data"].split(b" ", 1)[0])
                deliveries.received(seq, by_channel[message["channel"]], time.perf_counter())

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    people = world.people

    async def send(seq: int):
        person = random.choice(people)
        recipients = world.members[person.conversation]
        data = f"{seq} ".encode().ljust(payload_size, b"x")
        deliveries.expect(seq, recipients, time.perf_counter())
        async with publisher.pipeline(transaction=False) as pipe:
            for uid in recipients:
                pipe.publish(channel[uid], data)
            await pipe.execute()
        run.sent += 1

    started = time.perf_counter()
    await _steady(args.rate, args.layer_seconds, send)
    run.seconds = time.perf_counter() - started
    await deliveries.settle(args.grace)
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    await pubsub.aclose()
    await subscriber.aclose()
    await publisher.aclose()
    run.expected = len(deliveries.latencies) + deliveries.outstanding()
    run.latencies = deliveries.latencies
    return run


async def layer_alone(world: World, args, tag: str, backend: str) -> Run:
    """``group_send`` to each member's ``user.<id>`` group → ``receive`` on one channel per client."""
    from django.utils.module_loading import import_string

    run = Run(f"channel layer alone: {backend}")
    layer = import_string(LAYERS[backend])(hosts=[os.environ["REDIS_URL"]], prefix=f"wsbench-{tag}-{backend}")
    deliveries = Deliveries()
    channels = {}
    for person in world.people:
        name = await layer.new_channel()
        await layer.group_add(f"user.{person.id}", name)
        channels[person.id] = name

    async def receive(uid: int, name: str):
        while True:
            message = await layer.receive(name)
            deliveries.received(_seq_of(message["event"]["data"]["body"]), uid, time.perf_counter())

    receivers = [asyncio.create_task(receive(uid, name)) for uid, name in channels.items()]
    await asyncio.sleep(0.2)
    event = _sample_event(tag, args.body_size)

    async def send(seq: int):
        person = random.choice(world.people)
        recipients = world.members[person.conversation]
        message = _with_seq(event, tag, seq, args.body_size)
        deliveries.expect(seq, recipients, time.perf_counter())
        for uid in recipients:  # as notifications.services: one group_send per member, in order
            await layer.group_send(f"user.{uid}", message)
        run.sent += 1

    started = time.perf_counter()
    await _steady(args.rate, args.layer_seconds, send)
    run.seconds = time.perf_counter() - started
    await deliveries.settle(args.grace)
    for task in receivers:
        task.cancel()
    await asyncio.gather(*receivers, return_exceptions=True)
    for uid, name in channels.items():
        await layer.group_discard(f"user.{uid}", name)
    with contextlib.suppress(Exception):
        await layer.flush()
    run.expected = len(deliveries.latencies) + deliveries.outstanding()
    run.latencies = deliveries.latencies
    return run


async def end_to_end(world: World, args, tag: str, base_url: str, backend: str) -> Run:
    """200 sockets on /ws/, messages POSTed through the API at a steady rate."""
    import httpx
    import websockets

    run = Run(f"end to end: uvicorn × {args.workers}, {backend}")
    deliveries = Deliveries()
    ws_url = base_url.replace("http://", "ws://") + "/ws/"
    origin = base_url

    async def connect(person: Person):
        for attempt in range(5):
            try:
                return await websockets.connect(
                    ws_url,
                    additional_headers={"Cookie": person.cookie},
                    origin=origin,
                    open_timeout=20,
                    max_size=2**20,
                )
            except (TimeoutError, OSError, websockets.InvalidStatus):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))

    sockets = []
    for start in range(0, len(world.people), 20):  # 20 at a time: a login storm is not the subject
        sockets += await asyncio.gather(*(connect(p) for p in world.people[start : start + 20]))
    gone: set[int] = set()
    finished = False

    async def read(person: Person, socket):
        try:
            async for frame in socket:
                event = json.loads(frame)
                if event.get("type") == "message.new":
                    deliveries.received(_seq_of(event["data"].get("body", "")), person.id, time.perf_counter())
        except websockets.ConnectionClosed as closed:
            if not finished:
                gone.add(person.id)
                if len(gone) == 1:
                    print(f"  a socket was closed during the run: {closed!r}")

    readers = [asyncio.create_task(read(p, s)) for p, s in zip(world.people, sockets, strict=True)]
    # Every socket answers a ping: it is accepted, in its groups and relaying.
    for socket in sockets:
        with contextlib.suppress(websockets.ConnectionClosed):
            await socket.send('{"type": "ping"}')
    await asyncio.sleep(1.0)

    # At most 16 requests in flight (a send waiting for a connection is timed from its due time):
    # the server opens a PostgreSQL connection per request in flight, and max_connections is shared.
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them under us.
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=4.0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:

        async def post(seq: int, warmup: bool = False):
            person = random.choice(world.people)
            body = _body(tag, seq, args.body_size)
            at = time.perf_counter()
            if not warmup:
                deliveries.expect(seq, world.members[person.conversation], at)
            try:
                response = await client.post(
                    f"/api/v1/conversations/{person.conversation}/messages/",
                    json={"body": body},
                    headers={"Cookie": person.cookie, "X-CSRFToken": person.csrf, "Referer": base_url + "/"},
                )
            except httpx.HTTPError as error:
                response, failure = None, repr(error)
            else:
                failure = "" if response.status_code == 201 else f"{response.status_code} {response.text[:300]}"
            if warmup:
                return
            if failure:
                run.errors += 1
                deliveries.waiting.pop(seq, None)  # not sent: not expected
                if not run.first_error:
                    run.first_error = failure
                    print(f"  first error: {failure}")
            else:
                run.sent += 1
                run.post_ms.append((time.perf_counter() - at) * 1000)

        # Warm-up: every worker's connections, plans and code paths (not measured).
        await _steady(args.rate, args.warmup, lambda seq: post(-1 - seq, warmup=True))
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        await _steady(args.rate, args.seconds, post)
        run.seconds = time.perf_counter() - started
        await deliveries.settle(args.grace, gone=gone)
    finished = True
    for socket in sockets:
        await socket.close()
    await asyncio.gather(*readers, return_exceptions=True)
    run.dropped = len(gone)
    if gone:
        print(f"  {len(gone)} sockets were closed by the server during the run")
    run.expected = len(deliveries.latencies) + deliveries.outstanding(gone=gone)
    run.latencies = deliveries.latencies
    return run


async def profile(world: World, args, tag: str) -> str:
    """``args.profile`` message POSTs through the ASGI application in this process, under cProfile.

    Sequential, so the CPU time per POST (this process: Django, DRF, the channel layer's client;
    not PostgreSQL's or Redis's) is what one worker spends on a message.
    """
    import cProfile
    import io
    import pstats
    import threading

    import httpx

    from everything.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

        async def post(seq: int) -> None:
            person = world.people[seq % len(world.people)]
            response = await client.post(
                f"/api/v1/conversations/{person.conversation}/messages/",
                json={"body": _body(tag, seq, args.body_size)},
                headers={"Cookie": person.cookie, "X-CSRFToken": person.csrf},
            )
            if response.status_code != 201:
                raise RuntimeError(f"POST answered {response.status_code}: {response.text[:300]}")

        for seq in range(20):
            await post(seq)
        # Django runs each request's sync middleware and view in a thread of its own: profile
        # every thread started from now on too (cProfile only sees the thread that enables it).
        thread_profiles = []

        def start_in_thread(*_):
            sys.setprofile(None)
            thread_profile = cProfile.Profile()
            thread_profiles.append(thread_profile)
            thread_profile.enable()

        profiler = cProfile.Profile()
        wall, cpu = time.perf_counter(), time.process_time()
        threading.setprofile(start_in_thread)
        profiler.enable()
        for seq in range(args.profile):
            await post(1000 + seq)
        profiler.disable()
        threading.setprofile(None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    for thread_profile in thread_profiles:
        thread_profile.create_stats()  # its thread has ended: only its collected calls remain
        stats.add(thread_profile)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(25)
    print(out.getvalue())
    return (
        f"{args.profile} POSTs in one process under cProfile: {wall / args.profile * 1000:.1f} ms wall and "
        f"{cpu / args.profile * 1000:.1f} ms CPU per POST (layer {settings.CHANNEL_LAYERS['default']['BACKEND']})"
    )


# --- Main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--group-size", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30.0, help="end-to-end sending time per backend")
    parser.add_argument("--layer-seconds", type=float, default=None, help="baselines (default: min(seconds, 10))")
    parser.add_argument("--rate", type=float, default=None, help="messages per second (default clients / 10)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--grace", type=float, default=5.0, help="seconds to wait for late deliveries")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8094)
    parser.add_argument("--body-size", type=int, default=120, help="characters of each message body")
    parser.add_argument("--layers", default="redis,pubsub", help="channel layers to run end to end")
    parser.add_argument("--profile", type=int, default=0, help="only profile this many POSTs in-process")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    args.rate = args.rate or args.clients / 10
    args.layer_seconds = args.layer_seconds or min(args.seconds, 10.0)
    backends = [name.strip() for name in args.layers.split(",") if name.strip()]
    for name in backends:
        if name not in LAYERS:
            sys.exit(f"bench: unknown layer {name!r} (choose from {', '.join(LAYERS)})")

    common.require_services(postgres=True, redis=True)
    call_command("migrate", verbosity=0, interactive=False)
    tag = secrets.token_hex(3)
    world = seed(args.clients, args.group_size, tag)
    fanout = sum(len(world.members[p.conversation]) for p in world.people) / len(world.people)
    print(
        f"bench: {len(world.people)} clients in {world.pairs} pairs and {world.groups} groups "
        f"(mean fan-out {fanout:.1f} sockets per message), {args.rate:g} messages/s"
    )

    if args.profile:
        print(asyncio.run(profile(world, args, tag)))
        return

    runs = []
    print(f"bench: raw Redis pub/sub, {args.layer_seconds:g} s")
    runs.append(asyncio.run(raw_pubsub(world, args, tag)))
    for backend in LAYERS:
        print(f"bench: channel layer alone ({backend}), {args.layer_seconds:g} s")
        runs.append(asyncio.run(layer_alone(world, args, tag, backend)))
    for backend in backends:
        print(f"bench: end to end ({backend}), uvicorn × {args.workers}, {args.seconds:g} s")
        env = {"CHANNEL_LAYER": backend, "CHANNELS_PREFIX": f"wsbench-{tag}"}
        with server(workers=args.workers, port=args.port, env=env) as base_url:
            runs.append(asyncio.run(end_to_end(world, args, tag, base_url, backend)))

    raw = runs[0]
    base50, base99 = common.percentile(raw.latencies, 50), common.percentile(raw.latencies, 99)
    headers = [
        "path", "clients", "messages/s", "deliveries/s", "p50 ms", "p99 ms", "lost", "dropped sockets", "errors",
        "p50 ÷ raw", "p99 ÷ raw",
    ]  # fmt: skip
    delivery = common.table(headers, [r.row(len(world.people), base50, base99) for r in runs])
    posts = common.table(
        ["end-to-end run", "POSTs", "POST p50 ms", "POST p99 ms"],
        [
            [r.name, r.sent, common.percentile(r.post_ms, 50), common.percentile(r.post_ms, 99)]
            for r in runs
            if r.post_ms
        ],
    )
    summary = _findings(runs)
    print()
    print(delivery)
    print()
    print(posts)
    print()
    print(summary)
    for r in runs:
        if r.first_error:
            print(f"{r.name}: first error: {r.first_error}")
    if not args.no_docs:
        body = _docs(world, args, fanout, delivery, posts) + "\n\n" + summary
        common.write_section("messages", body, title="Messages")


def _findings(runs: list[Run]) -> str:
    """What this run's figures say: the target, the layers, where the end-to-end time goes."""
    p = common.percentile
    lines = []
    layers = [r for r in runs if r.name.startswith("channel layer alone")]
    if len(layers) == 2:
        best = min(layers, key=lambda r: p(r.latencies, 99))
        other = next(r for r in layers if r is not best)
        lines.append(
            f"- Channel layer alone, same rate and fan-out: `{best.name.split(': ')[1]}` p50/p99 "
            f"{p(best.latencies, 50):.1f}/{p(best.latencies, 99):.1f} ms against "
            f"`{other.name.split(': ')[1]}` {p(other.latencies, 50):.1f}/{p(other.latencies, 99):.1f} ms "
            f"(raw pub/sub {p(runs[0].latencies, 50):.1f}/{p(runs[0].latencies, 99):.1f} ms)."
        )
    for r in runs:
        if not r.post_ms:
            continue
        p99 = p(r.latencies, 99)
        met = p99 < 50 and r.lost == 0 and r.errors == 0
        lines.append(
            f"- {r.name}: delivery p99 {p99:.0f} ms, {r.lost} lost, {r.errors} errors — target "
            f"(p99 < 50 ms, none lost) {'met' if met else 'NOT met'}. The POST's own p50 is "
            f"{p(r.post_ms, 50):.0f} ms against a delivery p50 of {p(r.latencies, 50):.0f} ms: the event leaves "
            "at commit, so the end-to-end latency is the request's work before its commit plus one layer hop."
        )
    return "\n".join(lines)


def _docs(world: World, args, fanout: float, delivery: str, posts: str) -> str:
    return "\n".join(
        [
            f"{len(world.people)} websocket clients ({world.pairs} pairs, {world.groups} groups of "
            f"{args.group_size}; mean fan-out {fanout:.1f} sockets per message, the sender's included), "
            f"{args.rate:g} messages/s from random clients; end to end {args.seconds:g} s per channel layer after "
            f"a {args.warmup:g} s warm-up, the baselines {args.layer_seconds:g} s each; a delivery not received "
            f"{args.grace:g} s after the last send is lost. Latency: send → the member's socket (end to end: "
            "from just before the POST). `÷ raw`: over the raw Redis pub/sub round trip of this run.",
            "",
            delivery,
            "",
            "The POSTs themselves (the message is published on commit, before the response):",
            "",
            posts,
        ]
    )


if __name__ == "__main__":
    main()
