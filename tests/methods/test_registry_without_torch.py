"""Listing methods does not load torch; running a method afterwards loads it transparently."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from modelfusion.methods import all_methods, get_method
names = [m.name for m in all_methods()]
assert 'torch' not in sys.modules, 'listing methods imported torch'
assert {'linear', 'slerp'} <= set(names), names
import torch
a = torch.tensor([1.0, -2.0, 3.0]); b = torch.tensor([3.0, 2.0, -1.0])
out = get_method('slerp')([b], {'t': 0.0}, base=a)
assert torch.equal(out, a), out
out = get_method('linear')([a, b], {'weight': [1.0, 3.0], 'normalize': True})
assert torch.allclose(out, (a + 3 * b) / 4), out
print('ok')
"""


def test_methods_listed_without_torch_then_usable() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
