"""Save and load tensors and containers of them: PyTorch's file format, and safetensors.

``fluxion.save`` writes PyTorch's zip format (``archive/data.pkl`` plus one raw little-endian
record per tensor), so ``torch.load`` reads fluxion's files and ``fluxion.load`` reads files
written by ``torch.save``. Loading never runs code from the file: the unpickler resolves only an
explicit allow-list of names (tensor rebuilders, storage types, dtypes, ``OrderedDict``,
``Counter``, ``Size``, ``device`` and the builtins ``set``, ``complex``, ``bytearray``: the names
``torch.load(weights_only=True)`` accepts); anything else raises ``pickle.UnpicklingError``, as
``torch.load`` does.

Departures from PyTorch: each tensor is saved compactly (a view saves only its own elements, not
the whole storage of its base), so two views of one storage load as independent tensors; the
same tensor object saved twice still loads as one object. ``bfloat16`` data (which fluxion does
not have) loads as ``float32``, exactly.

``save_safetensors`` / ``load_safetensors`` read and write the ``.safetensors`` format natively
(8-byte little-endian header length, a JSON header of dtype, shape and byte offsets, raw bytes).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from collections import Counter, OrderedDict
from typing import IO, Any

import numpy as np

from . import dtypes as _dt
from .creation import from_numpy
from .device import device
from .tensor import Size, Tensor

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "save_file", "load_file"]

FileLike = str | os.PathLike | IO[bytes]

# dtype name <-> PyTorch's legacy storage class name (how its pickles name element types)
_STORAGE_OF = {
    "float32": "FloatStorage",
    "float64": "DoubleStorage",
    "float16": "HalfStorage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "int16": "ShortStorage",
    "int8": "CharStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
}
_BFLOAT16 = "bfloat16"
_DTYPE_OF_STORAGE = {v: k for k, v in _STORAGE_OF.items()} | {"BFloat16Storage": _BFLOAT16}
# PyTorch's default pickle protocol (2): globals are written as plain GLOBAL opcodes
_PROTOCOL = 2


# ---------------------------------------------------------------------------- writing


class _Global:
    """Stands for the global ``module.name`` in a pickle, whether or not it can be imported."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pickle requires reduce functions to be callable
        raise TypeError(f"{self.module}.{self.name} is a placeholder for pickling")


class _StorageRef:
    """One tensor's data, written as its own zip record and referenced by a persistent id."""

    __slots__ = ("key", "array", "dtype_name")

    def __init__(self, key: str, array: np.ndarray, dtype_name: str) -> None:
        self.key, self.array, self.dtype_name = key, array, dtype_name


