"""Random streams identical to PyTorch's CPU generator: every function, bit for bit.

Each test seeds fluxion and torch alike, draws the same way in both, and compares the arrays
exactly, dtype included (on AVX-512 machines float draws to 4 ulps: see tests/_draws.py).
Sizes straddle the thresholds where PyTorch changes algorithm (16 for normal samples, 2**28 for
the width of integer draws, the 624-word mt19937 block) and include odd tails.
"""

import warnings

import numpy as np
import pytest

import fluxion

torch = pytest.importorskip("torch")

from ._draws import assert_same_draws  # noqa: E402 - needs torch

SEEDS = [0, 1, 42, 2**32 + 7, 2**63 + 5, -1]
SIZES = [1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 100, 1000, 4099]
FLOATS = [("float32", "float32"), ("float64", "float64"), ("float16", "float16")]
INTS = ["int64", "int32", "int16", "int8", "uint8", "bool"]


def _dt(lib, name):
    return getattr(lib, name)


def _same(a, b):
    """The same draws in fluxion and torch (values, dtype, shape; NaNs equal): bit for bit, or
    within 4 ulps where torch's AVX-512 kernels fuse multiply-adds (see tests/_draws.py)."""
    assert_same_draws(a, b)


def _both(seed, fn):
    """Run ``fn(lib)`` after ``lib.manual_seed(seed)`` in both libraries; compare results and
    the next draw (the streams must stay in step)."""
    fluxion.manual_seed(seed)
    torch.manual_seed(seed)
    ours, theirs = fn(fluxion), fn(torch)
    if not isinstance(ours, tuple):
        ours, theirs = (ours,), (theirs,)
    for a, b in zip(ours, theirs):
        _same(a, b)
    _same(fluxion.rand(3), torch.rand(3))
    _same(fluxion.randn(3, dtype=fluxion.float64), torch.randn(3, dtype=torch.float64))


# ------------------------------------------------------------------------ generator state


@pytest.mark.parametrize("seed", SEEDS)
def test_random_manual_seed_state_bytes_equal_torch(seed):
    fluxion.manual_seed(seed)
    torch.manual_seed(seed)
    _same(fluxion.get_rng_state(), torch.get_rng_state())
    assert fluxion.initial_seed() == torch.initial_seed()


def test_random_state_bytes_follow_torch_through_a_sequence():
    fluxion.manual_seed(3)
    torch.manual_seed(3)
    steps = [
        lambda lib: lib.rand(5),
        lambda lib: lib.randn(3),  # odd scalar normals: the spare value waits in the state
        lambda lib: lib.rand(700),
        lambda lib: lib.randn(1),
        lambda lib: lib.randint(0, 2**40, (9,)),
        lambda lib: lib.rand(624 * 2 - 5 - 700 - 18),
        lambda lib: lib.randn(20),
    ]
    for step in steps:
        _same(step(fluxion), step(torch))
        _same(fluxion.get_rng_state(), torch.get_rng_state())


def test_random_set_rng_state_round_trip_and_cross_library():
    fluxion.manual_seed(9)
    fluxion.randn(5)
    state = fluxion.get_rng_state()
    a = fluxion.randn(7)
    fluxion.set_rng_state(state)
    _same(fluxion.randn(7), a.numpy())
    # a fluxion state drives torch, and a torch state drives fluxion
    torch.set_rng_state(torch.from_numpy(state.numpy().copy()))
    _same(a, torch.randn(7))
    torch.manual_seed(11)
    torch.rand(13)
    fluxion.set_rng_state(fluxion.tensor(torch.get_rng_state().numpy()))
    _same(fluxion.rand(50), torch.rand(50))
    assert fluxion.initial_seed() == torch.initial_seed() == 11


def test_random_set_state_rejects_bad_states():
    g = fluxion.Generator()
    with pytest.raises(RuntimeError, match="size"):
        g.set_state(fluxion.zeros(10, dtype=fluxion.uint8))
    with pytest.raises(TypeError, match="ByteTensor"):
        g.set_state(fluxion.zeros(5056))


