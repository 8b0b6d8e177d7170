"""Runnable examples: ``python -m fluxion.examples.digits`` and ``... .sin_to_cos``.

They need the ``examples`` extra (``pip install 'fluxion[examples]'``: scikit-learn, tqdm,
matplotlib); importing this package needs nothing beyond fluxion.
"""

from __future__ import annotations

__all__: list[str] = []
