"""Grad mode: context managers, decorators, nesting, exception safety, thread-locality.

Tests that take ``lib`` run on fluxion and, when installed, on torch, so the expected behaviour
is PyTorch's.
"""

import importlib
import importlib.util
import threading

import pytest

import fluxion

LIBS = ["fluxion"] + (["torch"] if importlib.util.find_spec("torch") else [])


@pytest.fixture(params=LIBS)
def lib(request):
    return importlib.import_module(request.param)


def _probe(lib, x):
    """Return (does an op on x record a graph, is grad mode on)."""
    return (x * 2).requires_grad, lib.is_grad_enabled()


# ------------------------------------------------------------------ context managers


def test_grad_mode_default_is_enabled(lib):
    assert lib.is_grad_enabled() is True


def test_grad_mode_no_grad_context(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        y = x * 2
        assert not lib.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert lib.is_grad_enabled()
    assert (x * 2).requires_grad


def test_grad_mode_factories_still_honour_requires_grad_under_no_grad(lib):
    with lib.no_grad():
        t = lib.ones(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_grad_mode_enable_grad_inside_no_grad(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        with lib.enable_grad():
            assert _probe(lib, x) == (True, True)
        assert _probe(lib, x) == (False, False)
    assert _probe(lib, x) == (True, True)


def test_grad_mode_set_grad_enabled_context(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.set_grad_enabled(False):
        assert _probe(lib, x) == (False, False)
        with lib.set_grad_enabled(True):
            assert _probe(lib, x) == (True, True)
        assert _probe(lib, x) == (False, False)
    assert lib.is_grad_enabled()


def test_grad_mode_set_grad_enabled_as_a_function(lib):
    try:
        lib.set_grad_enabled(False)
        assert not lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        assert lib.is_grad_enabled()
    finally:
        lib.set_grad_enabled(True)


@pytest.mark.parametrize("bad", [1, 0, None, 1.0])
def test_grad_mode_set_grad_enabled_requires_a_bool(lib, bad):
    with pytest.raises(TypeError, match="must be bool, not"):
        lib.set_grad_enabled(bad)
    assert lib.is_grad_enabled()


def test_grad_mode_set_grad_enabled_repr(lib):
    cm = lib.set_grad_enabled(False)
    try:
        assert repr(cm) == f"{lib.__name__}.autograd.grad_mode.set_grad_enabled(mode=False)"
    finally:
        lib.set_grad_enabled(True)


def test_grad_mode_inference_mode(lib):
    x = lib.ones(2, requires_grad=True)
    assert not lib.is_inference_mode_enabled()
    with lib.inference_mode():
        assert lib.is_inference_mode_enabled()
        assert _probe(lib, x) == (False, False)
    assert not lib.is_inference_mode_enabled()
    assert _probe(lib, x) == (True, True)


def test_grad_mode_inference_mode_false_enables_grad(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        with lib.inference_mode(False):
            assert not lib.is_inference_mode_enabled()
            assert _probe(lib, x) == (True, True)
        assert _probe(lib, x) == (False, False)
    with lib.inference_mode():
        with lib.inference_mode(False):
            assert not lib.is_inference_mode_enabled()
        assert lib.is_inference_mode_enabled()


def test_grad_mode_deep_nesting_restores_each_level(lib):
    states = []
    with lib.no_grad():
        states.append(lib.is_grad_enabled())
        with lib.enable_grad():
            states.append(lib.is_grad_enabled())
            with lib.set_grad_enabled(False):
                states.append(lib.is_grad_enabled())
                with lib.inference_mode():
                    states.append(lib.is_grad_enabled())
                states.append(lib.is_grad_enabled())
            states.append(lib.is_grad_enabled())
        states.append(lib.is_grad_enabled())
    states.append(lib.is_grad_enabled())
    assert states == [False, True, False, False, False, True, False, True]


def test_grad_mode_same_instance_reused(lib):
    ng = lib.no_grad()
    for _ in range(2):
        with ng:
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()


# ------------------------------------------------------------------ exception safety


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.no_grad(),
        lambda lib: lib.enable_grad(),
        lambda lib: lib.inference_mode(),
        lambda lib: lib.set_grad_enabled(False),
    ],
    ids=["no_grad", "enable_grad", "inference_mode", "set_grad_enabled"],
)
@pytest.mark.parametrize("outer", [True, False])
def test_grad_mode_restored_after_exception(lib, make, outer):
    prev = lib.is_grad_enabled()
    try:
        lib.set_grad_enabled(outer)
        with pytest.raises(ValueError):
            with make(lib):
                raise ValueError("boom")
        assert lib.is_grad_enabled() is outer
        assert not lib.is_inference_mode_enabled()
    finally:
        lib.set_grad_enabled(prev)


def test_grad_mode_decorated_function_restores_after_exception(lib):
    @lib.no_grad()
    def fail():
        raise KeyError("x")

    with pytest.raises(KeyError):
        fail()
    assert lib.is_grad_enabled()


# ------------------------------------------------------------------ decorators


def _decorated(lib, deco):
    x = lib.ones(2, requires_grad=True)

    @deco
    def f(t):
        """Doc."""
        return _probe(lib, t)

    return f, x


@pytest.mark.parametrize(
    "name, deco, expected",
    [
        ("no_grad()", lambda lib: lib.no_grad(), (False, False)),
        ("no_grad", lambda lib: lib.no_grad, (False, False)),
        ("inference_mode()", lambda lib: lib.inference_mode(), (False, False)),
        ("inference_mode", lambda lib: lib.inference_mode, (False, False)),
        ("set_grad_enabled(False)", lambda lib: lib.set_grad_enabled(False), (False, False)),
    ],
)
def test_grad_mode_disabling_decorators(lib, name, deco, expected):
    f, x = _decorated(lib, deco(lib))
    assert lib.is_grad_enabled()  # decorating changes nothing at definition time
    assert f(x) == expected
    assert lib.is_grad_enabled()
    assert f.__name__ == "f" and f.__doc__ == "Doc."


@pytest.mark.parametrize(
    "deco",
    [
        lambda lib: lib.enable_grad(),
        lambda lib: lib.enable_grad,
        lambda lib: lib.set_grad_enabled(True),
        lambda lib: lib.inference_mode(False),
    ],
    ids=["enable_grad()", "enable_grad", "set_grad_enabled(True)", "inference_mode(False)"],
)
def test_grad_mode_enabling_decorators(lib, deco):
    f, x = _decorated(lib, deco(lib))
    with lib.no_grad():
        assert f(x) == (True, True)
        assert not lib.is_grad_enabled()


def test_grad_mode_decorator_is_reentrant(lib):
    @lib.no_grad()
    def rec(n):
        assert not lib.is_grad_enabled()
        return 0 if n == 0 else 1 + rec(n - 1)

    assert rec(3) == 3
    assert lib.is_grad_enabled()


def test_grad_mode_decorated_generator_applies_mode_only_while_running(lib):
    @lib.no_grad()
    def gen():
        yield lib.is_grad_enabled()
        yield lib.is_grad_enabled()

    it = gen()
    seen = [next(it), lib.is_grad_enabled(), next(it), lib.is_grad_enabled()]
    assert seen == [False, True, False, True]


def test_grad_mode_decorated_method(lib):
    class Model:
        @lib.no_grad()
        def predict(self, t):
            return _probe(lib, t)

    assert Model().predict(lib.ones(1, requires_grad=True)) == (False, False)


def test_grad_mode_clone_gives_a_fresh_manager(lib):
    for cm in (lib.no_grad(), lib.enable_grad(), lib.inference_mode()):
        copy = cm.clone()
        assert type(copy) is type(cm) and copy is not cm
    assert lib.is_grad_enabled()


# ------------------------------------------------------------------ threads


def _in_thread(fn):
    out = []
    th = threading.Thread(target=lambda: out.append(fn()))
    th.start()
    th.join()
    return out[0]


def test_grad_mode_new_thread_starts_with_grad_enabled(lib):
    with lib.no_grad():
        assert _in_thread(lib.is_grad_enabled) is True
    with lib.inference_mode():
        assert _in_thread(lib.is_inference_mode_enabled) is False


def test_grad_mode_thread_changes_do_not_leak(lib):
    def worker():
        lib.set_grad_enabled(False)
        return lib.is_grad_enabled()

    assert _in_thread(worker) is False
    assert lib.is_grad_enabled()


def test_grad_mode_concurrent_threads_keep_their_own_mode():
    barrier = threading.Barrier(2)
    results = {}

    def worker(name, mode):
        with fluxion.set_grad_enabled(mode):
            barrier.wait()  # both threads are inside their block now
            x = fluxion.ones(2, requires_grad=True)
            results[name] = (x * 2).requires_grad
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(n, m)) for n, m in (("a", True), ("b", False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"a": True, "b": False}
    assert fluxion.is_grad_enabled()