def test_random_generator_objects_are_independent_and_match_torch():
    g, tg = fluxion.Generator(), torch.Generator()
    assert g.initial_seed() == tg.initial_seed()
    _same(g.get_state(), tg.get_state())
    _same(fluxion.rand(5, generator=g), torch.rand(5, generator=tg))
    assert g.manual_seed(77) is g
    tg.manual_seed(77)
    fluxion.manual_seed(1)
    torch.manual_seed(1)
    _same(fluxion.randn(20, generator=g), torch.randn(20, generator=tg))
    _same(fluxion.rand(4), torch.rand(4))  # the default generator did not move
    s, ts = g.get_state(), tg.get_state()
    _same(s, ts)
    a = fluxion.randint(0, 100, (6,), generator=g)
    g.set_state(s)
    _same(fluxion.randint(0, 100, (6,), generator=g), a.numpy())


def test_random_seed_is_53_bits_and_recorded():
    s = fluxion.seed()
    assert 0 <= s < 2**53 and fluxion.initial_seed() == s
    torch.manual_seed(s)
    _same(fluxion.rand(4), torch.rand(4))
    g = fluxion.Generator()
    s = g.seed()
    assert g.initial_seed() == s


def test_random_manual_seed_rejects_out_of_range():
    with pytest.raises(RuntimeError, match="Overflow"):
        fluxion.manual_seed(2**64)


# ------------------------------------------------------------------------ floats


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_random_rand_and_randn_match_torch(n, dtype):
    for seed in (0, 42, 2**32 + 7):
        _both(seed, lambda lib: lib.rand(n, dtype=_dt(lib, dtype)))
        _both(seed, lambda lib: lib.randn(n, dtype=_dt(lib, dtype)))


def test_random_randn_large_float32_avx2_path():
    _both(5, lambda lib: lib.randn(200_003))
    _both(6, lambda lib: lib.randn(64, 1000))


