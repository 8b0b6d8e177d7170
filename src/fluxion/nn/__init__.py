"""Neural-network building blocks: ``fluxion.nn.functional`` (``Module`` and layers to come)."""

from __future__ import annotations

from . import functional

__all__ = ["functional"]
