"""Random number state: ``manual_seed``, ``seed``, ``initial_seed`` and ``Generator``."""

from __future__ import annotations

import numpy as np

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "default_generator"]


class Generator:
    """A source of random numbers with its own state.

    >>> g = fluxion.Generator().manual_seed(3)
    >>> a = fluxion.rand(2, generator=g)
    >>> _ = g.manual_seed(3)
    >>> bool((fluxion.rand(2, generator=g) == a).all())
    True
    """

    def __init__(self, device: str = "cpu") -> None:
        self._seed = 67280421310721
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed & 0xFFFFFFFFFFFFFFFF)
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        return self._rng.bit_generator.state

    def set_state(self, state) -> None:
        self._rng.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator and return it.

    >>> _ = fluxion.manual_seed(0)
    >>> a = fluxion.randn(3)
    >>> _ = fluxion.manual_seed(0)
    >>> bool((fluxion.randn(3) == a).all())
    True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the OS's entropy and return the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """Return the seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator)._rng
