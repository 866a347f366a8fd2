"""An int8 LSTM (issue 15, item 3): the BiLSTM's ONNX `LSTM` node becomes ONNX Runtime's
`com.microsoft.DynamicQuantizeLSTM`, the way onnxruntime.quantization's LSTMQuant writes it
(that Python package is not installable here, so the graph is edited with `onnx` directly):
W and R int8, symmetric (zero point 0), one scale per gate row and direction, stored transposed
as [directions, input, 4*hidden]; the kernel quantizes the activations (x_t, h_t) to uint8 at run
time. Everything else (embedding, pooling, output layer) stays as it is.

  python3 quantize_lstm.py MODEL_DIR OUT.onnx
"""
import argparse
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper


def source_array(graph, name):
    """An LSTM weight input: an initializer, or a Cast of one (export.py stores them as float16)."""
    inits = {i.name: i for i in graph.initializer}
    if name in inits:
        return numpy_helper.to_array(inits[name]).astype(np.float32), None
    for node in graph.node:
        if node.op_type == "Cast" and node.output[0] == name and node.input[0] in inits:
            return numpy_helper.to_array(inits[node.input[0]]).astype(np.float32), node
    raise SystemExit(f"error: LSTM weight {name} is neither an initializer nor a Cast of one")


def quantize_per_row(w):
    """w [dirs, 4H, in] -> int8 [dirs, in, 4H] (transposed), scale [dirs, 4H], zero point [dirs, 4H]."""
    scale = np.abs(w).max(axis=2) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(w / scale[:, :, None]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q.transpose(0, 2, 1)), scale.astype(np.float32), np.zeros(scale.shape, dtype=np.int8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("out")
    args = ap.parse_args()
    m = onnx.load(os.path.join(args.model_dir, "model.onnx"))
    g = m.graph
    lstm = [n for n in g.node if n.op_type == "LSTM"]
    if len(lstm) != 1:
        raise SystemExit(f"error: expected one LSTM node, found {len(lstm)}")
    node = lstm[0]
    new_inits, drop_nodes, drop_inits = [], set(), set()
    names = []
    for k, tag in ((1, "W"), (2, "R")):
        w, cast = source_array(g, node.input[k])
        q, s, z = quantize_per_row(w)
        base = f"{node.name or 'lstm'}_{tag}"
        new_inits += [numpy_helper.from_array(q, base + "_int8"), numpy_helper.from_array(s, base + "_scale"),
                      numpy_helper.from_array(z, base + "_zero_point")]
        names.append((base + "_int8", base + "_scale", base + "_zero_point"))
        if cast is not None:
            drop_nodes.add(cast.output[0])
            drop_inits.add(cast.input[0])
        else:
            drop_inits.add(node.input[k])
    inputs = list(node.input) + [""] * (8 - len(node.input))
    q_inputs = [inputs[0], names[0][0], names[1][0]] + inputs[3:8] + [names[0][1], names[0][2], names[1][1], names[1][2]]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name != "layout"}
    attrs = {k: (v.decode() if isinstance(v, bytes) else [x.decode() if isinstance(x, bytes) else x for x in v]
                 if isinstance(v, list) else v) for k, v in attrs.items()}
    qnode = helper.make_node("DynamicQuantizeLSTM", q_inputs, list(node.output), (node.name or "lstm") + "_int8",
                             domain="com.microsoft", **attrs)
    nodes = []
    for n in g.node:
        if n.output and n.output[0] in drop_nodes:
            continue
        nodes.append(qnode if list(n.output) == list(node.output) and n.op_type == "LSTM" else n)
    used = {i for n in nodes for i in n.input}
    drop_inits = {d for d in drop_inits if d not in used}
    del g.node[:]
    g.node.extend(nodes)
    keep = [i for i in g.initializer if i.name not in drop_inits]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(m, args.out)
    print(f"int8 LSTM: {os.path.getsize(os.path.join(args.model_dir, 'model.onnx')) / 1e6:.2f} MB -> "
          f"{os.path.getsize(args.out) / 1e6:.2f} MB ({args.out})")


if __name__ == "__main__":
    main()
