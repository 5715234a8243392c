"""Attribute vectors: exclusive groups, single-attribute changes and user targets.

Label vectors are float arrays [..., A] in {0, 1}, columns in the order of `attr_names`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from gan_jax.errors import ConfigError

# At most one of a group is set (the StarGAN hair colours, yunjey/stargan `hair_color_indices`).
EXCLUSIVE_GROUPS: tuple[tuple[str, ...], ...] = (
    ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Gray_Hair'),)


def group_of(name: str, attr_names: Sequence[str]) -> list[int]:
  """Column indices of the exclusive group `name` belongs to, present in attr_names ([i] if none)."""
  for group in EXCLUSIVE_GROUPS:
    if name in group:
      return [i for i, a in enumerate(attr_names) if a in group]
  return [list(attr_names).index(name)]


def make_exclusive(labels: np.ndarray, scores: np.ndarray, attr_names: Sequence[str]) -> np.ndarray:
  """Keeps at most one set attribute per exclusive group: the one with the highest score.

  labels, scores: [B, A] (scores e.g. logits); returns a copy of labels.
  """
  labels = np.array(labels, np.float32, copy=True)
  for group in EXCLUSIVE_GROUPS:
    cols = [i for i, a in enumerate(attr_names) if a in group]
    if len(cols) < 2:
      continue
    on = labels[:, cols] > 0.5
    best = np.asarray(cols)[np.argmax(np.where(on, scores[:, cols], -np.inf), axis=1)]
    labels[:, cols] = 0.0
    rows = np.nonzero(on.any(axis=1))[0]
    labels[rows, best[rows]] = 1.0
  return labels


def set_attribute(labels: np.ndarray, name: str, value: float,
                  attr_names: Sequence[str]) -> np.ndarray:
  """Sets column `name` to value; turning a group member on turns the rest of its group off."""
  labels = np.array(labels, np.float32, copy=True)
  i = list(attr_names).index(name)
  if value > 0.5:
    labels[..., group_of(name, attr_names)] = 0.0
  labels[..., i] = float(value > 0.5)
  return labels


def single_attribute_targets(c_org: np.ndarray, attr_names: Sequence[str]) -> np.ndarray:
  """One target per attribute, as the StarGAN paper's grids: [A, B, A].

  For a member of an exclusive group the target turns it on (and the group's others off); for
  any other attribute it flips its value. Everything else keeps c_org.
  """
  targets = []
  for name in attr_names:
    i = list(attr_names).index(name)
    if len(group_of(name, attr_names)) > 1:
      targets.append(set_attribute(c_org, name, 1.0, attr_names))
    else:
      flipped = np.array(c_org, np.float32, copy=True)
      flipped[..., i] = 1.0 - flipped[..., i]
      targets.append(flipped)
  return np.stack(targets)


def parse_target(text: str, attr_names: Sequence[str]) -> dict[str, float]:
  """'Blond_Hair=1,Male=0' -> {'Blond_Hair': 1.0, 'Male': 0.0}; ValueError on bad input."""
  target = {}
  for item in filter(None, (s.strip() for s in text.split(','))):
    name, sep, value = item.partition('=')
    name, value = name.strip(), value.strip()
    if not sep or value not in ('0', '1'):
      raise ConfigError(f'bad --target item {item!r}: write NAME=0 or NAME=1, comma-separated, '
                       f'e.g. --target=Blond_Hair=1,Male=0')
    if name not in attr_names:
      raise ConfigError(f'--target names unknown attribute {name!r}; this model was trained on '
                       f'{", ".join(attr_names)}')
    target[name] = float(value)
  on_in_group = {}
  for name, value in target.items():
    group = tuple(attr_names[i] for i in group_of(name, attr_names))
    if value > 0.5 and len(group) > 1:
      on_in_group.setdefault(group, []).append(name)
  for names in on_in_group.values():
    if len(names) > 1:
      raise ConfigError(f'--target sets {names} together, but they are mutually exclusive')
  return target


def apply_target(c_org: np.ndarray, target: Mapping[str, float],
                 attr_names: Sequence[str]) -> np.ndarray:
  """c_org [B, A] with the named attributes set (groups kept exclusive), others unchanged."""
  labels = np.array(c_org, np.float32, copy=True)
  for name, value in sorted(target.items(), key=lambda kv: kv[1]):   # offs first, then ons
    labels = set_attribute(labels, name, value, attr_names)
  return labels
