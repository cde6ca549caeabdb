"""``{% follow_relationship viewer person %}``: how two people are connected, for confirm steps.

Paying the wrong person is the costliest mistake (DESIGN §8): "You follow each other"
next to a name is a quick sign it is the right one. One query.
"""

from django import template
from django.db.models import Q

from accounts.models import Follow

register = template.Library()


@register.simple_tag
def follow_relationship(viewer, person) -> str:
    viewer_id, person_id = getattr(viewer, "pk", None), getattr(person, "pk", None)
    if not viewer_id or not person_id or viewer_id == person_id:
        return ""
    pairs = set(
        Follow.objects.filter(
            Q(follower_id=viewer_id, followee_id=person_id) | Q(follower_id=person_id, followee_id=viewer_id)
        ).values_list("follower_id", flat=True)
    )
    if pairs == {viewer_id, person_id}:
        return "You follow each other"
    if person_id in pairs:
        return "Follows you"
    if viewer_id in pairs:
        return "You follow them"
    return "You don't follow each other"
