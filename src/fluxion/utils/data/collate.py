"""Turn a list of samples into a batch: ``default_collate`` and ``default_convert``.

The type rules are PyTorch's: tensors are stacked, NumPy arrays and NumPy scalars become tensors,
Python floats become a float64 tensor and ints an int64 tensor, strings and bytes stay a list,
mappings, named tuples and sequences are collated field by field.
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

import fluxion

__all__ = ["default_collate", "default_convert", "collate", "default_collate_fn_map"]

# NumPy dtypes that cannot become tensors: strings, bytes, objects ("<U3", "|S2", "|O")
_np_str_obj_array_pattern = re.compile(r"[SaUO]")

_ERR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_numpy_value(x: Any) -> bool:
    cls = type(x)
    return cls.__module__ == "numpy" and cls.__name__ not in ("str_", "string_", "bytes_")


def default_convert(data: Any) -> Any:
    """Convert NumPy arrays and scalars (also inside containers) to tensors; leave the rest.

    The collate function a ``DataLoader`` uses when automatic batching is off
    (``batch_size=None``).

    >>> fluxion.utils.data.default_convert((np.array([1, 2]), "a"))
    [tensor([1, 2]), 'a']
    """
    if isinstance(data, fluxion.Tensor):
        return data
    if _is_numpy_value(data):
        if isinstance(data, np.ndarray) and _np_str_obj_array_pattern.search(data.dtype.str):
            return data
        return fluxion.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        return _rebuild_mapping(data, converted)
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # a list, as in PyTorch
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuild_mapping(like: collections.abc.Mapping, values: dict) -> Any:
    """A mapping of ``like``'s type holding ``values`` (a plain dict if the type refuses)."""
    try:
        if isinstance(like, collections.abc.MutableMapping):
            clone = copy.copy(like)
            clone.update(values)
            return clone
        return type(like)(values)
    except TypeError:
        return values


def _rebuild_sequence(like: collections.abc.Sequence, values: list) -> Any:
    """A sequence of ``like``'s type holding ``values`` (a plain list if the type refuses)."""
    try:
        if isinstance(like, collections.abc.MutableSequence):
            clone = copy.copy(like)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(like)(values)
    except TypeError:
        return values


def _collate_tensor(batch: list, *, collate_fn_map: dict | None = None) -> fluxion.Tensor:
    return fluxion.stack(batch, 0)


def _collate_numpy_array(batch: list, *, collate_fn_map: dict | None = None) -> Any:
    if _np_str_obj_array_pattern.search(batch[0].dtype.str) is not None:
        raise TypeError(_ERR.format(batch[0].dtype))
    return collate([fluxion.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_numpy_scalar(batch: list, *, collate_fn_map: dict | None = None) -> fluxion.Tensor:
    return fluxion.as_tensor(np.asarray(batch))


def _collate_float(batch: list, *, collate_fn_map: dict | None = None) -> fluxion.Tensor:
    return fluxion.tensor(batch, dtype=fluxion.float64)


def _collate_int(batch: list, *, collate_fn_map: dict | None = None) -> fluxion.Tensor:
    return fluxion.tensor(batch)


def _collate_str(batch: list, *, collate_fn_map: dict | None = None) -> list:
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    fluxion.Tensor: _collate_tensor,
    np.ndarray: _collate_numpy_array,
    (np.bool_, np.number, np.object_): _collate_numpy_scalar,
    float: _collate_float,
    int: _collate_int,
    str: _collate_str,
    bytes: _collate_str,
}


def collate(batch: list, *, collate_fn_map: dict | None = None) -> Any:
    """Collate ``batch`` with per-type functions from ``collate_fn_map``, recursing into containers.

    ``collate_fn_map`` maps a type (or tuple of types) to ``fn(batch, *, collate_fn_map)``; the
    exact type of the first element is looked up first, then each key by ``isinstance``.

    >>> from fluxion.utils.data import collate, default_collate_fn_map
    >>> to_max = {int: lambda batch, *, collate_fn_map: max(batch)}
    >>> collate([(1, "a"), (5, "b")], collate_fn_map={**default_collate_fn_map, **to_max})
    [5, ('a', 'b')]
    """
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for key, fn in collate_fn_map.items():
            if isinstance(elem, key):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        values = {
            key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem
        }
        return _rebuild_mapping(elem, values)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # a list, as in PyTorch
        return _rebuild_sequence(elem, columns)
    raise TypeError(_ERR.format(elem_type))


def default_collate(batch: list) -> Any:
    """Stack a list of samples into a batch, recursing into dicts, tuples and lists.

    Tensors are stacked along a new dim 0; NumPy arrays become tensors and are stacked; Python
    floats give a float64 tensor, ints an int64 tensor; strings stay a list; a dict, named
    tuple or list of samples gives one of batches (tuples give a list, as in PyTorch).

    Args:
        batch: The samples of one batch.

    Returns:
        The batch, with the structure of one sample.

    >>> fluxion.utils.data.default_collate([(fluxion.tensor([1.0, 2.0]), 0), (fluxion.zeros(2), 1)])
    [tensor([[1., 2.],
            [0., 0.]]), tensor([0, 1])]
    >>> fluxion.utils.data.default_collate([{"x": 0.5, "name": "a"}, {"x": 1.5, "name": "b"}])
    {'x': tensor([0.5000, 1.5000], dtype=fluxion.float64), 'name': ['a', 'b']}
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
