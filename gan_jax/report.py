"""Self-contained HTML eval reports: metric table, per-attribute bar charts, metric history plots
(inline SVG) and sample grids (embedded PNG). No JavaScript, no files besides the one HTML."""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Sequence

import numpy as np
from PIL import Image

_COLORS = ('#3b6fb6', '#d0632a', '#3f9b4f', '#8a4fb0', '#b8a22a', '#c23b5a')


def png_data_uri(image: np.ndarray, max_png_bytes: int = 120_000) -> str:
  """uint8 [H, W, 3] -> data: URI of a PNG, or of a JPEG (quality 90) when the PNG would exceed
  `max_png_bytes` (photographic grids), so that reports stay small enough to commit."""
  pil = Image.fromarray(np.asarray(image, np.uint8))
  buffer = io.BytesIO()
  pil.save(buffer, format='PNG', optimize=True)
  kind = 'png'
  if buffer.tell() > max_png_bytes:
    buffer = io.BytesIO()
    pil.save(buffer, format='JPEG', quality=90)
    kind = 'jpeg'
  return f'data:image/{kind};base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


def bar_chart(title: str, groups: Sequence[str], series: dict[str, Sequence[float]],
              lo: float = 0.0, hi: float = 1.0, width: int = 520, height: int = 220) -> str:
  """Grouped bar chart as SVG: one group per name, one bar per series."""
  left, bottom, top = 40, 40, 24
  plot_h = height - bottom - top
  group_w = (width - left - 10) / max(len(groups), 1)
  bar_w = group_w * 0.8 / max(len(series), 1)
  parts = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="14" font-weight="bold">{html.escape(title)}</text>']
  for tick in np.linspace(lo, hi, 6):
    y = top + plot_h * (1 - (tick - lo) / (hi - lo))
    parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                 'stroke="#ddd"/>'
                 f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:.2g}</text>')
  for g, name in enumerate(groups):
    x0 = left + g * group_w + group_w * 0.1
    for s, (label, values) in enumerate(series.items()):
      value = values[g]
      if value is None or not math.isfinite(value):
        continue
      h = plot_h * (min(max(value, lo), hi) - lo) / (hi - lo)
      x = x0 + s * bar_w
      parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w * 0.9:.1f}" '
                   f'height="{h:.1f}" fill="{_COLORS[s % len(_COLORS)]}">'
                   f'<title>{html.escape(label)} {html.escape(name)}: {value:.4f}</title></rect>')
    parts.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{height - bottom + 14}" '
                 f'text-anchor="middle">{html.escape(name)}</text>')
  for s, label in enumerate(series):
    parts.append(f'<rect x="{left + s * 130}" y="{height - 14}" width="10" height="10" '
                 f'fill="{_COLORS[s % len(_COLORS)]}"/><text x="{left + s * 130 + 14}" '
                 f'y="{height - 5}">{html.escape(label)}</text>')
  parts.append('</svg>')
  return ''.join(parts)


def line_plot(title: str, steps: Sequence[float], values: Sequence[float], width: int = 260,
              height: int = 150) -> str:
  """A small SVG line plot of one metric over checkpoints."""
  pts = [(s, v) for s, v in zip(steps, values) if v is not None and math.isfinite(v)]
  parts = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
           'font-family="sans-serif" font-size="10">',
           f'<text x="4" y="12" font-weight="bold">{html.escape(title)}</text>']
  if pts:
    xs, ys = np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)
    x_lo, x_hi = xs.min(), xs.max() if xs.max() > xs.min() else xs.min() + 1
    y_lo, y_hi = ys.min(), ys.max() if ys.max() > ys.min() else ys.min() + 1e-9
    sx = lambda x: 40 + (width - 50) * (x - x_lo) / (x_hi - x_lo)
    sy = lambda y: height - 22 - (height - 40) * (y - y_lo) / (y_hi - y_lo)
    path = ' '.join(f'{sx(x):.1f},{sy(y):.1f}' for x, y in pts)
    parts.append(f'<polyline points="{path}" fill="none" stroke="{_COLORS[0]}" stroke-width="2"/>')
    for x, y in pts:
      parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{_COLORS[0]}">'
                   f'<title>step {int(x)}: {y:.5g}</title></circle>')
    parts.append(f'<text x="36" y="{sy(y_hi) + 4:.1f}" text-anchor="end">{y_hi:.3g}</text>'
                 f'<text x="36" y="{sy(y_lo) + 4:.1f}" text-anchor="end">{y_lo:.3g}</text>'
                 f'<text x="40" y="{height - 6}">step {int(x_lo)}</text>'
                 f'<text x="{width - 10}" y="{height - 6}" text-anchor="end">{int(x_hi)}</text>')
  parts.append('</svg>')
  return ''.join(parts)


def render(title: str, latest: dict, history: list[dict], grids: dict[str, np.ndarray],
           per_attribute: dict[str, dict[str, float]] | None = None,
           notes: Sequence[str] = ()) -> str:
  """The whole report. latest: this eval's flat {metric: value} plus 'step'; history: every eval
  of the workdir (including latest); grids: caption -> uint8 image; per_attribute: series name
  -> {attribute: value in [0, 1]}; notes: lines printed under the title (extractor, resize...)."""
  rows = ''.join(f'<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>'
                 for k, v in sorted(latest.items()) if isinstance(v, (int, float)))
  body = [f'<h1>{html.escape(title)}</h1>']
  body += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
  if per_attribute:
    names = list(next(iter(per_attribute.values())).keys())
    body.append(bar_chart('Per attribute', names,
                          {s: [v.get(n) for n in names] for s, v in per_attribute.items()}))
  numeric = sorted({k for r in history for k, v in r.items()
                    if isinstance(v, (int, float)) and k not in ('step',) and '/' not in k})
  if len(history) > 1:
    body.append('<h2>Over checkpoints</h2><div>')
    for key in numeric:
      body.append(line_plot(key, [r.get('step', 0) for r in history],
                            [r.get(key) for r in history]))
    body.append('</div>')
  for caption, grid in grids.items():
    scale = max(1, 512 // max(grid.shape[1], 1))    # displayed larger; stored at its own size
    body.append(f'<h2>{html.escape(caption)}</h2><img src="{png_data_uri(grid)}" '
                f'width="{grid.shape[1] * scale}" style="image-rendering: pixelated">')
  body.append(f'<h2>All metrics (step {latest.get("step")})</h2><table>{rows}</table>')
  style = ('body{font-family:sans-serif;margin:24px;max-width:1100px} td{padding:2px 10px;'
           'border-bottom:1px solid #eee;font-family:monospace} .note{color:#444}')
  return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
          f'<style>{style}</style></head><body>{"".join(body)}</body></html>')


def _fmt(value) -> str:
  if isinstance(value, float):
    return f'{value:.5g}'
  return html.escape(str(value))
