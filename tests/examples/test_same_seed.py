"""tools/same_seed.py: the digits demo, seeded alike, trains the same in fluxion and in torch.

Needs scikit-learn (the ``examples`` extra) for the digits; without it these tests skip.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import fluxion

TOOL = Path(__file__).resolve().parents[2] / "tools" / "same_seed.py"
STEPS = 5

# The losses are computed by kernels that round differently in the two libraries (measured
# with the tool's --torch-kernels switch): conv2d (oneDNN accumulates each output from the
# bias with one FMA per product; fluxion is im2col + OpenBLAS sgemm, then the bias), linear
# (MKL's sgemm against OpenBLAS's), log_softmax (torch's SIMD exp/log and 8-lane tree sum
# against NumPy's) and Adam (torch's lerp_/addcmul_ fuse into one FMA rounding, its sqrt is
# MKL VML's, not correctly rounded). Each is a last-place difference; over the first 5 steps
# of seeds 0-5 the losses differed by at most 3 ulps (at most 8 over a whole epoch), so 8 ulps
# allows for that and still fails on any real difference of formula, which moves a loss of
# about 2 by far more than 8 * 2.4e-7.
LOSS_ULPS = 8


@pytest.fixture(scope="module")
def same_seed():
    spec = importlib.util.spec_from_file_location("same_seed", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["same_seed"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["same_seed"]
    return module


@pytest.fixture(scope="module")
def data(same_seed):
    pytest.importorskip("sklearn", reason="scikit-learn is in the `examples` extra")
    return same_seed.load_digits(seed=1)


def _train_both(same_seed, data, make_optimizer=None):
    flux = same_seed.train(fluxion, data, seed=1, stop_after=STEPS, make_optimizer=make_optimizer)
    ref = same_seed.train(torch, data, seed=1, stop_after=STEPS)
    return flux, ref


def test_tool_model_is_the_demo_model(same_seed):
    from fluxion.examples.digits import DigitsCNN

    fluxion.manual_seed(4)
    demo = [p.detach().numpy() for p in DigitsCNN().parameters()]
    fluxion.manual_seed(4)
    tool = [p.detach().numpy() for p in same_seed.make_model(fluxion).parameters()]
    assert [p.shape for p in tool] == [p.shape for p in demo]
    assert all(np.array_equal(a, b) for a, b in zip(tool, demo, strict=True))


@pytest.mark.torch_mkl_bernoulli
def test_same_weights_batches_and_losses_to_float32_rounding(same_seed, data):
    flux, ref = _train_both(same_seed, data)
    assert same_seed.same_weights(flux, ref)
    assert len(ref.batches) == STEPS and same_seed.same_batches(flux, ref)
    ulps = [same_seed.ulp_distance(a, b) for a, b in zip(flux.losses, ref.losses, strict=True)]
    assert len(ulps) == STEPS and max(ulps) <= LOSS_ULPS, (flux.losses, ref.losses, ulps)


@pytest.mark.torch_mkl_bernoulli
def test_losses_are_bit_identical_when_torch_computes_the_four_kernels(same_seed, data):
    # Everything that stays fluxion's (random draws, ReLU, max pool, dropout, flatten, the
    # autograd graph, gradient accumulation) must then be exact: no tolerance.
    with same_seed.torch_kernels(same_seed.TORCH_KERNELS) as make_optimizer:
        flux, ref = _train_both(same_seed, data, make_optimizer)
    assert same_seed.same_weights(flux, ref) and same_seed.same_batches(flux, ref)
    assert [float(x) for x in flux.losses] == [float(x) for x in ref.losses]


def test_torch_kernels_restores_functional(same_seed):
    before = fluxion.nn.functional.conv2d
    with same_seed.torch_kernels(["conv2d", "linear"]):
        assert fluxion.nn.functional.conv2d is not before
    assert fluxion.nn.functional.conv2d is before


def test_ulp_distance(same_seed):
    one = np.float32(1.0)
    after = np.nextafter(one, np.float32(2.0))
    assert same_seed.ulp_distance(one, one) == 0
    assert same_seed.ulp_distance(one, after) == 1
    assert same_seed.ulp_distance(np.float32(-0.0), np.float32(0.0)) == 0
    tiny = np.nextafter(np.float32(0.0), one)
    assert same_seed.ulp_distance(-tiny, tiny) == 2
