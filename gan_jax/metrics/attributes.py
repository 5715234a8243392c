"""Attribute-translation metrics judged by a classifier (the StarGAN paper's protocol).

All arrays are labels in {0, 1}: [B, A] with columns in the order of `attr_names`.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from gan_jax import attributes


@dataclasses.dataclass
class TransferCounts:
  """Running counts for one changed attribute."""
  changed: int = 0        # translations that asked for a different value of the attribute
  reached: int = 0        # ... whose output the judge sees with the target value
  kept: int = 0           # untouched attributes whose judged value stayed as on the input
  untouched: int = 0      # untouched (image, attribute) pairs counted

  def add(self, other: 'TransferCounts') -> None:
    self.changed += other.changed
    self.reached += other.reached
    self.kept += other.kept
    self.untouched += other.untouched

  @property
  def transfer_accuracy(self) -> float:
    return self.reached / self.changed if self.changed else float('nan')

  @property
  def preservation(self) -> float:
    return self.kept / self.untouched if self.untouched else float('nan')


def count_single_transfer(attr: str, c_org: np.ndarray, c_trg: np.ndarray, judged_in: np.ndarray,
                          judged_out: np.ndarray, attr_names: Sequence[str]) -> TransferCounts:
  """Counts for translations that changed `attr` (to c_trg) from c_org.

  Rows where c_trg[:, attr] == c_org[:, attr] asked for no change and are left out. Untouched
  attributes are all columns outside attr's exclusive group; "kept" compares the judge's view of
  the output with its view of the input, so judge errors on the input do not count against G.
  """
  i = list(attr_names).index(attr)
  rows = c_trg[:, i] != c_org[:, i]
  others = [j for j in range(len(attr_names)) if j not in attributes.group_of(attr, attr_names)]
  return TransferCounts(
      changed=int(rows.sum()),
      reached=int((judged_out[rows, i] == c_trg[rows, i]).sum()),
      kept=int((judged_out[rows][:, others] == judged_in[rows][:, others]).sum()),
      untouched=int(rows.sum()) * len(others))


def summarize(counts: dict[str, TransferCounts]) -> dict[str, float]:
  """Per-attribute and overall (pooled over all changed translations) accuracy/preservation."""
  total = TransferCounts()
  out = {}
  for name, c in counts.items():
    total.add(c)
    out[f'transfer_accuracy/{name}'] = c.transfer_accuracy
    out[f'preservation/{name}'] = c.preservation
    out[f'num_changed/{name}'] = float(c.changed)
  out['transfer_accuracy'] = total.transfer_accuracy
  out['preservation'] = total.preservation
  return out
