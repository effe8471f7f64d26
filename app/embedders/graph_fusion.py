"""The exported MiniLM's attention and GELU as ONNX Runtime's fused CPU kernels.

The shipped export spells each layer's self-attention out in some 25 nodes (reshapes,
transposes, a scaled QK^T, the mask as `Where`, softmax, an `IsNaN`/`Where` guard, the product
with V), a shape ONNX Runtime's own attention fusion does not recognize; on onnx-q8 they
took a third of the model's time, GELU's five unfused nodes another tenth. Here each
attention becomes one MatMul with Q, K and V's weights side by side (its input quantized
once, not three times), a Split and `com.microsoft.MultiHeadAttention` with the attention mask
as key padding; each GELU (x/√2, Erf, +1, ×0.5, ×x) becomes `com.microsoft.Gelu`. The
arithmetic is the same: a fused graph's token vectors match the export's to float rounding
(tests/embedders/test_dynamic_int8.py). The `IsNaN` guard only mattered for a row whose every
key is padding, which a tokenized text (it always holds [CLS]) never has.

Every match is checked, and a graph of another shape raises ValueError rather than being
rewritten half-way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MASK = "attention_mask_int32"


class _Graph:
    """Lookups over a graph: constants, producers and consumers of each value."""

    def __init__(self, graph: Any) -> None:
        from onnx import numpy_helper

        self.arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers: dict[str, list[Any]] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def scalar(self, name: str) -> float | None:
        array = self.arrays.get(name)
        return float(array.reshape(())) if array is not None and array.size == 1 else None

    def only_consumer(self, name: str, op_type: str) -> Any:
        consumers = [n for n in self.consumers.get(name, []) if n.op_type == op_type]
        if len(consumers) != 1:
            raise ValueError(f"{name} feeds {len(consumers)} {op_type} nodes, not 1")
        return consumers[0]

    def projection(self, name: str) -> tuple[Any, str, float]:
        """The `MatMul(x, W) + bias` that `name` reshapes (and scales): that MatMul, the bias
        and the product of the scalar factors met on the way."""
        scale, node = 1.0, self.producer[name]
        while node.op_type != "Add":
            if node.op_type == "Mul":
                factors = [i for i in node.input if self.scalar(i) is not None]
                if len(factors) != 1:
                    raise ValueError(f"{node.name}: not a product with one constant")
                scale *= self.scalar(factors[0]) or 0.0
                node = self.producer[next(i for i in node.input if i != factors[0])]
            elif node.op_type in ("Reshape", "Transpose"):
                node = self.producer[node.input[0]]
            else:
                raise ValueError(f"{node.name}: {node.op_type} on a projection's way")
        bias = [i for i in node.input if i in self.arrays]
        matmul = self.producer.get(next((i for i in node.input if i not in self.arrays), ""))
        if len(bias) != 1 or matmul is None or matmul.op_type != "MatMul":
            raise ValueError(f"{node.name}: not MatMul + bias")
        if matmul.input[1] not in self.arrays:
            raise ValueError(f"{matmul.name}: its weight is not a constant")
        return matmul, bias[0], scale


def fuse(model: Any) -> None:
    """Rewrite the model's attention and GELU in place (weights already folded to fp32
    constants: app/embedders/dynamic_int8.py)."""
    from onnx import TensorProto, helper

    graph = _Graph(model.graph)
    replacing: dict[str, list[Any]] = {}
    constants: list[Any] = []
    for softmax in [n for n in model.graph.node if n.op_type == "Softmax"]:
        replacing |= _attention(graph, softmax, constants)
    for erf in [n for n in model.graph.node if n.op_type == "Erf"]:
        replacing |= _gelu(graph, erf)
    if not replacing:
        raise ValueError("no attention or GELU to fuse")
    # Every match found: only now is the graph changed.
    model.graph.initializer.extend(constants)
    cast = helper.make_node(
        "Cast", ["attention_mask"], [MASK], to=TensorProto.INT32, name="attention_mask_int32"
    )
    nodes = [cast]
    for node in model.graph.node:  # each replacement where its output was made: still sorted
        nodes.extend(replacing.get(node.output[0], [node]) if node.output else [node])
    replace_nodes(model.graph, live_nodes(model.graph, nodes))
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def _attention(graph: _Graph, softmax: Any, constants: list[Any]) -> dict[str, list[Any]]:
    """softmax(q·kᵀ·scale + mask)·v, reshaped back to [batch, tokens, hidden]: its nodes'
    replacement, keyed by that reshape's output (the constants it needs added to
    `constants`)."""
    from onnx import helper, numpy_helper

    masked = graph.producer[softmax.input[0]]
    scores = next(
        (graph.producer[i] for i in masked.input if i in graph.producer
         and graph.producer[i].op_type == "MatMul"),
        None,
    )  # fmt: skip
    if masked.op_type != "Add" or scores is None:
        raise ValueError(f"{softmax.name}: not softmax(q·kᵀ + mask)")
    query, query_bias, query_scale = graph.projection(scores.input[0])
    key, key_bias, key_scale = graph.projection(scores.input[1])
    guard = graph.only_consumer(softmax.output[0], "Where")  # IsNaN(p) ? 0 : p
    context = graph.only_consumer(guard.output[0], "MatMul")
    value, value_bias, value_scale = graph.projection(context.input[1])
    merged = graph.only_consumer(graph.only_consumer(context.output[0], "Transpose").output[0],
                                 "Reshape")  # fmt: skip
    if not query.input[0] == key.input[0] == value.input[0] or value_scale != 1.0:
        raise ValueError(f"{softmax.name}: q, k and v not projections of one input")
    weights = [graph.arrays[m.input[1]] for m in (query, key, value)]
    hidden = weights[0].shape[1]
    scale = query_scale * key_scale
    head_size = round(scale**-2)  # the export scales q and k by head_size ** -0.25 each
    if hidden % head_size or abs(scale - head_size**-0.5) > 1e-6:
        raise ValueError(f"{softmax.name}: scale {scale} fits no head size")
    name = query.name + "_qkv"
    biases = [graph.arrays[b] for b in (query_bias, key_bias, value_bias)]
    constants.extend([
        numpy_helper.from_array(np.concatenate(weights, axis=1), name + "_weight"),
        numpy_helper.from_array(np.concatenate(biases), name + "_bias"),
        numpy_helper.from_array(np.array([hidden] * 3, np.int64), name + "_split"),
    ])  # fmt: skip
    q, k, v = (f"{name}_{part}" for part in "qkv")
    return {
        merged.output[0]: [
            helper.make_node("MatMul", [query.input[0], name + "_weight"], [name], name=name),
            helper.make_node("Split", [name, name + "_split"], [q, k, v], axis=-1,
                             name=name + "_split"),
            helper.make_node(
                "MultiHeadAttention", [q, k, v, name + "_bias", MASK], [merged.output[0]],
                domain="com.microsoft", num_heads=hidden // head_size, scale=scale,
                name=name + "_attention",
            ),
        ]
    }  # fmt: skip


def _gelu(graph: _Graph, erf: Any) -> dict[str, list[Any]]:
    """x · 0.5 · (1 + erf(x / √2)): one Gelu, keyed by the last product's output."""
    from onnx import helper

    divide = graph.producer[erf.input[0]]
    plus_one = graph.only_consumer(erf.output[0], "Add")
    half = graph.only_consumer(plus_one.output[0], "Mul")
    times_x = graph.only_consumer(half.output[0], "Mul")
    x = divide.input[0]
    if (
        divide.op_type != "Div"
        or abs((graph.scalar(divide.input[1]) or 0) - 2**0.5) > 1e-6
        or graph.scalar(next(i for i in plus_one.input if i != erf.output[0])) != 1.0
        or graph.scalar(next(i for i in half.input if i != plus_one.output[0])) != 0.5
        or x not in times_x.input
    ):
        raise ValueError(f"{erf.name}: not the exact GELU")
    return {
        times_x.output[0]: [
            helper.make_node("Gelu", [x], [times_x.output[0]], domain="com.microsoft",
                             name=erf.name + "_gelu")
        ]
    }  # fmt: skip


def live_nodes(graph: Any, nodes: list[Any]) -> list[Any]:
    """Those of `nodes` the graph's outputs still need: what a rewrite replaced goes."""
    wanted = {out.name for out in graph.output}
    kept: list[Any] = []
    for node in reversed(nodes):
        if wanted.intersection(node.output):
            kept.append(node)
            wanted.update(node.input)
    return kept[::-1]


def replace_nodes(graph: Any, nodes: list[Any]) -> None:
    """The graph's nodes become `nodes`; initializers none of them reads go."""
    used = {name for node in nodes for name in node.input}
    initializers = [i for i in graph.initializer if i.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
