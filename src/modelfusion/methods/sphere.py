"""Maps between the unit sphere and its tangent spaces, for spherical averages (multislerp, karcher).

On the unit sphere, at a point mu: log_mu(u) = O / sin O (u - cos O mu) with cos O = <u, mu>, and
exp_mu(v) = cos|v| mu + sin|v| v/|v|. Vectors are the last dimension of the tensors given.
"""

from __future__ import annotations

import torch

TINY = 1e-8


def normalize(x: torch.Tensor, eps: float = TINY) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def log_map(mu: torch.Tensor, u: torch.Tensor, eps: float = TINY) -> torch.Tensor:
    """Tangent vector at `mu` pointing to `u` with length the angle between them (0 where they coincide)."""
    cos = (u * mu).sum(dim=-1, keepdim=True).clamp(-1, 1)
    theta = torch.arccos(cos)
    sin = torch.sin(theta)
    scale = torch.where(sin.abs() < eps, torch.ones_like(sin), theta / sin.clamp_min(eps))
    return scale * (u - cos * mu)


def exp_map(mu: torch.Tensor, v: torch.Tensor, eps: float = TINY) -> torch.Tensor:
    """The point reached from `mu` along the tangent vector `v` (mu itself where v is ~0)."""
    length = v.norm(dim=-1, keepdim=True)
    direction = v / length.clamp_min(eps)
    out = torch.cos(length) * mu + torch.sin(length) * direction
    return torch.where(length < eps, mu, out)