# Draws over 2**19 words run in chunks, drawn on the calling thread and transformed on the pool;
# these sizes cross several chunk boundaries and end in odd tails.
BIG = 3 * 2**19 + 21


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_random_large_draws_over_threads_match_torch(dtype):
    def draws(lib):
        dt = _dt(lib, dtype)
        out = lib.empty(BIG, dtype=dt)
        return (
            lib.rand(BIG, dtype=dt),
            lib.randn(BIG, dtype=dt),
            out.uniform_(-1.5, 2.5).clone(),
            out.normal_(0.5, 3.0).clone(),
            lib.empty(BIG // 2 + 1, 2, dtype=dt).normal_()[:, 1],
        )

    _both(11, draws)


def test_random_large_draws_in_threads_with_own_generators_match_torch():
    from concurrent.futures import ThreadPoolExecutor

    def draw(seed):
        g = fluxion.Generator().manual_seed(seed)
        return fluxion.randn(BIG, generator=g), fluxion.rand(BIG // 3, generator=g)

    with ThreadPoolExecutor(3) as ex:
        results = list(ex.map(draw, [1, 2, 3]))
    for seed, (a, b) in zip([1, 2, 3], results):
        g = torch.Generator().manual_seed(seed)
        _same(a, torch.randn(BIG, generator=g))
        _same(b, torch.rand(BIG // 3, generator=g))


def test_random_normal_of_zero_uniform_is_positive_zero_like_torch():
    """A word whose low 24 bits are 0 gives u = 0 and radius 0: torch's ``fma(n, std, mean)``
    makes the 0 positive, whatever the angle's sign."""
    bits = np.random.MT19937(0)
    bits._legacy_seeding(3)  # the stream of manual_seed(3)
    w = np.random.Generator(bits).integers(0, 2**32, 2**26, dtype=np.uint32)
    hits = np.flatnonzero((w & 0xFFFFFF) == 0)
    hits = hits[hits % 16 < 8]  # radius lanes of a block of 16
    assert hits.size >= 2
    fluxion.manual_seed(3)
    pos = 0
    for i in hits:
        start = int(i) - int(i) % 16
        fluxion.rand(start - pos)  # one word per float32 uniform
        pos = start
        state = fluxion.get_rng_state()
        for draw in (lambda lib: lib.randn(16), lambda lib: lib.empty(16).normal_(2.0, 0.5)):
            fluxion.set_rng_state(state)
            torch.set_rng_state(torch.from_numpy(state.numpy()))
            ours, theirs = draw(fluxion), draw(torch)
            assert np.array_equal(ours.numpy().view(np.uint32), theirs.numpy().view(np.uint32))
        fluxion.set_rng_state(state)


@pytest.mark.parametrize("shape", [(2, 3), (4, 5, 6), (0,), (3, 0)])
def test_random_shapes_and_like_variants(shape):
    def draws(lib):
        z = lib.zeros(shape, dtype=lib.float64)
        return (
            lib.rand(*shape),
            lib.randn(shape),
            lib.rand_like(z),
            lib.randn_like(z),
            lib.randint_like(z, 10),
            lib.randint_like(z, -3, 4),
        )

    _both(0, draws)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("n", [1, 5, 16, 17, 1000])
@pytest.mark.parametrize("bounds", [(0, 1), (-2, 3), (-3.7, 2.9), (1, 1000), (-1e-3, 1e-3)])
def test_random_uniform_bounds(dtype, n, bounds):
    _both(1, lambda lib: lib.empty(n, dtype=_dt(lib, dtype)).uniform_(*bounds))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("n", [1, 3, 15, 16, 17, 100, 1003])
@pytest.mark.parametrize("mean_std", [(0.0, 1.0), (1.5, 0.3), (-2.0, 7.25)])
def test_random_normal_mean_std(dtype, n, mean_std):
    _both(2, lambda lib: lib.empty(n, dtype=_dt(lib, dtype)).normal_(*mean_std))


def test_random_normal_cache_carries_across_calls():
    """Odd counts below 16 leave a spare Box-Muller value that the next scalar draw uses."""

    def seq(lib):
        out = []
        for n in (3, 1, 5, 2, 7, 16, 1, 9):
            out.append(lib.randn(n, dtype=lib.float64 if n % 2 else lib.float32))
        return tuple(out)

    _both(4, seq)


def test_random_non_contiguous_fills_in_memory_order():
    def draws(lib):
        a = lib.zeros(5, 7).t()
        a.uniform_()
        b = lib.zeros(4, 9, dtype=lib.float64).t()
        b.normal_()  # strided: the scalar path, even with 36 >= 16 elements
        c = lib.zeros(6, 4).t()
        c.normal_(2.0, 0.5)
        d = lib.zeros(3, 8, dtype=lib.int64)[:, ::2]
        d.random_(0, 50)
        return a, b, c, d

    _both(8, draws)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("lambd", [1.0, 2.5, 0.1])
def test_random_exponential(dtype, lambd):
    for n in (1, 16, 1001):
        _both(3, lambda lib, n=n: lib.empty(n, dtype=_dt(lib, dtype)).exponential_(lambd))


# ------------------------------------------------------------------------ integers


@pytest.mark.parametrize("dtype", INTS + ["float32", "float64", "float16"])
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_random_random_no_bounds(dtype, n):
    _both(0, lambda lib: lib.empty(n, dtype=_dt(lib, dtype)).random_())


ARGS = [(5,), (2, 9), (-3, 100), (0, 2), (0, 2**28 - 1), (0, 2**28), (-(2**31), 2**31 - 1),
        (0, 2**33), (-(2**40), 2**40), (3, None), (-5, None), (-(2**63), None)]  # fmt: skip


@pytest.mark.parametrize("dtype", INTS + ["float32", "float64", "float16"])
@pytest.mark.parametrize("args", ARGS)
def test_random_random_bounds_match_or_raise_like_torch(dtype, args):
    def run(lib):
        return lib.empty(33, dtype=_dt(lib, dtype)).random_(*args)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        try:
            expected = run(torch)
        except (RuntimeError, NotImplementedError) as e:
            with pytest.raises((RuntimeError, NotImplementedError)):
                run(fluxion)
            if "out of bounds" in str(e):
                with pytest.raises(RuntimeError, match=str(e).split(" for ")[0]):
                    run(fluxion)
            return
        fluxion.manual_seed(0)
        _same(run(fluxion), expected)
    _same(fluxion.rand(3), torch.rand(3))


def test_random_random_float_bounds_warn_like_torch():
    with pytest.warns(UserWarning, match="out of bounds"):
        fluxion.empty(3).random_(0, 2**30)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.randint(10, (17,)),
        lambda lib: lib.randint(-5, 5, (4, 5)),
        lambda lib: lib.randint(0, 2**30, (9,)),
        lambda lib: lib.randint(-(2**50), 2**50, (9,)),
        lambda lib: lib.randint(3, (5,), dtype=lib.float32),
        lambda lib: lib.randint(0, 100, (6,), dtype=lib.int16),
        lambda lib: lib.randint(0, 2, (8,), dtype=lib.bool),
        lambda lib: lib.randint(low=2, high=8, size=(3,)),
        lambda lib: lib.randint(0, 7, lib.Size([2, 2])),
    ],
)
def test_random_randint_signatures(call):
    _both(12, call)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 100, 1000, 70_000])
