"""Router weights: the math of each gate mode, as pure functions of tensors (mergekit-moe's definitions).

A Mixtral router of layer l is a matrix G_l (experts x hidden); token state h goes to the top-k experts of
softmax(G_l h). Each row g_{l,e} is made to point where expert e's prompts point:

- `cheap_embed`: for a prompt set P (all its prompts' tokens t, padding excluded),
  s(P) = sum_t E[t] / ||sum_t E[t]||  (E: the base's input embedding), the same for every layer;
- `hidden` / `hidden_last`: s_l(P) = mean over prompts of the base's hidden state entering layer l at the last
  position (left padding: the last position is the prompt's last token);
  `hidden_avg`: the same with the mean over all positions (padding included, as mergekit does);
- then g_{l,e} = d / max(||d||, 1e-8) with d = s_l(positive_e) - s_l(negative_e) (d = s_l(positive_e) without
  negative prompts).
- `random`: g ~ N(0, 1); `uniform_random`: g ~ U(-1/sqrt(hidden), 1/sqrt(hidden)) (torch.nn.Linear's init).

Every operation is done in the dtype of its inputs, in mergekit's order, so the same inputs give the same bits.
"""

from __future__ import annotations

import math

import torch

EPS = 1e-8


def random_gates(layers: int, experts: int, hidden: int, generator: torch.Generator) -> torch.Tensor:
    """(layers, experts, hidden) standard normal entries."""
    return torch.randn((layers, experts, hidden), generator=generator)


def uniform_random_gates(layers: int, experts: int, hidden: int, generator: torch.Generator) -> torch.Tensor:
    """(layers, experts, hidden) entries uniform in [-1/sqrt(hidden), 1/sqrt(hidden))."""
    scale = math.sqrt(1.0 / hidden)
    return torch.rand((layers, experts, hidden), generator=generator) * 2 * scale - scale


def cheap_embedding(embed: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor, layers: int) -> torch.Tensor:
    """s(P) for a tokenized prompt set (input_ids, mask: batch x seq), repeated for `layers`: (layers, hidden).
    Computed in float32: sum over prompts and unmasked positions of embed[token], divided by its norm."""
    rows = embed.float()[input_ids]  # (batch, seq, hidden)
    summed = (rows * mask.unsqueeze(-1).to(rows.dtype)).sum(dim=1).sum(dim=0, keepdim=True)
    return (summed / summed.norm(dim=-1, keepdim=True).clamp(min=EPS)).repeat(layers, 1)


def hidden_summary(states: torch.Tensor, average: bool) -> torch.Tensor:
    """s_l(P) from the hidden states entering each layer, (layers, batch, seq, hidden): the last position (or the
    mean over positions when `average`), then the mean over prompts: (layers, hidden)."""
    per_prompt = states.sum(dim=2) / states.shape[2] if average else states[:, :, -1, :]
    return per_prompt.sum(dim=1) / per_prompt.shape[1]


def router_rows(positive: torch.Tensor, negative: torch.Tensor | None) -> torch.Tensor:
    """g = d / max(||d||, 1e-8), d = positive - negative, row-wise over the last dimension."""
    d = positive - negative if negative is not None else positive
    return d / d.norm(p=2, dim=-1, keepdim=True).clamp(min=EPS)


def condition_numbers(gates: torch.Tensor) -> list[float]:
    """Per layer, the condition number of the (experts x hidden) router: large means some rows nearly coincide
    (prompts too similar: some experts will be underused). mergekit warns above 5."""
    return [float(torch.linalg.cond(gates[i].float())) for i in range(gates.shape[0])]
