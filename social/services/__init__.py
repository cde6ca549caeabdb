"""Social services, one module per capability (DESIGN §6: ``<noun>_<verb>`` functions).

- ``posts``:         post_create / post_delete / like / repost / quote / reply, mentions, hashtags
- ``tips``:          post_tip_send, revenue splits (post_authors_set), tip shares
- ``creators``:      creator mode, payout
- ``subscriptions``: tiers, subscribe, cancel, renewals
- ``moderation``:    reports, staff hide/unhide
"""