class _TorchPickler(pickle._Pickler):
    """A pickler that writes tensors, dtypes and ``Size`` the way ``torch.save`` does.

    The pure-Python pickler is used because it lets ``_Global`` write a GLOBAL opcode for
    ``torch._utils._rebuild_tensor_v2`` without importing torch; only the small object graph
    goes through it, the tensor bytes go straight to the zip records.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, protocol=_PROTOCOL)
        self.storages: list[_StorageRef] = []
        self._globals: dict[tuple[str, str], _Global] = {}
        self._empty_hooks = OrderedDict()

    def _global(self, module: str, name: str) -> _Global:
        key = (module, name)
        g = self._globals.get(key)
        if g is None:
            g = self._globals[key] = _Global(module, name)
        return g

    def _save_global_standin(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_Global] = _save_global_standin

    def _save_dtype(self, obj: _dt.dtype) -> None:
        self._save_global_standin(self._global("torch", obj.name))
        self.memoize(obj)

    dispatch[_dt.dtype] = _save_dtype

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is _StorageRef:
            storage_type = self._global("torch", _STORAGE_OF[obj.dtype_name])
            return ("storage", storage_type, obj.key, "cpu", obj.array.size)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if type(obj) is Size:
            return (self._global("torch", "Size"), (tuple(obj),))
        if type(obj) is device:
            return (self._global("torch", "device"), (str(obj),))
        return NotImplemented

    def _reduce_tensor(self, t: Tensor) -> tuple:
        arr = _contiguous(t)
        name = t.dtype.name
        if name not in _STORAGE_OF:
            raise pickle.PicklingError(f"save: tensors of dtype {t.dtype} cannot be saved")
        ref = _StorageRef(str(len(self.storages)), arr, name)
        self.storages.append(ref)
        stride = tuple(s // arr.itemsize for s in arr.strides) if arr.ndim else ()
        rebuild = self._global("torch._utils", "_rebuild_tensor_v2")
        if _is_parameter(t):
            inner = (rebuild, (ref, 0, tuple(arr.shape), stride, False, self._empty_hooks))
            param = self._global("torch._utils", "_rebuild_parameter")
            return (param, (_Reduced(*inner), t.requires_grad, self._empty_hooks))
        return (rebuild, (ref, 0, tuple(arr.shape), stride, t.requires_grad, self._empty_hooks))


class _Reduced:
    """A nested ``callable(*args)`` call in the pickle (the tensor inside a Parameter)."""

    __slots__ = ("func", "args")

    def __init__(self, func: _Global, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return (self.func, self.args)


def _is_parameter(t: Tensor) -> bool:
    from . import nn

    param = getattr(nn, "Parameter", None)
    return param is not None and isinstance(t, param)


def save(obj: Any, f: FileLike, pickle_protocol: int = _PROTOCOL) -> None:
    """Save ``obj`` (tensors, state dicts, nested containers of them) to a file.

    The file has PyTorch's zip format, so ``torch.load(path)`` reads it too. Tensors keep
    their dtype, shape and ``requires_grad``; an ``nn.Parameter`` stays a Parameter.

    Args:
        obj: What to save: tensors, numbers, strings, ``None``, dtypes and lists, tuples and
            dicts of those (for ``load(weights_only=True)``), or any picklable object.
        f: A path or a binary file object opened for writing.
        pickle_protocol: Only PyTorch's protocol 2 is written.

    >>> buf = io.BytesIO()
    >>> fluxion.save({"w": fluxion.ones(2, 3), "step": 4}, buf)
    >>> _ = buf.seek(0)
    >>> fluxion.load(buf)
    {'w': tensor([[1., 1., 1.],
            [1., 1., 1.]]), 'step': 4}
    """
    if pickle_protocol != _PROTOCOL:
        raise ValueError(
            f"save: only pickle_protocol=2 (PyTorch's) is supported, got {pickle_protocol}"
        )
    data = io.BytesIO()
    pickler = _TorchPickler(data)
    pickler.dump(obj)
    name = "archive"
    if isinstance(f, (str, os.PathLike)):
        name = os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{name}/data.pkl", data.getvalue())
        z.writestr(f"{name}/byteorder", "little")
        for ref in pickler.storages:
            z.writestr(f"{name}/data/{ref.key}", _little_endian(ref.array).tobytes())
        z.writestr(f"{name}/version", "3\n")


def _contiguous(t: Tensor) -> np.ndarray:
    arr = t.detach().numpy()
    # NOTE: not np.ascontiguousarray, which turns a 0-d array into a 1-d one
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _little_endian(arr: np.ndarray) -> np.ndarray:
    return arr if arr.dtype.byteorder != ">" else arr.astype(arr.dtype.newbyteorder("<"))


# ---------------------------------------------------------------------------- reading


def _bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    # bfloat16 is the top half of a float32: widening is exact
    return (raw.astype(np.uint32) << 16).view(np.float32)


class _Storage:
    """A loaded storage: a flat array of one dtype."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