def test_random_randperm(n):
    _both(0, lambda lib: lib.randperm(n))
    _both(7, lambda lib: lib.randperm(n, dtype=lib.int32))


@pytest.mark.parametrize("n", [2**16 + 1, 1_000_003])
def test_random_randperm_large_matches_torch(n):
    _both(3, lambda lib: lib.randperm(n))
    _both(4, lambda lib: lib.randperm(n, dtype=lib.int32))


def test_random_randperm_float_dtype_and_errors():
    _both(1, lambda lib: lib.randperm(50, dtype=lib.float32))
    with pytest.raises(RuntimeError, match="negative dimension"):
        fluxion.randperm(-1)
    with pytest.raises(RuntimeError, match="too large"):
        fluxion.randperm(500, dtype=fluxion.int8)


def test_random_randint_errors_like_torch():
    with pytest.raises(RuntimeError, match="less than 'to'"):
        fluxion.randint(5, 3, (2,))
    with pytest.raises(TypeError):
        fluxion.randint(5)
    with pytest.raises(TypeError):
        fluxion.empty(2).random_(5.5)


# ------------------------------------------------------------------------ bernoulli etc.


@pytest.mark.torch_mkl_bernoulli
@pytest.mark.parametrize("dtype", INTS + ["float32", "float64", "float16"])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_random_bernoulli_scalar(dtype, p):
    _both(0, lambda lib: lib.empty(37, dtype=_dt(lib, dtype)).bernoulli_(p))


@pytest.mark.parametrize("pdtype", ["float32", "float64"])
def test_random_bernoulli_tensor_p(pdtype):
    probs = np.random.default_rng(0).random((5, 41))

    def draws(lib):
        p = lib.tensor(probs, dtype=_dt(lib, pdtype))
        return (
            lib.bernoulli(p),
            p.bernoulli(),
            lib.bernoulli(p, 0.25),
            lib.empty(5, 41, dtype=lib.int64).bernoulli_(p),
            lib.empty(5, 41).bernoulli_(p[0]),  # broadcast p
        )

    _both(3, draws)


def test_random_bernoulli_rejects_bad_p():
    with pytest.raises(RuntimeError, match="p to be in"):
        fluxion.empty(2).bernoulli_(1.5)
    with pytest.raises(RuntimeError, match="p_in"):
        fluxion.bernoulli(fluxion.tensor([0.5, 1.5]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 100), (4, 1000)])
