"""fluxion.save / fluxion.load (PyTorch's zip format) and safetensors, against torch."""

from __future__ import annotations

import collections
import io
import os
import pathlib
import pickle
import zipfile

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import fluxion

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _sample(dtype: str, shape=(3, 4), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def _check_tensor(fx, th):
    assert isinstance(fx, fluxion.Tensor) and isinstance(th, torch.Tensor)
    assert str(fx.dtype).split(".")[-1] == str(th.dtype).split(".")[-1]
    assert tuple(fx.shape) == tuple(th.shape)
    assert fx.requires_grad == th.requires_grad
    np.testing.assert_array_equal(fx.detach().numpy(), th.detach().numpy())


def _check_tree(fx, th):
    if isinstance(th, torch.Tensor):
        _check_tensor(fx, th)
    elif isinstance(th, dict):
        assert type(fx) is type(th) and list(fx) == list(th)
        for k in th:
            _check_tree(fx[k], th[k])
    elif isinstance(th, (list, tuple)) and not isinstance(th, torch.Size):
        assert type(fx) is type(th) and len(fx) == len(th)
        for a, b in zip(fx, th):
            _check_tree(a, b)
    elif isinstance(th, torch.dtype):
        assert str(fx).split(".")[-1] == str(th).split(".")[-1]
    elif isinstance(th, torch.Size):
        assert isinstance(fx, fluxion.Size) and tuple(fx) == tuple(th)
    else:
        assert type(fx) is type(th) and fx == th


def _roundtrip(obj, via="fluxion"):
    buf = io.BytesIO()
    fluxion.save(obj, buf)
    buf.seek(0)
    return fluxion.load(buf) if via == "fluxion" else torch.load(buf, weights_only=True)


# ---------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (), (0, 2), (5,)])
def test_save_load_roundtrip_and_torch_reads_it(dtype, shape):
    a = _sample(dtype, shape)
    back = _roundtrip(fluxion.tensor(a))
    th = _roundtrip(fluxion.tensor(a), via="torch")
    _check_tensor(back, torch.from_numpy(np.array(a)))
    _check_tensor(back, th)


def test_save_keeps_requires_grad_and_parameters_like_torch():
    w = fluxion.nn.Parameter(fluxion.randn(2, 3))
    frozen = fluxion.nn.Parameter(fluxion.randn(2), requires_grad=False)
    leaf = fluxion.randn(4, requires_grad=True)
    nonleaf = leaf * 2
    obj = {"w": w, "frozen": frozen, "leaf": leaf, "nonleaf": nonleaf, "plain": fluxion.ones(2)}
    back = _roundtrip(obj)
    th = _roundtrip(obj, via="torch")
    assert type(back["w"]) is fluxion.nn.Parameter and type(th["w"]) is torch.nn.Parameter
    assert type(back["frozen"]) is fluxion.nn.Parameter and not back["frozen"].requires_grad
    for k in obj:
        _check_tensor(back[k], th[k])
        assert back[k].is_leaf and back[k].grad is None
    # torch keeps requires_grad of a non-leaf (it loads as a leaf); so do we
    assert back["nonleaf"].requires_grad and th["nonleaf"].requires_grad


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x[1:3],
        lambda x: x.t(),
        lambda x: x[:, ::2],
        lambda x: x[2],
        lambda x: x.reshape(-1)[5:],
    ],
)
def test_save_views_compactly(make):
    base = fluxion.arange(48.0).reshape(6, 8)
    view = make(base)
    buf = io.BytesIO()
    fluxion.save(view, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as z:
        stored = sum(i.file_size for i in z.infolist() if "/data/" in i.filename)
    assert stored == view.numel() * 4  # only the view's elements, not the base's 48
    buf.seek(0)
    np.testing.assert_array_equal(fluxion.load(buf).numpy(), view.numpy())
    buf.seek(0)
    np.testing.assert_array_equal(torch.load(buf).numpy(), view.numpy())


def test_same_tensor_twice_loads_as_one_object():
    t = fluxion.ones(3)
    back = _roundtrip([t, t, {"again": t}])
    assert back[0] is back[1] is back[2]["again"]


def test_nested_containers_and_python_values_roundtrip():
    obj = {
        "state": {0: {"step": fluxion.tensor(3.0), "exp_avg": fluxion.randn(2, 2)}, 1: {}},
        "param_groups": [
            {
                "lr": 1e-3,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "amsgrad": False,
                "maximize": False,
                "foreach": None,
                "params": [0, 1],
                "name": "g",
            }
        ],
        "misc": [
            None,
            True,
            2**70,
            -3.5,
            "s",
            b"raw\x00bytes",
            {1, 2},
            bytearray(b"ba"),
            collections.Counter("abca"),
            complex(1, 2),
            fluxion.float16,
            fluxion.Size([2, 3]),
        ],
        "od": collections.OrderedDict([("b", 1), ("a", 2)]),
    }
    back = _roundtrip(obj)
    assert back["param_groups"] == obj["param_groups"]
    assert back["misc"][:10] == obj["misc"][:10]
    assert back["misc"][10] is fluxion.float16
    assert isinstance(back["misc"][11], fluxion.Size) and back["misc"][11] == (2, 3)
    assert type(back["od"]) is collections.OrderedDict and list(back["od"]) == ["b", "a"]
    np.testing.assert_array_equal(
        back["state"][0]["exp_avg"].numpy(), obj["state"][0]["exp_avg"].numpy()
    )
    th = _roundtrip(obj, via="torch")
    assert th["misc"][10] is torch.float16 and th["misc"][11] == torch.Size([2, 3])
    dev = _roundtrip({"d": fluxion.device("cpu")})["d"]
    assert isinstance(dev, fluxion.device) and str(dev) == "cpu"
    assert _roundtrip({"d": fluxion.device("cpu")}, via="torch")["d"] == torch.device("cpu")


def _torch_model_and_optimizer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(), torch.nn.Linear(3, 2)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
    return model, opt


def test_load_reads_torch_state_dict_and_optimizer_state():
    model, opt = _torch_model_and_optimizer()
    obj = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3}
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    back = fluxion.load(buf)
    _check_tree(back, obj)
    assert back["model"]["1.num_batches_tracked"].dtype == fluxion.int64


