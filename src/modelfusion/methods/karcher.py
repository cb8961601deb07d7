"""Karcher (Frechet) mean on the sphere: the point minimizing the summed squared angles to every model.

Karcher 1977, "Riemannian center of mass and mollifier smoothing" (Comm. Pure Appl. Math. 30); iterated as in
Buss & Fillmore 2001 (ACM TOG 20(2)); norms averaged separately.
"""

from __future__ import annotations

import torch

from modelfusion.methods.sphere import exp_map, log_map, normalize


def karcher(tensors: list[torch.Tensor], *, max_iter: int, tol: float) -> torch.Tensor:
    """u_i = theta_i/|theta_i| (flattened); mu_0 = normalize(mean_i u_i); repeat up to max_iter times:
    g = mean_i log_mu(u_i); stop if |g| < tol; mu = exp_mu(g). theta = mu * mean_i |theta_i|."""
    shape = tensors[0].shape
    if len(tensors) == 1:
        return tensors[0]
    xs = torch.stack([t.flatten() for t in tensors])
    norms = xs.norm(dim=-1, keepdim=True)
    units = normalize(xs)
    mu = normalize(units.mean(dim=0))
    for _ in range(max_iter):
        g = log_map(mu, units).mean(dim=0)
        if float(g.norm()) < tol:
            break
        mu = exp_map(mu, g)
    return (mu * norms.mean()).reshape(shape)
