import pytest

from core.charts import nice_ceiling


@pytest.mark.parametrize(
    ("value", "top"),
    [(-5, 1), (0, 1), (1, 1), (2, 2), (3, 5), (11, 20), (21, 25), (26, 50), (51, 100), (100, 100), (1462, 2000)],
)
def test_the_axis_top_is_the_next_round_amount(value, top):
    assert nice_ceiling(value) == top


def test_it_is_never_below_the_value():
    for value in range(1, 5000, 7):
        assert nice_ceiling(value) >= value