def test_load_reads_torch_views_with_offsets_and_strides():
    base = torch.arange(60.0).reshape(5, 12)
    obj = {"t": base.t(), "slice": base[1:4, 2::3], "row": base[3], "base": base}
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    back = fluxion.load(buf)
    _check_tree(back, obj)


def test_load_reads_torch_bfloat16_as_exact_float32():
    x = torch.randn(7).to(torch.bfloat16)
    buf = io.BytesIO()
    torch.save(x, buf)
    buf.seek(0)
    back = fluxion.load(buf)
    assert back.dtype == fluxion.float32
    np.testing.assert_array_equal(back.numpy(), x.float().numpy())


def test_save_load_paths_and_file_objects(tmp_path):
    t = fluxion.arange(5)
    for target in (str(tmp_path / "a.pt"), tmp_path / "b.pt", pathlib.Path(tmp_path / "c.pth")):
        fluxion.save(t, target)
        assert fluxion.load(target).tolist() == [0, 1, 2, 3, 4]
        assert torch.load(target).tolist() == [0, 1, 2, 3, 4]
    with open(tmp_path / "d.pt", "wb") as fh:
        fluxion.save(t, fh)
    with open(tmp_path / "d.pt", "rb") as fh:
        assert fluxion.load(fh, map_location="cpu").tolist() == [0, 1, 2, 3, 4]


def test_load_rejects_unsupported_map_location(tmp_path):
    fluxion.save(fluxion.ones(1), tmp_path / "x.pt")
    with pytest.raises(RuntimeError, match="map_location='cuda:0' is not supported"):
        fluxion.load(tmp_path / "x.pt", map_location="cuda:0")


def test_module_state_dict_roundtrips_into_a_fluxion_module():
    lin = fluxion.nn.Linear(3, 2)
    buf = io.BytesIO()
    fluxion.save(lin.state_dict(), buf)
    buf.seek(0)
    other = fluxion.nn.Linear(3, 2)
    other.load_state_dict(fluxion.load(buf))
    np.testing.assert_array_equal(other.weight.detach().numpy(), lin.weight.detach().numpy())
    buf.seek(0)
    tlin = torch.nn.Linear(3, 2)
    tlin.load_state_dict(torch.load(buf))
    np.testing.assert_array_equal(tlin.weight.detach().numpy(), lin.weight.detach().numpy())


# ---------------------------------------------------------------------------- safety


class _RunsCode:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _zip_with_pickle(payload: bytes) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    buf.seek(0)
    return buf


def test_load_refuses_a_pickle_that_runs_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _RunsCode(marker)}, protocol=2)
    with pytest.raises(
        pickle.UnpicklingError, match=r"Weights only load failed.*(posix|os)\.system"
    ):
        fluxion.load(_zip_with_pickle(payload))
    assert not marker.exists()
    # torch refuses the same file, with the same exception type
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(_zip_with_pickle(payload), weights_only=True)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_load_refuses_a_bare_malicious_pickle(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(_RunsCode(marker), protocol=protocol))
    with pytest.raises(pickle.UnpicklingError, match="not a zip archive"):
        fluxion.load(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module,name",
    [
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("builtins", "frozenset"),
        ("subprocess", "Popen"),
        ("torch", "load"),
        ("numpy", "frombuffer"),
    ],
)
def test_load_refuses_globals_outside_the_allow_list(module, name):
    payload = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\x01\x00\x00\x001\x85R."
    with pytest.raises(pickle.UnpicklingError, match=f"{module}.{name}"):
        fluxion.load(_zip_with_pickle(payload))


class Custom:
    def __init__(self, v):
        self.v = v

    def __eq__(self, other):
        return isinstance(other, Custom) and other.v == self.v