def _rebuild_tensor(
    storage: _Storage,
    offset: int,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> Tensor:
    flat = storage.array
    size, stride = tuple(size), tuple(stride)
    if not all(type(v) is int for v in (offset, *size, *stride)) or len(size) != len(stride):
        raise pickle.UnpicklingError(
            f"load: malformed tensor record (offset {offset!r}, size {size!r}, stride {stride!r})"
        )
    if offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise pickle.UnpicklingError("load: negative offset, size or stride in a tensor record")
    numel = int(np.prod(size, dtype=np.int64)) if size else 1
    if numel:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise pickle.UnpicklingError(
                f"load: tensor of size {list(size)} with stride {list(stride)} at offset {offset} "
                f"reads past the end of its storage ({flat.size} elements)"
            )
        view = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=[s * flat.itemsize for s in stride], writeable=False
        )
        arr = np.array(view)  # an owned, contiguous copy
    else:
        arr = np.empty(size, dtype=flat.dtype)
    t = from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(
    data: Tensor, requires_grad: bool, backward_hooks: Any = None, state: Any = None
) -> Tensor:
    from . import nn

    param = getattr(nn, "Parameter", None)
    if param is None:
        return data.detach().requires_grad_(bool(requires_grad))
    return param(data.detach(), requires_grad=bool(requires_grad))


def _encode(text: str, encoding: str = "utf-8") -> bytes:
    # protocol-2 pickles spell bytes objects as _codecs.encode(text, "latin1")
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise pickle.UnpicklingError("load: unexpected _codecs.encode arguments")
    return text.encode(encoding)


def _safe_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch", "Size"): Size,
        ("_codecs", "encode"): _encode,
        ("torch", "device"): device,
        ("collections", "Counter"): Counter,
        # the same builtins torch.load(weights_only=True) accepts, no more
        ("builtins", "set"): set,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
    }
    for storage in _DTYPE_OF_STORAGE:
        allowed[("torch", storage)] = storage
    for name in _STORAGE_OF:
        allowed[("torch", name)] = getattr(_dt, name)
    for alias, name in (
        ("float", "float32"),
        ("double", "float64"),
        ("half", "float16"),
        ("long", "int64"),
        ("int", "int32"),
        ("short", "int16"),
    ):
        allowed[("torch", alias)] = getattr(_dt, name)
    return allowed


_SAFE = _safe_globals()


