"""Containers (``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``,
``ParameterDict``) against torch: names, order, indexing, mutation, errors and ``repr``.

Each scenario is one function of the library (``torch`` or ``fluxion``), run on both.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import fluxion

torch = pytest.importorskip("torch")


def _scale_cls(lib):
    class Scale(lib.nn.Module):
        def __init__(self, k: float):
            super().__init__()
            self.k = lib.nn.Parameter(lib.tensor([k], dtype=lib.float64))

        def forward(self, x):
            return x * self.k

        def extra_repr(self) -> str:
            return f"k={self.k.item()}"

    return Scale


def _same(fn) -> None:
    """``fn(lib)`` gives equal results for both libraries, or raises alike (type and message)."""
    try:
        expected = fn(torch)
    except Exception as t_err:  # noqa: BLE001  (whatever torch raises, fluxion must too)
        with pytest.raises(type(t_err)) as f_err:
            fn(fluxion)
        assert str(f_err.value) == str(t_err).replace(
            "torch.nn.modules.module", "fluxion.nn.module"
        )
        return
    assert fn(fluxion) == expected


def _summary(m) -> tuple:
    """Names of parameters and children, and the repr (dtype names normalised)."""
    return (
        [n for n, _ in m.named_parameters()],
        [n for n, _ in m.named_children()],
        repr(m).replace("torch.", "fluxion."),
    )


# ----------------------------------------------------------------------------- Sequential


@pytest.mark.parametrize(
    "case",
    [
        "ctor",
        "ordered_dict",
        "forward",
        "index",
        "negative_index",
        "index_out_of_range",
        "slice",
        "setitem",
        "delitem_renumbers",
        "del_slice",
        "append_insert_extend",
        "insert_negative",
        "insert_out_of_range",
        "pop",
        "add",
        "iadd",
        "mul",
        "add_wrong_type",
        "iterate",
    ],
)
def test_sequential_matches_torch(case):
    def run(lib):
        nn = lib.nn
        Scale = _scale_cls(lib)
        s = nn.Sequential(Scale(1.0), Scale(2.0), Scale(3.0))
        if case == "ctor":
            return _summary(s)
        if case == "ordered_dict":
            s = nn.Sequential(OrderedDict([("first", Scale(1.0)), ("second", Scale(5.0))]))
            return _summary(s), _summary(s[1:])
        if case == "forward":
            return s(lib.tensor([1.0, -2.0], dtype=lib.float64)).tolist()
        if case == "index":
            return s[1].k.item(), s[0].k.item()
        if case == "negative_index":
            return s[-1].k.item(), s[-3].k.item()
        if case == "index_out_of_range":
            return s[3]
        if case == "slice":
            sub = s[::2]
            return type(sub).__name__, _summary(sub), sub[1] is s[2]
        if case == "setitem":
            s[1] = Scale(9.0)
            s[-1] = Scale(8.0)
            return _summary(s)
        if case == "delitem_renumbers":
            del s[0]
            return _summary(s)
        if case == "del_slice":
            del s[:2]
            return _summary(s)
        if case == "append_insert_extend":
            s.append(Scale(4.0))
            s.insert(1, Scale(0.5))
            s.extend([Scale(6.0)])
            return _summary(s)
        if case == "insert_negative":
            s.insert(-1, Scale(0.5))
            return _summary(s)
        if case == "insert_out_of_range":
            s.insert(7, Scale(0.5))
        if case == "pop":
            popped = s.pop(1)
            return popped.k.item(), _summary(s)
        if case == "add":
            return _summary(s + nn.Sequential(Scale(7.0)))
        if case == "iadd":
            s += nn.Sequential(Scale(7.0))
            return _summary(s)
        if case == "mul":
            return _summary(s[:1] * 3), _summary(2 * s[:1])
        if case == "add_wrong_type":
            return s + 3
        if case == "iterate":
            return [m.k.item() for m in s], len(s)
        raise AssertionError(case)

    _same(run)


def test_sequential_gradients_match_torch():
    def run(lib):
        Scale = _scale_cls(lib)
        s = lib.nn.Sequential(Scale(1.5), Scale(-2.0))
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        (s(x) ** 2).sum().backward()
        return x.grad.tolist(), [p.grad.tolist() for p in s.parameters()]

    _same(run)


# ----------------------------------------------------------------------------- ModuleList


@pytest.mark.parametrize(
    "case",
    [
        "ctor",
        "repr_compressed",
        "empty_repr",
        "index",
        "index_error",
        "slice",
        "setitem",
        "delitem",
        "del_slice",
        "append_extend_iadd",
        "insert",
        "pop",
        "add",
        "extend_not_iterable",
        "call",
    ],
)
def test_module_list_matches_torch(case):
    def run(lib):
        nn = lib.nn
        Scale = _scale_cls(lib)
        ml = nn.ModuleList([Scale(1.0), Scale(2.0), Scale(3.0)])
        if case == "ctor":
            return _summary(ml)
        if case == "repr_compressed":
            return repr(nn.ModuleList([Scale(1.0), Scale(1.0), Scale(2.0), Scale(1.0), Scale(1.0)]))
        if case == "empty_repr":
            return repr(nn.ModuleList())
        if case == "index":
            return ml[-1].k.item(), ml[0].k.item()
        if case == "index_error":
            return ml[-4]
        if case == "slice":
            sub = ml[1:]
            return type(sub).__name__, _summary(sub)
        if case == "setitem":
            ml[0] = Scale(7.0)
            return _summary(ml)
        if case == "delitem":
            del ml[1]
            return _summary(ml)
        if case == "del_slice":
            del ml[::2]
            return _summary(ml)
        if case == "append_extend_iadd":
            ml.append(Scale(4.0)).extend([Scale(5.0)])
            ml += [Scale(6.0)]
            return _summary(ml), len(ml)
        if case == "insert":
            ml.insert(1, Scale(0.5))
            return _summary(ml)
        if case == "pop":
            return ml.pop(0).k.item(), _summary(ml)
        if case == "add":
            both = ml + nn.ModuleList([Scale(9.0)])
            return type(both).__name__, _summary(both)
        if case == "extend_not_iterable":
            ml.extend(3)
        if case == "call":
            return ml(lib.ones(1))
        raise AssertionError(case)

    _same(run)


def test_module_list_registers_parameters_for_training():
    ml = fluxion.nn.ModuleList([_scale_cls(fluxion)(2.0) for _ in range(2)])
    x = fluxion.ones(1, dtype=fluxion.float64)
    for m in ml:
        x = m(x)
    x.sum().backward()
    assert [p.grad.item() for p in ml.parameters()] == [2.0, 2.0]
    assert list(ml.state_dict()) == ["0.k", "1.k"]


# ----------------------------------------------------------------------------- ModuleDict


@pytest.mark.parametrize(
    "case",
    [
        "ctor_dict",
        "ctor_pairs",
        "getitem_setitem",
        "delitem_pop",
        "contains_len_iter",
        "update_mapping",
        "update_bad_element",
        "update_wrong_length",
        "update_not_iterable",
        "clear",
        "missing_key",
    ],
)
def test_module_dict_matches_torch(case):
    def run(lib):
        nn = lib.nn
        Scale = _scale_cls(lib)
        md = nn.ModuleDict({"b": Scale(1.0), "a": Scale(2.0)})
        if case == "ctor_dict":
            return _summary(md), list(md.keys())
        if case == "ctor_pairs":
            return _summary(nn.ModuleDict([("z", Scale(1.0)), ("y", Scale(2.0))]))
        if case == "getitem_setitem":
            md["c"] = Scale(3.0)
            return md["c"].k.item(), _summary(md)
        if case == "delitem_pop":
            del md["b"]
            return md.pop("a").k.item(), _summary(md)
        if case == "contains_len_iter":
            return "a" in md, "q" in md, len(md), list(md), [k for k, _ in md.items()]
        if case == "update_mapping":
            md.update(OrderedDict([("c", Scale(3.0)), ("b", Scale(4.0))]))
            return _summary(md), [m.k.item() for m in md.values()]
        if case == "update_bad_element":
            md.update([3])
        if case == "update_wrong_length":
            md.update([("a", Scale(1.0), 3)])
        if case == "update_not_iterable":
            md.update(3)
        if case == "clear":
            md.clear()
            return _summary(md)
        if case == "missing_key":
            return md["nope"]
        raise AssertionError(case)

    _same(run)


# ----------------------------------------------------------------------------- ParameterList


@pytest.mark.parametrize(
    "case",
    [
        "ctor",
        "repr",
        "index_slice",
        "setitem_tensor",
        "append_extend",
        "iter",
        "call",
        "extend_not_iterable",
        "state_dict",
        "mixed_objects",
    ],
)
def test_parameter_list_matches_torch(case):
    def run(lib):
        nn = lib.nn
        pl = nn.ParameterList([lib.zeros(2), nn.Parameter(lib.ones(3, 4, dtype=lib.float64))])
        if case == "ctor":
            return [(n, type(p).__name__, p.requires_grad) for n, p in pl.named_parameters()]
        if case == "repr":
            return repr(pl).replace("torch.", "fluxion.")
        if case == "index_slice":
            sub = pl[1:]
            return pl[-1].shape == (3, 4), type(sub).__name__, len(sub), sub[0] is pl[1]
        if case == "setitem_tensor":
            pl[0] = lib.full((5,), 2.0)
            return type(pl[0]).__name__, pl[0].tolist()
        if case == "append_extend":
            pl.append(lib.zeros(1)).extend([lib.ones(1)])
            return [n for n, _ in pl.named_parameters()], len(pl)
        if case == "iter":
            return [tuple(p.shape) for p in pl]
        if case == "call":
            return pl(1)
        if case == "extend_not_iterable":
            pl.extend(3)
        if case == "state_dict":
            return list(pl.state_dict())
        if case == "mixed_objects":
            pl.append("text")
            return repr(pl).replace("torch.", "fluxion."), len(list(pl.parameters()))
        raise AssertionError(case)

    _same(run)


# ----------------------------------------------------------------------------- ParameterDict


@pytest.mark.parametrize(
    "case",
    [
        "ctor_dict_order",
        "ctor_ordered",
        "ctor_pairs",
        "repr",
        "getitem_setitem",
        "delitem_pop",
        "keys_values_items",
        "get_setdefault",
        "popitem",
        "update_bad",
        "non_string_key",
        "or",
        "fromkeys",
        "clear",
    ],
)
def test_parameter_dict_matches_torch(case):
    def run(lib):
        nn = lib.nn
        pd = nn.ParameterDict({"w": lib.zeros(2), "b": nn.Parameter(lib.ones(1))})
        if case == "ctor_dict_order":
            return [n for n, _ in pd.named_parameters()], list(pd)
        if case == "ctor_ordered":
            pd = nn.ParameterDict(OrderedDict([("z", lib.zeros(1)), ("a", lib.zeros(1))]))
            return list(pd)
        if case == "ctor_pairs":
            return list(nn.ParameterDict([("z", lib.zeros(1)), ("a", lib.zeros(1))]))
        if case == "repr":
            return repr(pd).replace("torch.", "fluxion.")
        if case == "getitem_setitem":
            pd["c"] = lib.ones(3)
            return type(pd["c"]).__name__, pd["c"].tolist(), list(pd.state_dict())
        if case == "delitem_pop":
            del pd["w"]
            return pd.pop("b").tolist(), len(pd), list(pd.state_dict())
        if case == "keys_values_items":
            return list(pd.keys()), [v.tolist() for v in pd.values()], [k for k, _ in pd.items()]
        if case == "get_setdefault":
            return pd.get("nope"), pd.setdefault("q", lib.zeros(1)).tolist(), list(pd)
        if case == "popitem":
            k, v = pd.popitem()
            return k, v.tolist(), list(pd), list(pd.state_dict())
        if case == "update_bad":
            pd.update([("a", lib.zeros(1), 1)])
        if case == "non_string_key":
            pd[3] = lib.zeros(1)
        if case == "or":
            both = pd | nn.ParameterDict({"x": lib.zeros(1)})
            pd |= {"y": lib.zeros(1)}
            return list(both), list(pd)
        if case == "fromkeys":
            return list(pd.fromkeys(["m", "n"], lib.zeros(1)))
        if case == "clear":
            pd.clear()
            return list(pd), list(pd.state_dict())
        raise AssertionError(case)

    _same(run)


def test_containers_nest_in_state_dict_like_torch():
    def run(lib):
        nn = lib.nn
        Scale = _scale_cls(lib)
        m = nn.Module()
        m.blocks = nn.ModuleList([nn.Sequential(Scale(1.0), Scale(2.0)), Scale(3.0)])
        m.heads = nn.ModuleDict({"cls": Scale(4.0)})
        m.extra = nn.ParameterList([lib.zeros(2)])
        m.table = nn.ParameterDict({"emb": lib.zeros(2)})
        return list(m.state_dict()), repr(m).replace("torch.", "fluxion.")

    _same(run)


def test_sequential_values_through_nested_containers():
    Scale = _scale_cls(fluxion)
    TScale = _scale_cls(torch)
    f = fluxion.nn.Sequential(fluxion.nn.Sequential(Scale(2.0), Scale(3.0)), Scale(-1.0))
    t = torch.nn.Sequential(torch.nn.Sequential(TScale(2.0), TScale(3.0)), TScale(-1.0))
    x = np.array([0.5, 1.5])
    np.testing.assert_array_equal(
        f(fluxion.from_numpy(x)).detach().numpy(), t(torch.from_numpy(x)).detach().numpy()
    )
