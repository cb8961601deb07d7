"""Splitting a labelled data set among clients: IID, non-IID by a Dirichlet draw over labels, or one task each.

Dirichlet(α): for each class c, the shares (p_c1, ..., p_cN) ~ Dir(α·1_N) of its examples go to the N clients;
small α gives each client few classes, large α approaches IID. Draws are repeated (seeded) until every client
holds at least `min_size` examples. Task: the examples carry task names; the k-th task (sorted names) goes to
client k mod N, so with as many tasks as clients each client holds exactly one task.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def partition(
    labels: Sequence[int],
    num_clients: int,
    kind: str,
    alpha: float,
    seed: int,
    min_size: int = 2,
    tasks: Sequence[str] | None = None,
) -> list[list[int]]:
    """Example indices of each client (sorted), a disjoint cover of range(len(labels))."""
    rng = np.random.default_rng(seed)
    labels_a = np.asarray(labels)
    if kind == "task":
        names = sorted(set(tasks or []) - {""})
        if not tasks or len(names) < num_clients or len(tasks) != len(labels_a):
            have = f"{len(names)} task(s)" if tasks else "no task names (a 'task' column / task_train array)"
            raise ValueError(f"partition 'task' needs at least one task per client: {num_clients} clients, {have}")
        client_of = {name: k % num_clients for k, name in enumerate(names)}
        parts_t: list[list[int]] = [[] for _ in range(num_clients)]
        for i, name in enumerate(tasks):
            if name:
                parts_t[client_of[name]].append(i)
        return parts_t
    if kind == "iid":
        order = rng.permutation(len(labels_a))
        return [sorted(part.tolist()) for part in np.array_split(order, num_clients)]
    for _ in range(100):
        parts: list[list[int]] = [[] for _ in range(num_clients)]
        for c in np.unique(labels_a):
            idx = rng.permutation(np.flatnonzero(labels_a == c))
            shares = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(int)
            for client, chunk in enumerate(np.split(idx, cuts)):
                parts[client].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [sorted(p) for p in parts]
    raise ValueError(f"no Dirichlet(alpha={alpha}) split gives each of {num_clients} clients {min_size} examples")
