"""A two-minute tour: ``python -m fluxion.demo`` (also ``make demo``).

Runs the examples of PyTorch's autograd tutorial with ``import fluxion as torch`` and prints what
PyTorch prints, plus a picture of the graph.
"""

from __future__ import annotations

import fluxion as torch
from fluxion.autograd.graph import format_graph


def _section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 66 - len(title)))


def main() -> None:
    _section("1. A small graph: y = x + 2, z = y * y * 3, out = z.mean()")
    x = torch.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    print("y =", y)
    print("z =", z)
    print("out =", out)
    print("\nThe graph behind `out`:")
    print(format_graph(out))
    out.backward()
    print("\nx.grad (d out / dx = 6 (x + 2) / 4 = 4.5):")
    print(x.grad)

    _section("2. Vector-Jacobian products accumulate into .grad")
    x = torch.tensor([2.0, 2.0, 2.0], requires_grad=True)
    y = x * 2
    v = torch.tensor([0.1, 1, 10])
    y.backward(v)
    print("after one backward: ", x.grad)
    y.backward(v)
    print("after a second one: ", x.grad)
    x.grad.data.zero_()
    y.backward(v)
    print("after zero_ and one more:", x.grad)

    _section("3. retain_graph and a transposed output")
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    print("first call\n", inp.grad)
    out.backward(torch.ones_like(out), retain_graph=True)
    print("second call\n", inp.grad)
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print("call after zeroing gradients\n", inp.grad)

    _section("4. Logistic regression: binary_cross_entropy_with_logits")
    torch.manual_seed(0)
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    print("loss =", loss)
    print("grad_fn of z:", z.grad_fn, " of loss:", loss.grad_fn)
    loss.backward()
    print("w.grad =", w.grad)
    print("b.grad =", b.grad)

    _section("5. Higher-order derivatives: d^3/dx^3 of x^3 at x = 2")
    x = torch.tensor(2.0, requires_grad=True)
    (g1,) = torch.autograd.grad(x**3, x, create_graph=True)
    (g2,) = torch.autograd.grad(g1, x, create_graph=True)
    (g3,) = torch.autograd.grad(g2, x)
    print(f"f'(2) = {g1.item():.0f}, f''(2) = {g2.item():.0f}, f'''(2) = {g3.item():.0f}")


if __name__ == "__main__":
    main()
