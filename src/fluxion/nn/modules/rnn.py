"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their cells (PyTorch's API and weights).

Parameter names, shapes, gate order (LSTM: i, f, g, o; GRU: r, z, n) and the initialisation
order are PyTorch's, so a torch ``state_dict`` loads unchanged and a seeded model draws the same
weights.

Each layer and direction runs one matrix product for the input projection of every time step
(``(L * N, in) @ W_ih.T``), then a Python loop over the steps with one ``addmm`` (previous
hidden state times ``W_hh.T`` plus that step's projection) and the pointwise gate ops. The
projection is split into steps with one ``unbind`` and the outputs joined with one ``stack``, so
the graph holds one node per op, not per slice.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from ... import addmm, cat, matmul, relu, sigmoid, stack, tanh, zeros
from ...creation import empty
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ------------------------------------------------------------------------ one time step
# ``gx`` is the input projection of the step (biases included, except GRU's b_hh, which sits
# inside the reset gate), ``w_hh_t`` the transposed recurrent weight.


def _lstm_step(gx: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor) -> tuple[Tensor, Tensor]:
    i, f, g, o = addmm(gx, h, w_hh_t).chunk(4, 1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


def _gru_step(gx: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    gh = matmul(h, w_hh_t) if b_hh is None else addmm(b_hh, h, w_hh_t)
    x_r, x_z, x_n = gx.chunk(3, 1)
    h_r, h_z, h_n = gh.chunk(3, 1)
    r = sigmoid(x_r + h_r)
    z = sigmoid(x_z + h_z)
    n = tanh(x_n + r * h_n)
    return n + z * (h - n)  # (1 - z) * n + z * h


def _reset_uniform(module: Module) -> None:
    """Draw every parameter of ``module`` from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


def _project(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """``x @ w_ih.T + bias`` for ``x`` of shape (L, N, in): one GEMM over every step."""
    steps, batch, size = x.shape
    x2 = x.reshape(steps * batch, size)
    out = matmul(x2, w_ih.t()) if bias is None else addmm(bias, x2, w_ih.t())
    return out.reshape(steps, batch, out.shape[1])


# ------------------------------------------------------------------------ layers


class RNNBase(Module):
    """The parameters and the multi-layer, bidirectional time loop shared by RNN, LSTM and GRU.

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        input_size: Features of each input step.
        hidden_size: Features of the hidden state.
        num_layers: Stacked recurrent layers.
        bias: Learn ``bias_ih`` and ``bias_hh``.
        batch_first: Input and output are ``(N, L, *)`` instead of ``(L, N, *)``.
        dropout: Dropout probability on the outputs of every layer but the last.
        bidirectional: Also run each layer backwards in time (outputs are concatenated).
        proj_size: LSTM only: project the hidden state to this size (``weight_hr``).
        device, dtype: Where and of what type the parameters are created.
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an "
                "element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2,
            )
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = self._num_directions
        gate_size = _GATES[mode] * hidden_size
        real_hidden = self._state_sizes[0]
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = [
                    ("weight_ih", (gate_size, layer_input)),
                    ("weight_hh", (gate_size, real_hidden)),
                ]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for base, shape in shapes:
                    name = f"{base}_l{layer}{suffix}"
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        _reset_uniform(self)

    def flatten_parameters(self) -> None:
        """Do nothing: PyTorch compacts weights for cuDNN here; fluxion has nothing to compact."""

    @property
    def _num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _state_sizes(self) -> tuple[int, int]:
        """Features of ``h`` (``proj_size`` when projecting) and of the LSTM cell state ``c``."""
        return (self.proj_size if self.proj_size > 0 else self.hidden_size, self.hidden_size)

    def _state_shapes(self, batch: int, n_states: int) -> list[tuple[int, int, int]]:
        """Shapes of ``h0`` (and ``c0``): ``(num_layers * directions, batch, features)``."""
        layers = self.num_layers * self._num_directions
        return [(layers, batch, size) for size in self._state_sizes[:n_states]]

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in PyTorch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -------------------------------------------------------------- argument checks

    def _name(self) -> str:
        return "LSTM" if self.mode == "LSTM" else "GRU" if self.mode == "GRU" else "RNN"

    def _check_input(self, input: Tensor) -> bool:
        """Validate ``input`` and return whether it is batched (3-D)."""
        if not isinstance(input, Tensor):
            raise TypeError(
                f"{self._name()}.forward(): input must be a Tensor, got {type(input).__name__} "
                "(PackedSequence is not supported by fluxion)"
            )
        if input.dim() not in (2, 3):
            raise ValueError(
                f"{self._name()}: Expected input to be 2D or 3D, got {input.dim()}D instead"
            )
        return input.dim() == 3

    def _check_args(self, input: Tensor, states: tuple) -> None:
        """PyTorch's ``check_forward_args`` on the batched, time-major input."""
        w = self.weight_ih_l0
        if input.dtype != w.dtype:
            raise ValueError(
                f"{self._name()} input dtype ({input.dtype}) does not match weight dtype "
                f"({w.dtype}). Convert input: input.to({w.dtype}), or convert model: "
                f"model.to({input.dtype})"
            )
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                f"{input.shape[-1]}"
            )
        for k, (state, expected) in enumerate(
            zip(states, self._state_shapes(input.shape[1], len(states)))
        ):
            if tuple(state.shape) != expected:
                which = f"hidden[{k}]" if len(states) == 2 else "hidden"
                raise RuntimeError(f"Expected {which} size {expected}, got {list(state.shape)}")

    # -------------------------------------------------------------- the time loop

    def _run(self, input: Tensor, states: tuple) -> tuple[Tensor, tuple]:
        """Run every layer and direction over time-major ``input`` (L, N, in).

        ``states`` holds ``h0`` (and ``c0`` for LSTM), each ``(layers * directions, N, H)``.
        Returns the last layer's output ``(L, N, directions * H)`` and the final states.
        """
        directions = self._num_directions
        init_states = [s.unbind(0) for s in states]
        finals: list[list[Tensor]] = [[] for _ in states]
        x = input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                idx = layer * directions + direction
                weights = [getattr(self, n) for n in self._all_weights[idx]]
                start = [s[idx] for s in init_states]
                out, last = self._run_direction(x, weights, start, reverse=direction == 1)
                outputs.append(out)
                for k, s in enumerate(last):
                    finals[k].append(s)
            x = outputs[0] if directions == 1 else cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, tuple(stack(f, 0) for f in finals)

    def _run_direction(self, x: Tensor, weights: list, start: list, reverse: bool):
        """One layer in one direction: returns its outputs (L, N, H) and final states."""
        w_ih, w_hh = weights[0], weights[1]
        b_ih = b_hh = w_hr = None
        if self.bias:
            b_ih, b_hh = weights[2], weights[3]
        if self.proj_size > 0:
            w_hr = weights[-1]
        mode = self.mode
        if mode == "GRU":  # b_hh's n part is multiplied by the reset gate: it stays per step
            gx = _project(x, w_ih, b_ih)
        else:  # both biases are added once, to the projection of every step
            gx = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)
        steps = gx.unbind(0)
        order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
        w_hh_t = w_hh.t()
        h = start[0]
        outs = []
        if mode == "LSTM":
            c = start[1]
            w_hr_t = None if w_hr is None else w_hr.t()
            for t in order:
                h, c = _lstm_step(steps[t], h, c, w_hh_t)
                if w_hr_t is not None:
                    h = matmul(h, w_hr_t)
                outs.append(h)
            last = (h, c)
        elif mode == "GRU":
            for t in order:
                h = _gru_step(steps[t], h, w_hh_t, b_hh)
                outs.append(h)
            last = (h,)
        else:
            act = tanh if mode == "RNN_TANH" else relu
            for t in order:
                h = act(addmm(steps[t], h, w_hh_t))
                outs.append(h)
            last = (h,)
        if reverse:
            outs.reverse()
        if not outs:
            raise RuntimeError(f"{self._name()}: the input sequence is empty (length 0)")
        return stack(outs, 0), last

    def _forward(self, input: Tensor, hx: Any, n_states: int) -> tuple[Tensor, tuple]:
        """Shared forward: unbatched and batch-first handling around :meth:`_run`."""
        batched = self._check_input(input)
        states = None
        if hx is not None:
            states = tuple(hx) if n_states == 2 else (hx,)
            if n_states == 2 and len(states) != 2:
                raise RuntimeError(f"LSTM expects hx to be a tuple (h0, c0), got {len(states)}")
            want = 3 if batched else 2
            if any(s.dim() != want for s in states):
                dims = ", ".join(f"{s.dim()}-D" for s in states)
                kind = "batched 3-D" if batched else "unbatched 2-D"
                if n_states == 2:
                    raise RuntimeError(
                        f"For {kind} input, hx and cx should also be {want}-D but got ({dims}) "
                        "tensors"
                    )
                raise RuntimeError(
                    f"For {kind} input, hx should also be {want}-D but got {dims} tensor"
                )
            if not batched:
                states = tuple(s.unsqueeze(1) for s in states)
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if states is None:
            states = tuple(
                zeros(shape, dtype=input.dtype, device=input.device)
                for shape in self._state_shapes(input.shape[1], n_states)
            )
        self._check_args(input, states)
        output, finals = self._run(input, states)
        if not batched:
            return output.squeeze(1), tuple(f.squeeze(1) for f in finals)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, finals


