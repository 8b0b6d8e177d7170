"""fluxion: define-by-run automatic differentiation with PyTorch's semantics on NumPy.

>>> import fluxion as torch
>>> x = torch.ones(2, 2, requires_grad=True)
>>> out = ((x + 2) * (x + 2) * 3).mean()
>>> out.backward()
>>> x.grad
tensor([[4.5000, 4.5000],
        [4.5000, 4.5000]])
"""

from __future__ import annotations

from . import autograd, dtypes, testing

# NOTE: tensor before creation: tensor.py imports ops last, and ops re-exports creation, so
# importing creation first would hand ops a half-initialised creation (no zeros, no ones).
from . import tensor as _tensor  # noqa: F401
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.grad_mode import is_inference_mode_enabled
from .creation import *  # noqa: F403
from .device import device
from .dtypes import (
    bool,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    set_default_dtype,
    short,
    uint8,
)
from .legacy import *  # noqa: F403  (FloatTensor, LongTensor, ...: legacy constructors)
from .ops import *  # noqa: F403
from .random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from .serialization import load, load_safetensors, save, save_safetensors
from .tensor import Size, Tensor

__version__ = "0.1.0"

# Last: these layers are built on the public API above.
from . import jit  # noqa: E402, I001  (trace-and-replay of forward + backward)
from . import nn  # noqa: E402, I001
from . import optim  # noqa: E402, I001  (built on nn.Parameter)
from . import utils  # noqa: E402, I001  (utils.data: datasets and DataLoader)
