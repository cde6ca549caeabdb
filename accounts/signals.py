"""Signals accounts sends to the apps above it (DESIGN §2: reactions that would point up).

accounts sits at the bottom of the import graph, so it cannot call messaging or
payments; they connect receivers to these instead (in their ``AppConfig.ready``).

``user_blocked`` — sent by ``accounts.social.block_create`` when ``blocker`` blocks
``blocked`` for the first time (a repeated block sends nothing). Keyword arguments:

- ``blocker``: the ``User`` who blocked;
- ``blocked``: the ``User`` who was blocked.

It is sent *inside* the blocking transaction, after the ``Block`` row is saved and the
follows both ways are deleted: whatever a receiver writes (messaging hiding the
pair's 1:1 thread, say) commits or rolls back together with the block, and an
exception raised by a receiver undoes the block. Receivers that push websocket
events must do so in ``transaction.on_commit`` (``notifications.services.event_publish``
already does). Keep receivers quick: the two users' rows are locked meanwhile.

``user_unblocked`` — sent by ``accounts.social.block_delete`` when an existing block is
removed, inside the same transaction; same keyword arguments. Unblocking restores
nothing by itself (follows deleted by the block stay deleted); a receiver may choose
to un-hide what it hid.

``user_followed`` — sent by ``accounts.social.follow_create`` when a NEW follow is made,
inside its transaction; keyword arguments ``follower`` and ``followee``
(notifications turns it into a ``follow.new`` notification).

``follow_requested`` — sent by ``accounts.social.follow_start`` when ``requester`` asks to
follow the protected account ``target`` for the first time (a repeated request sends
nothing), inside its transaction (notifications turns it into ``follow.request``).

``follow_request_approved`` — sent by ``accounts.social.follow_request_approve`` (and by
``follow_requests_approve_all`` when an account stops being protected) for each approved
request, inside the transaction that creates the ``Follow``; keyword arguments
``requester`` and ``target`` (notifications turns it into ``follow.approved`` for the
requester). Approving does not also send ``user_followed``: the target chose it.
"""

from django.dispatch import Signal

user_blocked = Signal()
user_unblocked = Signal()
user_followed = Signal()
follow_requested = Signal()
follow_request_approved = Signal()