def test_load_weights_only_false_loads_trusted_objects():
    buf = io.BytesIO()
    fluxion.save({"c": Custom(3), "t": fluxion.ones(1)}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Custom"):
        fluxion.load(buf)
    buf.seek(0)
    assert fluxion.load(buf, weights_only=False)["c"] == Custom(3)


def test_load_refuses_a_tensor_record_that_reads_past_its_storage():
    buf = io.BytesIO()
    torch.save(torch.arange(10.0), buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    key = next(n for n in entries if n.endswith("/data/0"))
    entries[key] = entries[key][:8]  # 2 floats left of 10
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, b in entries.items():
            z.writestr(n, b)
    out.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="fewer than"):
        fluxion.load(out)


# ---------------------------------------------------------------------------- safetensors


def test_safetensors_written_by_torch_load_in_fluxion(tmp_path):
    tensors = {d: torch.from_numpy(_sample(d, (2, 3), seed=i)) for i, d in enumerate(DTYPES)}
    tensors["scalar"] = torch.tensor(2.5)
    tensors["empty"] = torch.zeros(0, 3)
    tensors["bf16"] = torch.randn(4).to(torch.bfloat16)
    path = tmp_path / "t.safetensors"
    safetensors.torch.save_file(tensors, str(path), metadata={"format": "pt"})
    back = fluxion.load_safetensors(path)
    assert set(back) == set(tensors)
    for name, t in tensors.items():
        if name == "bf16":
            assert back[name].dtype == fluxion.float32
            np.testing.assert_array_equal(back[name].numpy(), t.float().numpy())
        else:
            _check_tensor(back[name], t)


def test_safetensors_written_by_fluxion_load_in_torch_and_numpy(tmp_path):
    tensors = {d: fluxion.tensor(_sample(d, (3, 2), seed=i)) for i, d in enumerate(DTYPES)}
    tensors["view"] = fluxion.arange(20.0).reshape(4, 5).t()[1:]
    tensors["scalar"] = fluxion.tensor(1.5, dtype=fluxion.float64)
    path = tmp_path / "f.safetensors"
    fluxion.save_safetensors(tensors, path, metadata={"author": "fluxion", "n": "3"})
    th = safetensors.torch.load_file(str(path))
    nps = safetensors.numpy.load_file(str(path))
    assert set(th) == set(nps) == set(tensors)
    for name, t in tensors.items():
        _check_tensor(t, th[name])
        np.testing.assert_array_equal(nps[name], t.numpy())
    with safetensors.safe_open(str(path), framework="pt") as f:
        assert f.metadata() == {"author": "fluxion", "n": "3"}


def test_safetensors_bytes_match_the_reference_writer(tmp_path):
    arrays = {
        "b": _sample("float32", (2, 2)),
        "a": _sample("int16", (3,)),
        "c": _sample("float64", (1,)),
    }
    ours, ref = tmp_path / "ours.safetensors", tmp_path / "ref.safetensors"
    fluxion.save_safetensors({k: fluxion.tensor(v) for k, v in arrays.items()}, ours)
    safetensors.numpy.save_file(arrays, str(ref))
    assert ours.read_bytes() == ref.read_bytes()


def test_state_dict_moves_from_torch_to_fluxion_via_safetensors(tmp_path):
    torch.manual_seed(0)
    tlin = torch.nn.Linear(4, 3)
    path = tmp_path / "lin.safetensors"
    safetensors.torch.save_file(tlin.state_dict(), str(path))
    lin = fluxion.nn.Linear(4, 3)
    lin.load_state_dict(fluxion.load_safetensors(path))
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(
        lin(fluxion.tensor(x)).detach().numpy(), tlin(torch.tensor(x)).detach().numpy(), rtol=1e-6
    )


def _write(tmp_path, raw: bytes):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(raw)
    return p


def _st(header: bytes, data: bytes) -> bytes:
    return len(header).to_bytes(8, "little") + header + data


_F32_2 = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}'
_F32_AT4 = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
_F32_1 = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'


@pytest.mark.parametrize(
    "raw,match",
    [
        (b"\x01\x02", "shorter than the 8-byte header"),
        ((10**9).to_bytes(8, "little") + b"{}", "header length"),
        (_st(b"nope", b""), "not JSON"),
        (_st(_F32_2, b"\0" * 4), "needs 8 bytes"),
        (_st(_F32_AT4, b"\0" * 8), "start at 0"),
        (_st(_F32_1, b"\0" * 12), "cover 4"),
        (_st(_F32_1, b"\0" * 2), "past the data"),
        (_st(b'{"a":{"dtype":"F32"}}', b""), "lacks dtype, shape or data_offsets"),
    ],
)
def test_load_safetensors_rejects_malformed_files(tmp_path, raw, match):
    with pytest.raises(ValueError, match=match):
        fluxion.load_safetensors(_write(tmp_path, raw))


def test_save_safetensors_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="not a Tensor"):
        fluxion.save_safetensors({"a": np.zeros(2)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="metadata must map str to str"):
        fluxion.save_safetensors({"a": fluxion.zeros(2)}, tmp_path / "x.safetensors", {"n": 3})
