"""Embedding -> BiLSTM/BiGRU -> masked max+mean pooling -> dropout -> linear.

Padding invariance: the recurrent layer runs on a PackedSequence built from the
attention mask, so the backward direction starts at each text's last real
token and never reads [PAD]. torch.onnx exports this as ONNX `LSTM`/`GRU`
with `sequence_lens`, which onnxruntime honours the same way.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class SentimentRNN(nn.Module):
    def __init__(self, vocab_size, n_classes, lex_table, emb_dim=128, hidden=128,
                 layers=1, cell="lstm", dropout=0.5, emb_dropout=0.25, word_dropout=0.1,
                 rnn_dropout=0.2):
        super().__init__()
        self.cell = cell
        self.layers = layers
        self.hidden = hidden
        self.word_dropout = word_dropout
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=0)
        # Constant lexicon features (AFINN, VADER, negator, ...), indexed by
        # token id. A buffer, not a parameter: it is exported as an initializer.
        self.register_buffer("lex_table", torch.as_tensor(lex_table, dtype=torch.float32))
        n_lex = self.lex_table.shape[1]
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(emb_dim + n_lex, hidden, num_layers=layers, bidirectional=True,
                           batch_first=True, dropout=rnn_dropout if layers > 1 else 0.0)
        self.emb_dropout = nn.Dropout(emb_dropout)
        self.dropout = nn.Dropout(dropout)
        # max + mean of the BiRNN states, plus the mean lexicon features (a
        # direct path for the priors, useful on out-of-domain text)
        self.out = nn.Linear(4 * hidden + n_lex, n_classes)

    def forward(self, input_ids, attention_mask):
        T = input_ids.size(1)
        # An empty text (all padding) is read as one [PAD] step, so it gets a
        # defined output instead of a zero-length sequence.
        lengths = attention_mask.sum(1).clamp(min=1)
        mask = (torch.arange(T, device=input_ids.device).unsqueeze(0)
                < lengths.unsqueeze(1)).unsqueeze(-1)

        emb_ids = input_ids
        if self.training and self.word_dropout > 0:
            # word dropout -> [UNK]: teaches the model to fall back on the
            # lexicon features / context for words it has not seen
            drop = torch.rand(input_ids.shape, device=input_ids.device) < self.word_dropout
            emb_ids = torch.where(drop & (input_ids > 1), torch.ones_like(input_ids), input_ids)
        emb = self.emb_dropout(self.embedding(emb_ids))
        lex = F.embedding(input_ids, self.lex_table)
        x = torch.cat([emb, lex], dim=-1)

        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        # Explicit zero state sized from the input: otherwise the exporter bakes
        # the tracing batch size into initial_h.
        h0 = x.new_zeros(2 * self.layers, x.size(0), self.hidden)
        state = (h0, h0) if self.cell == "lstm" else h0
        h, _ = self.rnn(packed, state)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=T)

        maskf = mask.to(h.dtype)
        lenf = lengths.unsqueeze(1).to(h.dtype)
        h_mean = (h * maskf).sum(1) / lenf
        h_max = h.masked_fill(~mask, -1e4).max(1).values
        lex_mean = (lex * maskf).sum(1) / lenf
        return self.out(self.dropout(torch.cat([h_max, h_mean, lex_mean], dim=-1)))


class CompactEmbedding(nn.Module):
    """Export-time replacement for nn.Embedding: only rows of tokens seen in
    training are stored (unseen rows are all zero: they never get a gradient),
    in float16, behind an id -> row remap table. Exact w.r.t. the fp16-rounded
    weights, and it keeps an ensemble's model.onnx well under 20 MB."""

    def __init__(self, weight, seen):
        super().__init__()
        rows = torch.nonzero(seen, as_tuple=False).flatten()
        remap = torch.zeros(weight.size(0), dtype=torch.long)
        remap[rows] = torch.arange(1, len(rows) + 1)          # row 0 = the zero row
        table = torch.cat([weight.new_zeros(1, weight.size(1)), weight[rows]]).half()
        self.register_buffer("remap", remap)
        self.register_buffer("table", table)

    def forward(self, ids):
        return F.embedding(self.remap[ids], self.table).float()


class Ensemble(nn.Module):
    """Several independently seeded models in one graph; logits are averaged."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, input_ids, attention_mask):
        out = self.members[0](input_ids, attention_mask)
        for m in self.members[1:]:
            out = out + m(input_ids, attention_mask)
        return out / len(self.members)
