"""A clock the rate limiter can be given, and rates for one test."""

START = 1_700_000_040.0  # a multiple of 60: a minute window starts here


class Clock:
    def __init__(self) -> None:
        self.time = START

    def __call__(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds


def set_rates(settings, rates: dict[str, str]) -> None:
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, **rates}