class _WeightsOnlyUnpickler(pickle.Unpickler):
    """Resolve only allow-listed globals; tensor data comes from the zip records."""

    def __init__(self, file: IO[bytes], records: Any, weights_only: bool) -> None:
        super().__init__(file)
        self._records = records
        self._weights_only = weights_only
        self._loaded: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # protocol-2 pickles use Python 2's name for builtins
            module = "builtins"
        found = _SAFE.get((module, name))
        if found is not None:
            return found
        if self._weights_only:
            raise pickle.UnpicklingError(
                f"Weights only load failed: the file refers to the global {module}.{name}, "
                "which is not an allowed global (tensors, dtypes, OrderedDict, Size and plain "
                "Python containers are). Loading it could run arbitrary code; if you trust the "
                "file's source, call fluxion.load(..., weights_only=False)."
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"load: unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if storage_type not in _DTYPE_OF_STORAGE:
            raise pickle.UnpicklingError(f"load: unsupported storage type {storage_type!r}")
        key = str(key)
        cached = self._loaded.get(key)
        if cached is None:
            cached = self._loaded[key] = self._read_storage(key, storage_type, numel)
        return cached

    def _read_storage(self, key: str, storage_type: str, numel: Any) -> _Storage:
        dtype_name = _DTYPE_OF_STORAGE[storage_type]
        raw = self._records(key)
        np_dtype = np.dtype("<u2") if dtype_name == _BFLOAT16 else getattr(_dt, dtype_name).np
        np_dtype = np_dtype.newbyteorder("<") if np_dtype.itemsize > 1 else np_dtype
        if not isinstance(numel, int) or len(raw) < numel * np_dtype.itemsize:
            raise pickle.UnpicklingError(
                f"load: storage record {key} holds {len(raw)} bytes, fewer than the "
                f"{numel} x {np_dtype.itemsize} its header promises"
            )
        arr = np.frombuffer(raw, dtype=np_dtype, count=numel)
        if dtype_name == _BFLOAT16:
            arr = _bfloat16_to_float32(arr)
        return _Storage(arr.astype(arr.dtype.newbyteorder("=")))


def _check_map_location(map_location: Any) -> None:
    if map_location is None:
        return
    text = str(map_location) if not isinstance(map_location, str) else map_location
    if text != "cpu":
        raise RuntimeError(
            f"load: map_location={map_location!r} is not supported; fluxion loads tensors on "
            "the CPU (use map_location=None or 'cpu')"
        )


def load(
    f: FileLike,
    map_location: Any = None,
    *,
    weights_only: bool = True,
    mmap: bool | None = None,
) -> Any:
    """Load an object saved by :func:`fluxion.save` or by ``torch.save``.

    With ``weights_only=True`` (the default) only tensors, dtypes, numbers, strings, ``None``
    and standard containers are rebuilt: a file that names any other global (a class, a
    function such as ``os.system``) is refused with ``pickle.UnpicklingError`` before anything
    in it runs.

    Args:
        f: A path or a binary file object opened for reading.
        map_location: ``None`` or ``"cpu"`` (fluxion tensors live on the CPU).
        weights_only: Refuse every global outside the allow-list. ``False`` unpickles
            arbitrary objects: only for files from a source you trust.
        mmap: Accepted for compatibility; the records are read into memory.

    Returns:
        The saved object, with fluxion tensors in place of the saved tensors.

    >>> buf = io.BytesIO()
    >>> fluxion.save([fluxion.arange(3), fluxion.float64], buf)
    >>> _ = buf.seek(0)
    >>> fluxion.load(buf)
    [tensor([0, 1, 2]), fluxion.float64]
    """
    _check_map_location(map_location)
    try:
        archive = zipfile.ZipFile(f)
    except zipfile.BadZipFile:
        raise pickle.UnpicklingError(
            "load: not a zip archive; fluxion reads the format of fluxion.save and of "
            "torch.save (since PyTorch 1.6), not the legacy format or a bare pickle"
        ) from None
    with archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            raise pickle.UnpicklingError("load: the archive has no <name>/data.pkl record")
        prefix = pkl[0][: -len("data.pkl")]
        byteorder = f"{prefix}byteorder"
        if byteorder in names and archive.read(byteorder).strip() != b"little":
            raise pickle.UnpicklingError("load: big-endian files are not supported")

        def record(key: str) -> bytes:
            try:
                return archive.read(f"{prefix}data/{key}")
            except KeyError:
                raise pickle.UnpicklingError(f"load: missing storage record data/{key}") from None

        unpickler = _WeightsOnlyUnpickler(io.BytesIO(archive.read(pkl[0])), record, weights_only)
        return unpickler.load()


# ---------------------------------------------------------------------------- safetensors

_ST_CODES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}
_ST_DTYPES = {v: k for k, v in _ST_CODES.items()}
_ST_MAX_HEADER = 100_000_000  # the safetensors library's own limit


def save_safetensors(
    tensors: dict[str, Tensor], filename: str | os.PathLike, metadata: dict[str, str] | None = None
) -> None:
    """Write a ``.safetensors`` file that the ``safetensors`` package (and PyTorch) can read.

    Args:
        tensors: Names to tensors. Every tensor is written as its own contiguous copy.
        filename: Where to write.
        metadata: Optional string-to-string pairs stored in the header (``__metadata__``).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> fluxion.save_safetensors({"w": fluxion.eye(2)}, path, metadata={"format": "pt"})
    >>> fluxion.load_safetensors(path)
    {'w': tensor([[1., 0.],
            [0., 1.]])}
    """
    with open(filename, "wb") as fh:
        fh.write(_safetensors_bytes(tensors, metadata))


