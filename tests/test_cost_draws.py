"""The cost's seeded draws of scale-to-zero hours compare each float with a float, not a Decimal,
and must decide exactly as the Decimal comparison would."""

from __future__ import annotations

import random
from decimal import Decimal

from components.review import cost


class Stream:
    """A stand-in for ``random.Random`` that returns the given draws."""

    def __init__(self, draws: list[float]) -> None:
        self._draws = iter(draws)

    def random(self) -> float:
        return next(self._draws)


def test_draws_decide_as_the_decimal_comparison(monkeypatch):
    # float(0.3) is just below 0.3 and float(0.1) just above 0.1: a draw equal to the float lands
    # on the other side of the Decimal, which only the exact comparison sees.
    monkeypatch.setattr(cost, "SAMPLES", 4)
    assert cost._draws(Stream([0.3, 0.29, 0.31, 0.0]), Decimal("0.3")) == [True, True, False, True]
    assert cost._draws(Stream([0.1, 0.09, 0.11, 0.0]), Decimal("0.1")) == [False, True, False, True]
    assert cost._draws(Stream([0.5, 0.25, 1 - 2**-53, 0.0]), Decimal(1)) == [True, True, True, True]


def test_draws_follow_the_seeded_stream():
    share = Decimal(7) / 24
    stream = random.Random(5)
    expected = [stream.random() < share for _ in range(cost.SAMPLES)]
    assert cost._draws(random.Random(5), share) == expected
    assert 0 < sum(expected) < cost.SAMPLES
