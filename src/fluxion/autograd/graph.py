"""Look at a graph: a text tree of ``grad_fn`` nodes, or Graphviz DOT source."""

from __future__ import annotations

__all__ = ["format_graph", "to_dot"]


def _label(node) -> str:
    if type(node).__name__ == "AccumulateGrad":
        v = node.variable
        return f"AccumulateGrad (leaf {tuple(v.shape)} {v.dtype})"
    return node.name()


def format_graph(tensor) -> str:
    """Return the backward graph of ``tensor`` as an indented tree (shared nodes shown once).

    >>> x = fluxion.ones(2, requires_grad=True)
    >>> print(format_graph((x * 2 + x).sum()))
    SumBackward0
    └─ AddBackward0
       ├─ MulBackward0
       │  └─ AccumulateGrad (leaf (2,) fluxion.float32)
       └─ AccumulateGrad (leaf (2,) fluxion.float32)
    """
    root = tensor.grad_fn
    if root is None:
        return "(no graph: the tensor is a leaf or does not require grad)"
    lines = [_label(root)]
    seen = {id(root)}
    # iterative walk, so deep graphs do not hit the recursion limit
    stack = [
        (child, "", i == len(root.next_functions) - 1)
        for i, (child, _) in reversed(list(enumerate(root.next_functions)))
    ]
    while stack:
        node, prefix, last = stack.pop()
        if node is None:
            continue
        branch = "└─ " if last else "├─ "
        again = id(node) in seen and type(node).__name__ != "AccumulateGrad"
        lines.append(prefix + branch + _label(node) + (" (shown above)" if again else ""))
        if again:
            continue
        seen.add(id(node))
        children = [c for c, _ in node.next_functions if c is not None]
        child_prefix = prefix + ("   " if last else "│  ")
        for i in range(len(children) - 1, -1, -1):
            stack.append((children[i], child_prefix, i == len(children) - 1))
    return "\n".join(lines)


def to_dot(tensor) -> str:
    """Return Graphviz DOT source for the backward graph of ``tensor``.

    >>> x = fluxion.ones(2, requires_grad=True)
    >>> print(to_dot((x * x).sum()).splitlines()[0])
    digraph fluxion {
    """
    lines = ["digraph fluxion {", "  node [shape=box, fontname=Helvetica];"]
    root = tensor.grad_fn
    stack, seen = ([root] if root is not None else []), set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        color = "lightblue" if type(node).__name__ == "AccumulateGrad" else "white"
        lines.append(f'  n{id(node)} [label="{_label(node)}", style=filled, fillcolor={color}];')
        for child, _ in node.next_functions:
            if child is not None:
                lines.append(f"  n{id(child)} -> n{id(node)};")
                stack.append(child)
    lines.append("}")
    return "\n".join(lines)