class RNN(RNNBase):
    """Apply a multi-layer Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Args:
        input_size: Features of each input step.
        hidden_size: Features of the hidden state.
        num_layers: Stacked recurrent layers (default 1).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``.
        bias: Learn ``bias_ih_l*`` and ``bias_hh_l*`` (default True).
        batch_first: Input and output are ``(N, L, H)`` instead of ``(L, N, H)``.
        dropout: Dropout on the outputs of every layer but the last (training mode only).
        bidirectional: Also run backwards in time; outputs are concatenated.
        device, dtype: Where and of what type the parameters are created.

    ``forward(input, h_0=None)`` takes ``(L, N, input_size)`` (or ``(N, L, input_size)`` with
    ``batch_first``, or an unbatched ``(L, input_size)``) and ``h_0`` of shape
    ``(directions * num_layers, N, hidden_size)`` (zeros by default); it returns
    ``(output, h_n)``.

    >>> rnn = fluxion.nn.RNN(3, 4, num_layers=2)
    >>> rnn
    RNN(3, 4, num_layers=2)
    >>> output, h_n = rnn(fluxion.ones(5, 2, 3))
    >>> output.shape, h_n.shape
    (fluxion.Size([5, 2, 4]), fluxion.Size([2, 2, 4]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        super().__init__(
            mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._forward(input, hx, 1)
        return output, h_n


class LSTM(RNNBase):
    """Apply a multi-layer long short-term memory RNN (gates i, f, g, o, as in PyTorch).

    ``c_t = f * c_{t-1} + i * g`` and ``h_t = o * tanh(c_t)`` (times ``weight_hr^T`` when
    ``proj_size > 0``), where ``i, f, o`` are sigmoids and ``g`` a tanh of
    ``x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh``.

    Args:
        input_size: Features of each input step.
        hidden_size: Features of the cell state (and of the hidden state without projection).
        num_layers: Stacked recurrent layers (default 1).
        bias: Learn ``bias_ih_l*`` and ``bias_hh_l*`` (default True).
        batch_first: Input and output are ``(N, L, H)`` instead of ``(L, N, H)``.
        dropout: Dropout on the outputs of every layer but the last (training mode only).
        bidirectional: Also run backwards in time; outputs are concatenated.
        proj_size: Project the hidden state to this size (0: no projection).
        device, dtype: Where and of what type the parameters are created.

    ``forward(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``.

    >>> lstm = fluxion.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    >>> output, (h_n, c_n) = lstm(fluxion.ones(2, 5, 3))
    >>> output.shape, h_n.shape, c_n.shape
    (fluxion.Size([2, 5, 8]), fluxion.Size([2, 2, 4]), fluxion.Size([2, 2, 4]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, tuple]:
        if hx is not None and not isinstance(hx, (tuple, list)):
            raise TypeError(
                f"LSTM: hx must be a tuple (h_0, c_0) of tensors, got {type(hx).__name__}"
            )
        output, (h_n, c_n) = self._forward(input, hx, 2)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Apply a multi-layer gated recurrent unit RNN (gates r, z, n, as in PyTorch).

    ``r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z})``,
    ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Args:
        input_size: Features of each input step.
        hidden_size: Features of the hidden state.
        num_layers: Stacked recurrent layers (default 1).
        bias: Learn ``bias_ih_l*`` and ``bias_hh_l*`` (default True).
        batch_first: Input and output are ``(N, L, H)`` instead of ``(L, N, H)``.
        dropout: Dropout on the outputs of every layer but the last (training mode only).
        bidirectional: Also run backwards in time; outputs are concatenated.
        device, dtype: Where and of what type the parameters are created.

    ``forward(input, h_0=None)`` returns ``(output, h_n)``.

    >>> gru = fluxion.nn.GRU(3, 4)
    >>> output, h_n = gru(fluxion.ones(5, 3))  # unbatched (L, input_size)
    >>> output.shape, h_n.shape
    (fluxion.Size([5, 4]), fluxion.Size([1, 4]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._forward(input, hx, 1)
        return output, h_n


# ------------------------------------------------------------------------ cells


class RNNCellBase(Module):
    """Parameters, initialisation and argument checks shared by the single-step cells."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((gates, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((gates, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(gates, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(gates, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        _reset_uniform(self)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _prepare(self, input: Tensor, states: tuple) -> tuple[bool, Tensor, tuple]:
        """Check dims (PyTorch's messages), add the batch dim, default the states to zeros."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for k, s in enumerate(states):
            if s is not None and s.dim() not in (1, 2):
                which = f"hx[{k}]" if len(states) == 2 else "hidden"
                raise ValueError(f"{name}: Expected {which} to be 1D or 2D, got {s.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        out = []
        for s in states:
            if s is None:
                s = zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
            elif not batched:
                s = s.unsqueeze(0)
            out.append(s)
        if input.shape[1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.shape[1]} expected "
                f"{self.input_size}"
            )
        for k, s in enumerate(out):
            if s.shape[0] != input.shape[0]:
                raise RuntimeError(
                    f"Input batch size {input.shape[0]} doesn't match hidden{k} batch size "
                    f"{s.shape[0]}"
                )
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(
                    f"hidden{k} has inconsistent hidden_size: got {s.shape[1]}, expected "
                    f"{self.hidden_size}"
                )
        return batched, input, tuple(out)


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).

    Args:
        input_size: Features of the input.
        hidden_size: Features of the hidden state.
        bias: Learn ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        device, dtype: Where and of what type the parameters are created.

    ``forward(input, hx=None)``: ``input`` is ``(N, input_size)`` or ``(input_size,)``, ``hx``
    ``(N, hidden_size)`` (zeros by default); returns the next hidden state.

    >>> cell = fluxion.nn.RNNCell(3, 4)
    >>> cell(fluxion.ones(2, 3)).shape
    fluxion.Size([2, 4])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        batched, input, (h,) = self._prepare(input, (hx,))
        if self.nonlinearity == "tanh":
            act = tanh
        elif self.nonlinearity == "relu":
            act = relu
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        gates = F.linear(input, self.weight_ih, self.bias_ih)
        gates = gates + F.linear(h, self.weight_hh, self.bias_hh)
        h = act(gates)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): returns ``(h', c')``.

    Args:
        input_size: Features of the input.
        hidden_size: Features of the hidden and cell states.
        bias: Learn ``bias_ih`` and ``bias_hh``.
        device, dtype: Where and of what type the parameters are created.

    ``forward(input, hx=None)``: ``hx`` is a tuple ``(h, c)`` of ``(N, hidden_size)`` tensors
    (zeros by default).

    >>> cell = fluxion.nn.LSTMCell(3, 4)
    >>> h, c = cell(fluxion.ones(2, 3))
    >>> h.shape, c.shape
    (fluxion.Size([2, 4]), fluxion.Size([2, 4]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        if hx is None:
            hx = (None, None)
        elif len(hx) != 2:
            raise RuntimeError("lstm_cell expects two hidden states")
        batched, input, (h, c) = self._prepare(input, tuple(hx))
        gx = F.linear(input, self.weight_ih, self.bias_ih)
        if self.bias_hh is not None:
            gx = gx + self.bias_hh
        h, c = _lstm_step(gx, h, c, self.weight_hh.t())
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n): returns the next hidden state.

    Args:
        input_size: Features of the input.
        hidden_size: Features of the hidden state.
        bias: Learn ``bias_ih`` and ``bias_hh``.
        device, dtype: Where and of what type the parameters are created.

    >>> cell = fluxion.nn.GRUCell(3, 4)
    >>> cell(fluxion.ones(3), fluxion.zeros(4)).shape
    fluxion.Size([4])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        batched, input, (h,) = self._prepare(input, (hx,))
        gx = F.linear(input, self.weight_ih, self.bias_ih)
        h = _gru_step(gx, h, self.weight_hh.t(), self.bias_hh)
        return h if batched else h.squeeze(0)