@pytest.mark.parametrize("replacement", [False, True])
def test_random_multinomial(dtype, shape, replacement):
    probs = np.random.default_rng(1).random(shape)
    probs[..., 0] = 0.0
    for k in (1, 2, shape[-1] - 1):
        _both(
            5,
            lambda lib, k=k: lib.multinomial(
                lib.tensor(probs, dtype=_dt(lib, dtype)), k, replacement
            ),
        )
    _both(6, lambda lib: lib.tensor(probs, dtype=_dt(lib, dtype)).multinomial(3, True))


@pytest.mark.parametrize(
    "args",
    [
        ([1.0, 2.0], 3, False),
        ([1.0, 2.0], 0, True),
        ([-1.0, 2.0], 1, False),
        ([-1.0, 2.0], 2, True),
        ([0.0, 0.0], 2, True),
        ([0.0, 0.0], 1, False),
        ([float("nan"), 1.0], 2, True),
    ],
)
def test_random_multinomial_errors_like_torch(args):
    probs, k, rep = args
    with pytest.raises(RuntimeError) as theirs:
        torch.multinomial(torch.tensor(probs), k, rep)
    with pytest.raises(RuntimeError, match=str(theirs.value)[:20].replace("(", r"\(")):
        fluxion.multinomial(fluxion.tensor(probs), k, rep)
    with pytest.raises(RuntimeError, match="floating-point"):
        fluxion.multinomial(fluxion.tensor([1, 2]), 1)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        fluxion.multinomial(fluxion.ones(2, 2, 2), 1)


def test_random_normal_overloads():
    mean = np.linspace(-2, 2, 20)
    std = np.linspace(0.1, 3, 20)

    def draws(lib):
        m32, s32 = lib.tensor(mean, dtype=lib.float32), lib.tensor(std, dtype=lib.float32)
        return (
            lib.normal(m32, s32),
            lib.normal(m32, 2.5),
            lib.normal(1.5, s32),
            lib.normal(lib.tensor(mean), lib.tensor(std)),
            lib.normal(m32[:5], s32[:5]),
            lib.normal(3.0, 0.5, (4, 5)),
            lib.normal(3.0, 0.5, size=(7,), dtype=lib.float64),
            lib.normal(m32.reshape(4, 5), s32[:5]),
        )

    _both(21, draws)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        fluxion.normal(0.0, -1.0, (2,))
    with pytest.raises(RuntimeError, match="must match the size"):
        fluxion.normal(fluxion.zeros(2), fluxion.ones(3))
    with pytest.raises(TypeError):
        fluxion.normal(0.0, 1.0)


def test_random_normal_tensor_args_carry_gradients():
    m = fluxion.zeros(4, requires_grad=True)
    s = fluxion.ones(4, requires_grad=True)
    fluxion.manual_seed(0)
    out = fluxion.normal(m, s)
    out.sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), np.ones(4, np.float32))
    np.testing.assert_array_equal(s.grad.numpy(), out.detach().numpy())


@pytest.mark.torch_mkl_bernoulli
def test_random_long_mixed_sequence_stays_in_step():
    rng = np.random.default_rng(0)
    calls = [
        lambda lib: lib.rand(int(rng.integers(1, 40))),
        lambda lib: lib.randn(int(rng.integers(1, 40))),
        lambda lib: lib.randn(int(rng.integers(1, 40)), dtype=lib.float64),
        lambda lib: lib.randint(0, int(rng.integers(2, 2**31)), (int(rng.integers(1, 9)),)),
        lambda lib: lib.randperm(int(rng.integers(1, 30))),
        lambda lib: lib.empty(int(rng.integers(1, 20))).bernoulli_(0.4),
        lambda lib: lib.empty(int(rng.integers(1, 20))).exponential_(),
        lambda lib: lib.multinomial(lib.ones(int(rng.integers(2, 9))), 2),
    ]
    fluxion.manual_seed(123)
    torch.manual_seed(123)
    for _ in range(120):
        i = int(rng.integers(len(calls)))
        state = rng.bit_generator.state
        ours = calls[i](fluxion)
        rng.bit_generator.state = state  # same sizes for torch's call
        _same(ours, calls[i](torch))
    _same(fluxion.get_rng_state(), torch.get_rng_state())


