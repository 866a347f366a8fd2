"""Long texts in windows: the Python twin of libs/model/src/encode.ts windowRows(), used to write
parity logits that the serving path must reproduce. A text longer than max_length is read as
windows of its body (ids without the specials) of max_length minus the specials, one every
`stride` body tokens, the last ending at the text's end, each wrapped in the specials; the text's
logits are the mean of its windows' logits."""
import torch


def window_rows(row, max_length, stride, prefix=(), suffix=()):
    if len(row) <= max_length:
        return [list(row)]
    width = max_length - len(prefix) - len(suffix)
    body = row[len(prefix):len(row) - len(suffix)]
    starts = list(range(0, max(0, len(body) - width), stride))
    starts = [s for s in starts if s + width < len(body)] + [len(body) - width]
    return [list(prefix) + body[s:s + width] + list(suffix) for s in starts]


@torch.no_grad()
def windowed_logits(model, full_rows, max_length, stride, prefix=(), suffix=(), pad=None):
    """Logits per text (mean over its windows); `pad` packs a list of rows into (ids, mask)."""
    out = []
    for row in full_rows:
        wins = window_rows(row, max_length, stride, prefix, suffix)
        logits = torch.cat([model(*pad([w])) for w in wins])
        out.append(logits.mean(0))
    return torch.stack(out)
