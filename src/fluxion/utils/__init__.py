"""Utilities outside the tensor core: ``fluxion.utils.data`` (datasets and loaders)."""

from __future__ import annotations

from . import data

__all__ = ["data"]