# ------------------------------------------------------------------------ in-place semantics


@pytest.mark.parametrize(
    "fill, node",
    [
        (lambda t: t.uniform_(), "UniformBackward0"),
        (lambda t: t.normal_(), "NormalBackward0"),
        (lambda t: t.bernoulli_(0.5), "BernoulliBackward2"),
        (lambda t: t.bernoulli_(fluxion.full((3,), 0.5)), "BernoulliBackward1"),
        (lambda t: t.random_(), "RandomBackward2"),
        (lambda t: t.random_(5), "RandomBackward1"),
        (lambda t: t.random_(1, 5), "RandomBackward0"),
        (lambda t: t.exponential_(), "ExponentialBackward0"),
    ],
)
def test_random_inplace_fill_semantics(fill, node):
    leaf = fluxion.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        fill(leaf)
    with fluxion.no_grad():
        v = leaf._version
        assert fill(leaf) is leaf
        assert leaf._version == v + 1
    y = leaf * 2
    fill(y)
    assert y.grad_fn.name() == node
    y.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), np.zeros(3, np.float32))
    plain = fluxion.zeros(3)
    v = plain._version
    fill(plain)
    assert plain._version == v + 1


def test_random_inplace_errors_like_torch():
    with pytest.raises(RuntimeError, match=r"\[from, to\) range"):
        fluxion.empty(2).uniform_(3, 1)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        fluxion.empty(2).normal_(0, -1)
    with pytest.raises(RuntimeError, match="lambda > 0.0"):
        fluxion.empty(2).exponential_(0)
    with pytest.raises(NotImplementedError, match="Long"):
        fluxion.empty(2, dtype=fluxion.int64).uniform_()
    with pytest.raises(NotImplementedError, match="Long"):
        fluxion.rand(2, dtype=fluxion.int64)


# ------------------------------------------------------------------------ consumers


@pytest.mark.torch_mkl_bernoulli
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("shape", [(4,), (3, 5), (17, 33), (2, 3, 40)])
def test_random_dropout_mask_matches_torch(p, shape):
    x = np.random.default_rng(0).random(shape).astype(np.float32)

    def run(lib):
        t = lib.tensor(x)
        out = [lib.nn.functional.dropout(t, p)]
        if len(shape) == 2:
            out.append(lib.nn.functional.dropout(t.t(), p))  # strided input
        out.append(lib.nn.functional.dropout(lib.tensor(x, dtype=lib.float64), p))
        return tuple(out)

    _both(1, run)


def test_random_linear_init_matches_torch():
    for seed in (0, 1, 2**40):
        _both(seed, lambda lib: (lib.nn.Linear(3, 4).weight, lib.nn.Linear(3, 4).bias))
        _both(seed, lambda lib: lib.nn.Linear(100, 30).weight)


def test_random_init_functions_match_torch():
    init = pytest.importorskip("fluxion.nn.init")

    def run(lib):
        w = lib.empty(7, 11)
        outs = []
        with lib.no_grad():
            for name, args in [
                ("kaiming_uniform_", {"a": 5**0.5}),
                ("kaiming_normal_", {}),
                ("xavier_uniform_", {}),
                ("xavier_normal_", {}),
                ("uniform_", {"a": -0.3, "b": 0.2}),
                ("normal_", {"std": 0.02}),
            ]:
                if not hasattr(init, name):
                    continue
                getattr(lib.nn.init, name)(w, **args)
                outs.append(w.clone())
        return tuple(outs)

    _both(0, run)