def _safetensors_bytes(tensors: dict[str, Tensor], metadata: dict[str, str] | None) -> bytes:
    if not isinstance(tensors, dict):
        raise TypeError(
            f"save_safetensors: expected a dict of tensors, got {type(tensors).__name__}"
        )
    header: dict[str, Any] = {}
    if metadata is not None:
        bad = {k: v for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))}
        if bad:
            raise TypeError(f"save_safetensors: metadata must map str to str; offending: {bad}")
        header["__metadata__"] = dict(metadata)
    arrays = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"save_safetensors: invalid tensor name {name!r}")
        if not isinstance(t, Tensor):
            raise TypeError(f"save_safetensors: {name!r} is a {type(t).__name__}, not a Tensor")
        if t.dtype.name not in _ST_CODES:
            raise TypeError(f"save_safetensors: {name!r} has unsupported dtype {t.dtype}")
        arrays[name] = _little_endian(_contiguous(t))
    # largest element size first, then by name (the safetensors library's layout)
    order = sorted(arrays, key=lambda n: (-arrays[n].itemsize, n))
    offset = 0
    for name in order:
        arr = arrays[name]
        header[name] = {
            "dtype": _ST_CODES[tensors[name].dtype.name],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # pad so the data starts 8-byte aligned
    parts = [struct.pack("<Q", len(blob)), blob]
    parts += [arrays[name].tobytes() for name in order]
    return b"".join(parts)


def load_safetensors(filename: str | os.PathLike) -> dict[str, Tensor]:
    """Read a ``.safetensors`` file into a dict of tensors (``bfloat16`` loads as float32).

    The header is validated before any data is used: offsets must tile the data exactly and
    agree with each dtype and shape.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "b.safetensors")
    >>> fluxion.save_safetensors({"b": fluxion.tensor([1, 2], dtype=fluxion.int32)}, path)
    >>> fluxion.load_safetensors(path)["b"]
    tensor([1, 2], dtype=fluxion.int32)
    """
    with open(filename, "rb") as fh:
        data = fh.read()
    tensors, _ = _parse_safetensors(data, os.fspath(filename))
    return tensors


def _parse_safetensors(data: bytes, where: str) -> tuple[dict[str, Tensor], dict | None]:
    def bad(why: str) -> ValueError:
        return ValueError(f"load_safetensors: {where} is not a valid safetensors file: {why}")

    if len(data) < 8:
        raise bad("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _ST_MAX_HEADER or 8 + n > len(data):
        raise bad(f"header length {n} exceeds the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    body = memoryview(data)[8 + n :]
    entries = []
    for name, info in header.items():
        try:
            code, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise bad(f"entry {name!r} lacks dtype, shape or data_offsets") from None
        entries.append((start, end, name, code, shape))
    entries.sort(key=lambda e: (e[0], e[1]))
    out: dict[str, Tensor] = {}
    expected = 0
    for start, end, name, code, shape in entries:
        if not all(isinstance(v, int) and v >= 0 for v in (start, end, *shape)):
            raise bad(f"entry {name!r} has non-integer or negative offsets or shape")
        if start != expected or end < start:
            raise bad(
                f"entry {name!r} has offsets [{start}, {end}], expected to start at {expected}"
            )
        expected = end
        if code == "BF16":
            np_dtype = np.dtype("<u2")
        elif code in _ST_DTYPES:
            np_dtype = getattr(_dt, _ST_DTYPES[code]).np
            np_dtype = np_dtype.newbyteorder("<") if np_dtype.itemsize > 1 else np_dtype
        else:
            raise TypeError(f"load_safetensors: {name!r} has dtype {code}, which fluxion lacks")
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if numel * np_dtype.itemsize != end - start:
            raise bad(
                f"entry {name!r}: shape {shape} of {code} needs {numel * np_dtype.itemsize} "
                f"bytes, offsets span {end - start}"
            )
        if end > len(body):
            raise bad(f"entry {name!r} ends at byte {end}, past the data ({len(body)} bytes)")
        arr = np.frombuffer(body[start:end], dtype=np_dtype).reshape(shape)
        if code == "BF16":
            arr = _bfloat16_to_float32(arr)
        out[name] = from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True))
    if expected != len(body):
        raise bad(f"the data is {len(body)} bytes but the tensors cover {expected}")
    ordered = {name: out[name] for name in header}
    return ordered, metadata


save_file = save_safetensors
load_file = load_safetensors
