"""Procedurally drawn cartoon faces with exact attribute labels: the embedded default dataset.

Pure numpy + PIL: no TensorFlow, no network, no files. Every face is a `FaceParams` drawn from a
seeded generator; `render_face` paints it deterministically. The labels are the attribute fields
of the params, so they are exact, and `with_attributes` gives counterfactuals (the same face with
some attributes changed), which is what an attribute-translation model should produce.

Attributes (CelebA names): Black_Hair, Blond_Hair, Brown_Hair (mutually exclusive; about 20% of
faces have none of the three: red, gray, white or dyed hair), Male, Young, Eyeglasses, Smiling,
Bangs, Mouth_Slightly_Open. How each one shows:
  hair colour  black (near-black, dark gray-blue), blond (light yellow/golden), brown (chestnut),
               each with shade jitter; eyebrows (and a beard) take a darker tone of the hair.
  Male         stubble / beard / mustache, thick straight brows, squarer jaw. Female: lipstick,
               eyeliner and lashes, no facial hair. Hair length correlates with sex, imperfectly.
  Young=0      forehead wrinkles, under-eye bags, crow's feet, nasolabial folds, silver bushy brows.
  Eyeglasses   round or rectangular frames, dark or coloured, with a bridge and temple arms.
  Smiling      upturned mouth (teeth when the mouth is open), smile creases, narrowed eyes.
  Bangs        a fringe over the forehead (straight, swept or curly).
  Mouth_Slightly_Open  a dark mouth opening.
Nuisance (independent of the attributes, except the hair style, which depends mildly on sex):
skin tone, face shape, size, position and rotation, hair style and volume, eye/brow/nose/mouth
geometry, iris colour, ears, clothes and background (solid, gradients, blotchy noise, stripes).

Example i of (seed, split) is `sample_face_params(np.random.default_rng([seed, split_id, i]))`,
so it depends neither on the dataset size nor on the access order, and train and test never
share one.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import operator
import threading
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from gan_jax.data import base

Color = tuple[int, int, int]
UV = tuple[float, float]   # a point in face units

ALL_ATTRS: tuple[str, ...] = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young',
                              'Eyeglasses', 'Smiling', 'Bangs', 'Mouth_Slightly_Open')
HAIR_ATTRS: tuple[str, ...] = ('Black_Hair', 'Blond_Hair', 'Brown_Hair')
SPLITS = {'train': 0, 'test': 1}

_HAIR_COLOR_OF_ATTR = {'Black_Hair': 'black', 'Blond_Hair': 'blond', 'Brown_Hair': 'brown'}
_FIELD_OF_ATTR = {'Male': 'male', 'Young': 'young', 'Eyeglasses': 'eyeglasses',
                  'Smiling': 'smiling', 'Bangs': 'bangs', 'Mouth_Slightly_Open': 'mouth_open'}

# Probabilities of the attributes; the hair colour groups are black, blond, brown and other.
_HAIR_COLOR_PROBS = {'black': 0.27, 'blond': 0.27, 'brown': 0.27, 'other': 0.19}
_ATTR_PROBS = {'male': 0.5, 'young': 0.5, 'eyeglasses': 0.45, 'smiling': 0.5, 'bangs': 0.4,
               'mouth_open': 0.45}

# Hair colour families as (light end, dark end); `hair_shade` in [0, 1] interpolates.
_HAIR_FAMILIES: dict[str, tuple[Color, Color]] = {
    'black': ((66, 66, 82), (14, 14, 18)),
    'blond': ((246, 228, 150), (212, 166, 70)),
    'brown': ((146, 92, 50), (98, 56, 28)),
    'red': ((228, 118, 48), (186, 70, 28)),
    'gray': ((184, 184, 186), (124, 124, 130)),
    'white': ((242, 240, 234), (214, 214, 216)),
}
_OTHER_HAIR_PROBS = {'red': 0.35, 'gray': 0.3, 'white': 0.15, 'dyed': 0.2}
_DYED_COLORS: tuple[Color, ...] = ((70, 110, 220), (220, 80, 170), (140, 70, 200), (40, 170, 150),
                                   (230, 120, 190), (60, 150, 230))
_SKIN_PALETTE = ((255, 226, 200), (242, 198, 164), (226, 176, 134), (200, 144, 102),
                 (168, 114, 78), (134, 90, 62), (108, 72, 50))
_IRIS_COLORS: tuple[Color, ...] = ((98, 60, 30), (58, 108, 178), (68, 128, 80), (40, 30, 26),
                                   (110, 122, 134), (140, 100, 40))
_LIPSTICKS: tuple[Color, ...] = ((200, 28, 48), (226, 84, 128), (150, 26, 70), (236, 96, 78),
                                 (176, 40, 40), (196, 60, 110))
_GLASSES_COLORS: tuple[Color, ...] = ((18, 18, 20), (20, 20, 24), (70, 42, 26), (40, 40, 110),
                                      (150, 20, 30), (180, 150, 60), (30, 90, 60))

# Hair styles and their probabilities by sex (long hair is likelier on women, not exclusive).
_HAIR_STYLES = ('short', 'buzz', 'side_part', 'curly', 'long', 'bob', 'bun')
_STYLE_PROBS_MALE = (0.32, 0.15, 0.2, 0.1, 0.1, 0.06, 0.07)
_STYLE_PROBS_FEMALE = (0.1, 0.03, 0.1, 0.12, 0.35, 0.18, 0.12)
_FACIAL_HAIR = ('stubble', 'stubble_mustache', 'beard', 'goatee')
_FACIAL_HAIR_PROBS = (0.3, 0.25, 0.25, 0.2)
_NOSE_STYLES = ('line', 'button', 'nostrils', 'hook')
_BACKGROUNDS = ('solid', 'vgrad', 'hgrad', 'noise', 'stripes_v', 'stripes_h')
_BACKGROUND_PROBS = (0.3, 0.2, 0.15, 0.15, 0.1, 0.1)

_MOUTH_INSIDE: Color = (62, 14, 24)
_TEETH: Color = (246, 246, 240)
_MAX_ROTATION_DEG = 10.0
# Faces are painted at an integer multiple of the output size of at least this many pixels.
_MIN_INTERNAL_SIZE = 256
_UNIFORMS_PER_FACE = 64


@dataclasses.dataclass(frozen=True)
class FaceParams:
  """Everything needed to draw one face.

  Geometry is in face units: u in [-1, 1] spans the face width (left to right as seen), v in
  [-1, 1] spans it from crown to chin, (0, 0) is the face centre; rotation turns it all about
  that centre. Placement is in fractions of the image side.
  """
  # The attributes (labels).
  hair_color: str            # 'black' | 'blond' | 'brown' | 'other'
  male: bool
  young: bool
  eyeglasses: bool
  smiling: bool
  bangs: bool
  mouth_open: bool
  # Hair.
  other_hair: str            # family used when hair_color == 'other': 'red'|'gray'|'white'|'dyed'
  dyed_color: Color          # the colour of 'dyed' hair
  hair_shade: float          # [0, 1]: position in the colour family, light to dark
  hair_style: str            # one of _HAIR_STYLES
  hair_volume: float         # [0, 1]
  part_side: int             # -1 | 1: side of the parting / sweep
  bangs_style: str           # 'straight' | 'swept' (curly hair gets a curly fringe)
  hairline: float            # v of the top of the hairline without bangs, about -0.7
  # Placement and face shape.
  center_x: float            # face centre, fraction of the image width
  center_y: float            # face centre, fraction of the image height
  half_width: float          # face half-width, fraction of the image side
  aspect: float              # face half-height / half-width
  jaw_taper: float           # [0, 1]: how much the jaw narrows towards the chin
  jaw_square: float          # [0, 1]: squareness of the jaw (men get more on top)
  rotation: float            # degrees, counter-clockwise
  # Features.
  eye_y: float               # v of the eye centres
  eye_spacing: float         # |u| of the eye centres
  eye_size: float            # eye half-width in u
  eye_aspect: float          # eye height / width
  brow_gap: float            # v from the eye centres up to the brows
  brow_tilt: float           # v offset of the inner brow ends (+ = lower, frowning)
  nose_style: str            # one of _NOSE_STYLES
  nose_size: float
  mouth_y: float             # v of the mouth corners
  mouth_width: float         # mouth half-width in u
  smile_amount: float        # [0, 1]: strength of the smile (or of the frown when not smiling)
  ears: bool
  facial_hair: str           # one of _FACIAL_HAIR; drawn only on men
  # Colours.
  skin: Color
  iris: Color
  lipstick: Color            # drawn only on women
  glasses_shape: str         # 'round' | 'rect'
  glasses_color: Color
  glasses_scale: float       # frame half-width / eye half-width
  shirt: Color
  background: str            # one of _BACKGROUNDS
  background_colors: tuple[Color, Color]
  background_seed: int       # seeds the blotches of the 'noise' background
  stripe_width: float        # fraction of the image side


# ---------------------------------------------------------------------------------------------
# Sampling and labels.


class _Uniforms:
  """Uniform numbers drawn from the generator in one call, handed out in order (fast)."""

  def __init__(self, rng: np.random.Generator, count: int):
    self._values = rng.random(count).tolist()
    self._next = 0

  def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
    value = self._values[self._next]
    self._next += 1
    return low + (high - low) * value

  def bernoulli(self, p: float) -> bool:
    return self.uniform() < p

  def choice(self, options: Sequence, probs: Sequence[float] | None = None):
    """One of `options`, uniformly or with probabilities `probs` (summing to 1)."""
    x = self.uniform()
    if probs is None:
      return options[min(int(x * len(options)), len(options) - 1)]
    total = 0.0
    for option, p in zip(options, probs):
      total += p
      if x < total:
        return option
    return options[-1]

  def color(self, low: int = 0, high: int = 255) -> Color:
    """An RGB colour with every channel uniform in [low, high]."""
    return tuple(min(high, int(self.uniform(low, high + 1))) for _ in range(3))


def _sample_skin(draws: _Uniforms) -> Color:
  """A skin tone anywhere on a light-to-dark palette, with a little per-channel jitter."""
  t = draws.uniform(0, len(_SKIN_PALETTE) - 1)
  i = min(int(t), len(_SKIN_PALETTE) - 2)
  tone = _mix(_SKIN_PALETTE[i], _SKIN_PALETTE[i + 1], t - i)
  return tuple(min(255, max(0, c + int(draws.uniform(-8, 8)))) for c in tone)


def _sample_attributes(draws: _Uniforms) -> dict:
  """The attribute fields of FaceParams."""
  attrs = {'hair_color': draws.choice(tuple(_HAIR_COLOR_PROBS), tuple(_HAIR_COLOR_PROBS.values()))}
  for field, p in _ATTR_PROBS.items():
    attrs[field] = draws.bernoulli(p)
  return attrs


def _sample_hair(draws: _Uniforms, male: bool) -> dict:
  """Hair nuisance fields; the style depends (imperfectly) on sex."""
  return dict(
      other_hair=draws.choice(tuple(_OTHER_HAIR_PROBS), tuple(_OTHER_HAIR_PROBS.values())),
      dyed_color=draws.choice(_DYED_COLORS),
      hair_shade=draws.uniform(),
      hair_style=draws.choice(_HAIR_STYLES, _STYLE_PROBS_MALE if male else _STYLE_PROBS_FEMALE),
      hair_volume=draws.uniform(),
      part_side=draws.choice((-1, 1)),
      bangs_style=draws.choice(('straight', 'swept')),
      hairline=draws.uniform(-0.84, -0.72),
  )


def _sample_geometry(draws: _Uniforms) -> dict:
  """Placement, face shape and feature geometry."""
  return dict(
      center_x=draws.uniform(0.44, 0.56),
      center_y=draws.uniform(0.47, 0.56),
      half_width=draws.uniform(0.22, 0.27),
      aspect=draws.uniform(1.18, 1.34),
      jaw_taper=draws.uniform(),
      jaw_square=draws.uniform(),
      rotation=draws.uniform(-_MAX_ROTATION_DEG, _MAX_ROTATION_DEG),
      eye_y=draws.uniform(0.0, 0.08),
      eye_spacing=draws.uniform(0.36, 0.45),
      eye_size=draws.uniform(0.15, 0.2),
      eye_aspect=draws.uniform(0.55, 0.75),
      brow_gap=draws.uniform(0.19, 0.24),
      brow_tilt=draws.uniform(-0.05, 0.05),
      nose_style=draws.choice(_NOSE_STYLES),
      nose_size=draws.uniform(0.8, 1.2),
      mouth_y=draws.uniform(0.54, 0.62),
      mouth_width=draws.uniform(0.28, 0.38),
      smile_amount=draws.uniform(),
      ears=draws.bernoulli(0.8),
      facial_hair=draws.choice(_FACIAL_HAIR, _FACIAL_HAIR_PROBS),
  )


def _sample_colors(draws: _Uniforms) -> dict:
  """Skin, eyes, make-up, glasses, clothes and background."""
  return dict(
      skin=_sample_skin(draws),
      iris=draws.choice(_IRIS_COLORS),
      lipstick=draws.choice(_LIPSTICKS),
      glasses_shape=draws.choice(('round', 'rect')),
      glasses_color=draws.choice(_GLASSES_COLORS),
      glasses_scale=draws.uniform(1.35, 1.6),
      shirt=draws.color(20, 235),
      background=draws.choice(_BACKGROUNDS, _BACKGROUND_PROBS),
      background_colors=(draws.color(), draws.color()),
      background_seed=int(draws.uniform(0, 2**31 - 1)),
      stripe_width=draws.uniform(0.04, 0.12),
  )


def sample_face_params(rng: np.random.Generator) -> FaceParams:
  """Draws one random face: attributes roughly balanced, nuisance independent of them."""
  draws = _Uniforms(rng, _UNIFORMS_PER_FACE)
  attrs = _sample_attributes(draws)
  return FaceParams(**attrs, **_sample_hair(draws, attrs['male']), **_sample_geometry(draws),
                    **_sample_colors(draws))


def _as_bool(name: str, value) -> bool:
  if isinstance(value, str) or value not in (0, 1):   # bools, 0/1, numpy bools and 0.0/1.0 pass
    raise ValueError(f'attribute {name} must be a bool (or 0/1), got {value!r}')
  return bool(value)


def with_attributes(params: FaceParams, **attrs: bool) -> FaceParams:
  """The same face (every nuisance field kept) with the named attributes set.

  Hair colours are exclusive: setting one of Black_Hair/Blond_Hair/Brown_Hair True clears the
  other two; setting the current colour False (e.g. all three False) gives the face's own
  'other' colour (`params.other_hair`), so the result is deterministic. Example:
  `with_attributes(p, Blond_Hair=True, Male=False)`.
  """
  if not attrs:
    return params
  base.check_attr_names(list(attrs), ALL_ATTRS, 'synthetic_faces')
  values = {name: _as_bool(name, value) for name, value in attrs.items()}
  hair_on = [name for name in HAIR_ATTRS if values.get(name) is True]
  if len(hair_on) > 1:
    raise ValueError(f'hair colours are exclusive: cannot set all of {hair_on} True')
  changes = {field: values[name] for name, field in _FIELD_OF_ATTR.items() if name in values}
  if hair_on:
    changes['hair_color'] = _HAIR_COLOR_OF_ATTR[hair_on[0]]
  elif any(values.get(name) is False and _HAIR_COLOR_OF_ATTR[name] == params.hair_color
           for name in HAIR_ATTRS):
    changes['hair_color'] = 'other'
  return dataclasses.replace(params, **changes)


def _attr_value(params: FaceParams, name: str) -> bool:
  if name in _HAIR_COLOR_OF_ATTR:
    return params.hair_color == _HAIR_COLOR_OF_ATTR[name]
  return getattr(params, _FIELD_OF_ATTR[name])


def face_labels(params: FaceParams, attrs: Sequence[str]) -> np.ndarray:
  """The exact labels of `params` for the names `attrs`: float32 [len(attrs)] in {0, 1}."""
  base.check_attr_names(list(attrs), ALL_ATTRS, 'synthetic_faces')
  return np.array([_attr_value(params, name) for name in attrs], np.float32)


# ---------------------------------------------------------------------------------------------
# Colours.


def _mix(a: Color, b: Color, t: float) -> Color:
  """(1 - t) * a + t * b, rounded."""
  return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def _darker(c: Color, factor: float) -> Color:
  return tuple(int(round(x * factor)) for x in c)


def hair_rgb(params: FaceParams) -> Color:
  """The RGB colour of the hair of `params`: its family at its shade."""
  family = params.hair_color if params.hair_color != 'other' else params.other_hair
  if family == 'dyed':
    return _mix(params.dyed_color, _darker(params.dyed_color, 0.7), params.hair_shade)
  light, dark = _HAIR_FAMILIES[family]
  return _mix(light, dark, params.hair_shade)


def _brow_rgb(params: FaceParams, hair: Color) -> Color:
  """Eyebrows: a darker tone of the hair; silver-white with age (a cue that survives 32 px)."""
  brow = _mix(hair, (44, 30, 22), 0.35)
  return brow if params.young else _mix(brow, (222, 222, 218), 0.8)


def _beard_rgb(hair: Color) -> Color:
  return _mix(hair, (30, 22, 16), 0.3)


# ---------------------------------------------------------------------------------------------
# Drawing in face units.


@functools.lru_cache(maxsize=1024)
def _unit_circle(n: int, start: float, end: float) -> tuple[tuple[float, float], ...]:
  """(cos t, sin t) for n angles t from start to end degrees (end excluded for a full turn)."""
  full = (end - start) % 360 == 0
  angles = np.radians(np.linspace(start, end, n, endpoint=not full))
  return tuple(zip(np.cos(angles).tolist(), np.sin(angles).tolist()))


def _ellipse_points(u: float, v: float, ru: float, rv: float, n: int, start: float = 0.0,
                    end: float = 360.0) -> list[UV]:
  """n points of the ellipse centred at (u, v) with radii (ru, rv), angles start..end degrees.

  Angles run clockwise on screen from 3 o'clock (v grows downwards), as in PIL.
  """
  return [(u + ru * c, v + rv * s) for c, s in _unit_circle(n, start, end)]


def _bezier(p0: UV, p1: UV, p2: UV, n: int = 8) -> list[UV]:
  """n points of the quadratic Bezier curve with control points p0, p1, p2."""
  points = []
  for k in range(n):
    t = k / (n - 1)
    a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t * t
    points.append((a * p0[0] + b * p1[0] + c * p2[0], a * p0[1] + b * p1[1] + c * p2[1]))
  return points


def _curve(u0: float, u1: float, v_of_u, n: int = 9) -> list[UV]:
  """n points (u, v_of_u(u)) for u evenly from u0 to u1."""
  return [(u, v_of_u(u)) for u in (u0 + (u1 - u0) * k / (n - 1) for k in range(n))]


def _parabola(half_width: float, v0: float, depth: float):
  """v(u) = v0 + depth * (1 - (u / half_width)^2): depth > 0 bends down in the middle."""
  return lambda u: v0 + depth * (1.0 - (u / half_width) ** 2)


def _rounded_rect_points(u0: float, v0: float, u1: float, v1: float, ru: float,
                         rv: float) -> list[UV]:
  """The outline of a rectangle with elliptic corners of radii (ru, rv), clockwise."""
  corners = ((u1 - ru, v1 - rv, 0), (u0 + ru, v1 - rv, 90), (u0 + ru, v0 + rv, 180),
             (u1 - ru, v0 + rv, 270))
  points = []
  for cu, cv, start in corners:
    points += _ellipse_points(cu, cv, ru, rv, 5, start, start + 90)
  return points


class _Pen:
  """Paints on a canvas in face units: (u, v) -> pixels through the face's placement and rotation.

  Widths are in face half-widths. Ellipses and arcs become polygons and polylines, so that the
  whole face rotates without resampling the image.
  """

  def __init__(self, image: Image.Image, params: FaceParams, internal: int):
    self.draw = ImageDraw.Draw(image)
    self.fw = params.half_width * internal
    self.fh = self.fw * params.aspect
    theta = math.radians(params.rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    # Counter-clockwise on screen (y down): x = cx + du cos + dv sin, y = cy - du sin + dv cos.
    self._xu, self._xv = self.fw * cos, self.fh * sin
    self._yu, self._yv = -self.fw * sin, self.fh * cos
    self._cx, self._cy = params.center_x * internal, params.center_y * internal

  def pts(self, uv: Sequence[UV]) -> list[tuple[float, float]]:
    xu, xv, yu, yv, cx, cy = self._xu, self._xv, self._yu, self._yv, self._cx, self._cy
    return [(cx + xu * u + xv * v, cy + yu * u + yv * v) for u, v in uv]

  def width(self, t: float) -> int:
    """A line width of t face half-widths, at least one pixel."""
    return max(1, int(round(t * self.fw)))

  def _count(self, ru: float, rv: float) -> int:
    """Polygon vertices for an ellipse: about one per 1.5 pixels of radius, 10 to 48."""
    return min(48, max(10, int(max(ru * self.fw, rv * self.fh) * 0.7)))

  def _ellipse_px(self, u: float, v: float, ru: float, rv: float, start: float = 0.0,
                  end: float = 360.0) -> list[tuple[float, float]]:
    """Pixel points of an ellipse (or of its arc from start to end degrees); see _ellipse_points."""
    n = self._count(ru, rv)
    if end - start < 360:
      n = max(4, n * int(end - start) // 360)
    x0, y0 = self.pts([(u, v)])[0]
    ax, bx, ay, by = self._xu * ru, self._xv * rv, self._yu * ru, self._yv * rv
    return [(x0 + ax * c + bx * s, y0 + ay * c + by * s) for c, s in _unit_circle(n, start, end)]

  def polygon(self, uv: Sequence[UV], fill: Color) -> None:
    self.draw.polygon(self.pts(uv), fill=fill)

  def line(self, uv: Sequence[UV], color: Color, t: float, closed: bool = False) -> None:
    self._line_px(self.pts(uv), color, t, closed)

  def _line_px(self, points: list[tuple[float, float]], color: Color, t: float,
               closed: bool = False) -> None:
    self.draw.line(points + points[:1] if closed else points, fill=color, width=self.width(t))

  def curve(self, p0: UV, p1: UV, p2: UV, color: Color, t: float, n: int = 8) -> None:
    self.line(_bezier(p0, p1, p2, n), color, t)

  def ellipse(self, u: float, v: float, ru: float, rv: float, fill: Color | None = None,
              outline: Color | None = None, t: float = 0.04) -> None:
    points = self._ellipse_px(u, v, ru, rv)
    if fill is not None:
      self.draw.polygon(points, fill=fill)
    if outline is not None:
      self._line_px(points, outline, t, closed=True)

  def circle(self, u: float, v: float, r: float, fill: Color | None = None,
             outline: Color | None = None, t: float = 0.04) -> None:
    """A circle of radius r face half-widths."""
    self.ellipse(u, v, r, r * self.fw / self.fh, fill, outline, t)

  def arc(self, u: float, v: float, ru: float, rv: float, start: float, end: float,
          color: Color, t: float) -> None:
    self._line_px(self._ellipse_px(u, v, ru, rv, start, end), color, t)

  def chord(self, u: float, v: float, ru: float, rv: float, start: float, end: float,
            fill: Color) -> None:
    self.draw.polygon(self._ellipse_px(u, v, ru, rv, start, end), fill=fill)

  def rounded_rect(self, u0: float, v0: float, u1: float, v1: float, r: float,
                   fill: Color | None = None, outline: Color | None = None,
                   t: float = 0.04) -> None:
    """A rectangle from (u0, v0) to (u1, v1) with corners of radius r face half-widths."""
    points = _rounded_rect_points(u0, v0, u1, v1, r, r * self.fw / self.fh)
    if fill is not None:
      self.polygon(points, fill)
    if outline is not None:
      self.line(points, outline, t, closed=True)


def _face_outline(params: FaceParams, n: int = 48) -> list[UV]:
  """The face contour, clockwise on screen from the right temple (u = 1, v = 0).

  The upper half is an ellipse; the lower half is a superellipse (squarer for men) whose width
  tapers towards the chin.
  """
  exponent = 2.0 + 0.5 * params.jaw_square + (1.1 if params.male else 0.0)
  taper = 0.06 + 0.22 * params.jaw_taper - (0.06 if params.male else 0.0)
  points = []
  for c, s in _unit_circle(n, 0.0, 360.0):
    if s > 0:   # lower half (v grows downwards)
      points.append((math.copysign(abs(c) ** (2 / exponent), c) * (1 - taper * s * s),
                     s ** (2 / exponent)))
    else:
      points.append((c, s))
  return points


# ---------------------------------------------------------------------------------------------
# Painting, back to front.


def _paint_background(params: FaceParams, side: int) -> Image.Image:
  """The background, unrotated: a new RGB canvas of side x side pixels."""
  a, b = params.background_colors
  kind = params.background
  if kind == 'solid':
    return Image.new('RGB', (side, side), a)
  if kind in ('vgrad', 'hgrad'):
    ramp = np.linspace(0.0, 1.0, side, dtype=np.float32)[:, None]
    line = (np.float32(a) * (1 - ramp) + np.float32(b) * ramp).astype(np.uint8)   # [side, 3]
    shape = (side, side, 3)
    grid = np.broadcast_to(line[:, None] if kind == 'vgrad' else line[None], shape)
    return Image.fromarray(np.ascontiguousarray(grid))
  if kind == 'noise':
    t = np.random.default_rng(params.background_seed).random((6, 6, 1), dtype=np.float32)
    blotches = (np.float32(a) * (1 - t) + np.float32(b) * t).astype(np.uint8)
    return Image.fromarray(blotches).resize((side, side), Image.BILINEAR)
  image = Image.new('RGB', (side, side), a)
  draw = ImageDraw.Draw(image)
  step = max(2, int(params.stripe_width * side))
  for start in range(0, side, 2 * step):
    end = start + step - 1
    draw.rectangle((start, 0, end, side) if kind == 'stripes_v' else (0, start, side, end), fill=b)
  return image


def _paint_shoulders(pen: _Pen, params: FaceParams) -> None:
  pen.ellipse(0, 2.3, 2.0, 1.0, fill=params.shirt)


def _paint_neck(pen: _Pen, params: FaceParams) -> None:
  shade = _darker(params.skin, 0.86)
  pen.polygon([(-0.42, 0.5), (0.42, 0.5), (0.42, 1.4), (-0.42, 1.4)], shade)
  pen.chord(0, 1.3, 0.46, 0.14, 0, 180, shade)   # round collar


def _paint_ears(pen: _Pen, params: FaceParams) -> None:
  """Ears at eye level (long hair, painted next, covers them)."""
  if not params.ears:
    return
  for side in (-1, 1):
    pen.ellipse(side * 0.98, params.eye_y + 0.12, 0.17, 0.2, fill=_darker(params.skin, 0.93),
                outline=_darker(params.skin, 0.75), t=0.035)


def _paint_hair_back(pen: _Pen, params: FaceParams, hair: Color) -> None:
  """Hair behind the face: the cap over the skull plus the style's long parts."""
  vol, style = params.hair_volume, params.hair_style
  if style == 'curly':
    _paint_curls(pen, params, hair)
    return
  ru = 1.03 if style == 'buzz' else 1.07 + 0.12 * vol
  top = 1.04 if style == 'buzz' else 1.08 + 0.14 * vol
  if style == 'long':
    pen.rounded_rect(-ru - 0.12, -0.3, ru + 0.12, 1.25 + 0.35 * vol, 0.3, fill=hair)
  elif style == 'bob':
    pen.rounded_rect(-ru - 0.08, -0.3, ru + 0.08, 0.62 + 0.12 * vol, 0.25, fill=hair)
  elif style == 'bun':
    pen.circle(0, -top - 0.14, 0.36 + 0.08 * vol, fill=hair, outline=_darker(hair, 0.8))
  elif style == 'side_part':
    pen.ellipse(params.part_side * 0.4, -0.8, 0.8, 0.36 + 0.1 * vol, fill=hair)
  pen.chord(0, -0.05, ru, top - 0.05, 180, 360, hair)


def _paint_curls(pen: _Pen, params: FaceParams, hair: Color) -> None:
  """Curly hair: a ring of overlapping circles around the top and sides of the head."""
  r = 0.26 + 0.1 * params.hair_volume
  edge = _darker(hair, 0.8)
  for c, s in _unit_circle(13, 165.0, 375.0):
    pen.circle(1.04 * c, -0.05 + s, r, fill=hair, outline=edge, t=0.03)


def _paint_facial_hair(pen: _Pen, params: FaceParams, outline: list[UV], hair: Color) -> None:
  """Men only: stubble over jaw, chin and upper lip, or a beard / goatee in a dark hair tone."""
  if not params.male:
    return
  if params.facial_hair == 'beard':
    cheeks = [(-0.86, 0.02), (-0.6, 0.3), (-0.25, 0.34), (0.0, 0.36), (0.25, 0.34), (0.6, 0.3),
              (0.86, 0.02)]
    pen.polygon([p for p in outline if p[1] >= 0.0] + cheeks, _beard_rgb(hair))
    mw = params.mouth_width * (1.1 if params.smiling else 1.0)
    pen.ellipse(0, params.mouth_y + 0.04, mw + 0.05, 0.13, fill=_darker(params.skin, 0.9))
    return
  cheeks = [(-0.9, 0.18), (-0.55, 0.44), (-0.22, 0.38), (0.0, 0.39), (0.22, 0.38), (0.55, 0.44),
            (0.9, 0.18)]
  pen.polygon([p for p in outline if p[1] >= 0.12] + cheeks,
              _mix(params.skin, (28, 30, 40), 0.36))
  if params.facial_hair == 'goatee':
    pen.ellipse(0, 0.86, 0.26, 0.16, fill=_beard_rgb(hair))


def _paint_mustache(pen: _Pen, params: FaceParams, hair: Color) -> None:
  if not params.male or params.facial_hair == 'stubble':
    return
  mw = params.mouth_width * (1.1 if params.smiling else 1.0) + 0.04
  v0 = params.mouth_y - 0.11
  top = _curve(-mw, mw, lambda u: v0 - 0.045 + 0.05 * (u / mw) ** 2)
  bottom = _curve(mw, -mw, lambda u: v0 + 0.03 + 0.02 * (u / mw) ** 2)
  pen.polygon(top + bottom, _beard_rgb(hair))


def _paint_wrinkle(pen: _Pen, uv: list[UV], skin: Color, t: float) -> None:
  """A crease: a dark line over a light one just below it, visible on light and dark skin."""
  pen.line([(u, v + 0.03) for u, v in uv], _mix(skin, (255, 240, 225), 0.4), t)
  pen.line(uv, _mix(skin, (40, 20, 15), 0.65), t)


def _paint_age_lines(pen: _Pen, params: FaceParams) -> None:
  """Young=0: forehead wrinkles, under-eye bags, crow's feet and nasolabial folds."""
  if params.young:
    return
  skin = params.skin
  brow_v = params.eye_y - params.brow_gap
  for k, v in enumerate((brow_v - 0.1, brow_v - 0.18, brow_v - 0.26)):
    half = 0.42 - 0.04 * k
    _paint_wrinkle(pen, _curve(-half, half, _parabola(half, v, -0.025), 7), skin, 0.065)
  eye_rv = params.eye_size * params.eye_aspect * pen.fw / pen.fh
  for side in (-1, 1):
    eu = side * params.eye_spacing
    bag_v = params.eye_y + eye_rv + 0.07
    bag = [(eu + u, v) for u, v in _curve(-0.12, 0.12, _parabola(0.12, bag_v, -0.03), 5)]
    _paint_wrinkle(pen, bag, skin, 0.045)
    outer = eu + side * (params.eye_size + 0.04)
    for dv in (-0.05, 0.04):
      pen.line([(outer, params.eye_y + dv * 0.4), (outer + side * 0.1, params.eye_y + dv)],
               _mix(skin, (50, 25, 20), 0.5), 0.045)
    mouth_u = side * (params.mouth_width + 0.05)
    _paint_wrinkle(pen, _bezier((side * 0.2, 0.36), (mouth_u, params.mouth_y - 0.12),
                                (mouth_u + side * 0.03, params.mouth_y + 0.1)), skin, 0.06)


def _paint_eyes(pen: _Pen, params: FaceParams) -> None:
  """Whites, iris, pupil and lid; women get eyeliner and lashes; smiling narrows the eyes."""
  ru = params.eye_size
  rv = ru * params.eye_aspect * (0.75 if params.smiling else 1.0) * pen.fw / pen.fh
  iris_r = min(ru * 0.55, rv * pen.fh / pen.fw * 0.95)
  lid = (30, 24, 22)
  for side in (-1, 1):
    u, v = side * params.eye_spacing, params.eye_y
    pen.ellipse(u, v, ru, rv, fill=(250, 250, 250), outline=_darker(params.skin, 0.6), t=0.02)
    pen.circle(u, v, iris_r, fill=params.iris)
    pen.circle(u, v, iris_r * 0.5, fill=(12, 12, 12))
    pen.circle(u + 0.3 * iris_r, v - 0.3 * iris_r * pen.fw / pen.fh, iris_r * 0.22,
               fill=(255, 255, 255))
    pen.arc(u, v, ru, rv, 190, 350, lid, 0.035 if params.male else 0.07)
    if not params.male:
      for angle in ((340, 318, 296) if side > 0 else (200, 222, 244)):
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        base_uv = (u + ru * c, v + rv * s)
        tip = (base_uv[0] + 0.09 * c + side * 0.03, base_uv[1] + 0.09 * s * pen.fw / pen.fh)
        pen.line([base_uv, tip], lid, 0.035)


def _paint_brows(pen: _Pen, params: FaceParams, hair: Color) -> None:
  """Eyebrows in a darker hair tone: thick and straight for men, thin and arched for women."""
  color = _brow_rgb(params, hair)
  arch = 0.06 if params.male else 0.14
  v = params.eye_y - params.brow_gap
  for side in (-1, 1):
    inner = side * (params.eye_spacing - params.eye_size * 0.95)
    outer = side * (params.eye_spacing + params.eye_size * 1.15)
    width = (0.1 if params.male else 0.055) * (1.0 if params.young else 1.35)   # bushy with age
    pen.curve((inner, v + params.brow_tilt), ((inner + outer) / 2, v - arch), (outer, v + 0.02),
              color, width)


def _paint_nose(pen: _Pen, params: FaceParams) -> None:
  shade = _darker(params.skin, 0.72)
  s = params.nose_size
  tip = 0.32
  if params.nose_style == 'line':
    pen.curve((0.04, tip - 0.22 * s), (0.12 * s, tip), (-0.06 * s, tip + 0.02), shade, 0.045)
  elif params.nose_style == 'button':
    pen.ellipse(0, tip - 0.02, 0.09 * s, 0.06 * s, fill=_darker(params.skin, 0.88))
    pen.arc(0, tip - 0.02, 0.1 * s, 0.07 * s, 20, 160, shade, 0.045)
  elif params.nose_style == 'nostrils':
    for side in (-1, 1):
      pen.ellipse(side * 0.06 * s, tip, 0.035 * s, 0.022 * s, fill=shade)
  else:
    pen.curve((-0.02, tip - 0.22 * s), (-0.14 * s, tip), (0.0, tip + 0.02), shade, 0.045)
    pen.curve((0.0, tip + 0.02), (0.06 * s, tip + 0.02), (0.08 * s, tip - 0.02), shade, 0.045)


def _paint_mouth(pen: _Pen, params: FaceParams) -> None:
  """Four mouths: a closed line (neutral), a grin showing teeth (Smiling), a dark oval
  (Mouth_Slightly_Open), and teeth over a dark opening (both). Smiles bend up at the corners
  and add creases. Women wear lipstick; men's lips are a darker, redder skin tone.
  """
  mw = params.mouth_width * (1.1 if params.smiling else 1.0)
  my = params.mouth_y
  if params.male:
    lip, lip_t = _mix(params.skin, (140, 45, 55), 0.5), 0.065
  else:
    lip, lip_t = params.lipstick, 0.1
  if not params.smiling and not params.mouth_open:
    line = _curve(-mw, mw, _parabola(mw, my, -0.02 * params.smile_amount))
    if params.male:
      pen.line(line, lip, 0.07)
    else:
      pen.polygon(_curve(-mw, mw, _parabola(mw, my - 0.04, 0.0)) +
                  _curve(mw, -mw, _parabola(mw, my + 0.05, 0.01)), lip)
      pen.line(line, _darker(lip, 0.6), 0.035)
    return
  if params.smiling:
    top_depth = 0.03
    bottom_depth = 0.1 + 0.06 * params.smile_amount + (0.1 if params.mouth_open else 0.0)
  else:
    top_depth, bottom_depth = -0.06, 0.1
  top = _curve(-mw, mw, _parabola(mw, my, top_depth))
  bottom = _curve(mw, -mw, _parabola(mw, my, bottom_depth))
  pen.polygon(top + bottom, _MOUTH_INSIDE if params.mouth_open else _TEETH)
  if params.smiling and params.mouth_open:
    teeth_top = _curve(-mw * 0.85, mw * 0.85, _parabola(mw, my + 0.01, top_depth))
    teeth_bottom = _curve(mw * 0.85, -mw * 0.85, _parabola(mw, my + 0.06, top_depth))
    pen.polygon(teeth_top + teeth_bottom, _TEETH)
  pen.line(top + bottom, lip, lip_t, closed=True)
  if params.smiling:
    crease = _darker(params.skin, 0.7)
    for side in (-1, 1):
      u = side * (mw + 0.05)
      pen.curve((u - side * 0.03, my - 0.08), (u + side * 0.01, my - 0.02),
                (u - side * 0.02, my + 0.04), crease, 0.04, n=5)


def _hairline(params: FaceParams, temple_u: float, temple_v: float) -> list[UV]:
  """The lower edge of the front hair, from the right temple to the left one.

  Without bangs it is an arch high on the forehead; bangs bring it down to just above the brows,
  straight with small points or swept to one side.
  """
  n = 13
  us = [temple_u - 2 * temple_u * k / (n - 1) for k in range(n)]
  fringe = params.eye_y - params.brow_gap - 0.15   # just above the arch of the brows
  if params.bangs and params.bangs_style == 'swept':
    side = params.part_side
    high, low = fringe - 0.22, fringe + 0.02
    return [(u, low + (high - low) * (0.5 - 0.5 * side * u / temple_u)) if abs(u) < 0.9 * temple_u
            else (u, temple_v) for u in us]
  if params.bangs:
    return [(u, fringe + 0.05 * (k % 2)) if abs(u) < 0.9 * temple_u else (u, temple_v)
            for k, u in enumerate(us)]
  top = params.hairline
  tilt = 0.12 * params.part_side if params.hair_style == 'side_part' else 0.0
  return [(u, top + (temple_v - top) * (u / temple_u) ** 2 + tilt * u) for u in us]


def _paint_hair_front(pen: _Pen, params: FaceParams, hair: Color) -> None:
  """Hair over the top of the face down to the hairline (the fringe when there are bangs)."""
  temple_v = -0.3
  temple_u = 1.03 * math.sqrt(1 - temple_v ** 2)
  start = 180 + math.degrees(math.asin(-temple_v))
  crown = _ellipse_points(0, 0, 1.03, 1.03, 17, start, 540 - start)   # left temple -> right
  line = _hairline(params, temple_u, temple_v)
  pen.polygon(crown + line, hair)
  if params.hair_style == 'curly':
    edge = _darker(hair, 0.8)
    for u, v in line[1:-1]:
      pen.circle(u, v - 0.03, 0.12, fill=hair, outline=edge, t=0.03)
  else:
    _paint_hair_strands(pen, params, hair)


def _paint_hair_strands(pen: _Pen, params: FaceParams, hair: Color) -> None:
  """A highlight and a few darker strands, so the hair reads as hair and not as a cap."""
  side = params.part_side
  pen.arc(-0.15 * side, -0.55, 0.62, 0.5, 215 if side > 0 else 250, 290 if side > 0 else 325,
          _mix(hair, (255, 255, 255), 0.3), 0.06)
  strand = _darker(hair, 0.72)
  end_v = params.eye_y - params.brow_gap - 0.2 if params.bangs else -0.72   # into the fringe
  for k in (-1, 0, 1):
    u0 = 0.25 * side + 0.3 * k
    pen.curve((u0, -1.02), (u0 - 0.12 * side, (end_v - 1.02) / 2), (u0 - 0.2 * side, end_v), strand,
              0.035, n=5)


def _luminance(c: Color) -> float:
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _frame_rgb(params: FaceParams) -> Color:
  """The glasses colour, darkened (or lightened on dark skin) where it would blend in."""
  color, skin = params.glasses_color, params.skin
  if abs(_luminance(color) - _luminance(skin)) >= 60:
    return color
  return _darker(color, 0.4) if _luminance(skin) > 110 else _mix(color, (255, 255, 255), 0.55)


def _paint_glasses(pen: _Pen, params: FaceParams) -> None:
  """Two frames around the eyes with a glint on the lenses, a bridge and the temple arms."""
  if not params.eyeglasses:
    return
  color, t = _frame_rgb(params), 0.095
  ru = params.eye_size * params.glasses_scale
  rv = ru * 0.78 * pen.fw / pen.fh
  v = params.eye_y
  for side in (-1, 1):
    u = side * params.eye_spacing
    pen.line([(u + 0.3 * ru, v - 0.6 * rv), (u + 0.65 * ru, v - 0.1 * rv)], (236, 242, 255), 0.05)
    if params.glasses_shape == 'round':
      pen.ellipse(u, v, ru, rv, outline=color, t=t)
    else:
      pen.rounded_rect(u - ru, v - rv, u + ru, v + rv, 0.25 * ru, outline=color, t=t)
    pen.line([(side * (params.eye_spacing + ru), v - 0.5 * rv), (side * 1.0, v - 0.4 * rv)],
             color, t)
  inner = params.eye_spacing - ru
  pen.curve((-inner - 0.02, v - 0.2 * rv), (0, v - 0.5 * rv), (inner + 0.02, v - 0.2 * rv),
            color, t, n=5)


def _internal_size(size: int) -> int:
  """Painting resolution: an integer multiple of `size`, at least _MIN_INTERNAL_SIZE."""
  return size * max(2, -(-_MIN_INTERNAL_SIZE // size))


def _paint(params: FaceParams, internal: int) -> Image.Image:
  """The whole picture at internal x internal pixels, back to front."""
  image = _paint_background(params, internal)
  pen = _Pen(image, params, internal)
  hair = hair_rgb(params)
  outline = _face_outline(params)
  _paint_shoulders(pen, params)
  _paint_ears(pen, params)
  _paint_hair_back(pen, params, hair)
  _paint_neck(pen, params)
  pen.polygon(outline, params.skin)
  _paint_facial_hair(pen, params, outline, hair)
  _paint_age_lines(pen, params)
  _paint_nose(pen, params)
  _paint_mouth(pen, params)
  _paint_mustache(pen, params, hair)
  _paint_eyes(pen, params)
  _paint_brows(pen, params, hair)
  _paint_hair_front(pen, params, hair)
  _paint_glasses(pen, params)
  return image


def render_face(params: FaceParams, size: int) -> np.ndarray:
  """Draws `params` as uint8 [size, size, 3].

  Painted at an integer multiple of `size` (at least 256 px) and box-averaged down, so small
  images are antialiased. A pure function of (params, size), safe to call from any thread.
  """
  if size < 8:
    raise ValueError(f'size must be >= 8, got {size}')
  internal = _internal_size(size)
  image = _paint(params, internal).reduce(internal // size)
  return np.asarray(image, dtype=np.uint8)


_LANDMARKS: dict[str, Callable[[FaceParams], UV]] = {
    'left_eye': lambda p: (-p.eye_spacing, p.eye_y),
    'right_eye': lambda p: (p.eye_spacing, p.eye_y),
    'brows': lambda p: (0.0, p.eye_y - p.brow_gap),
    'crown': lambda p: (0.0, -0.88),
    'forehead': lambda p: (0.0, -0.45),
    'nose': lambda p: (0.0, 0.3),
    'mouth': lambda p: (0.0, p.mouth_y),
    'chin': lambda p: (0.0, 1.0),
    'center': lambda p: (0.0, 0.0),
}


def face_landmarks(params: FaceParams, size: int) -> dict[str, np.ndarray]:
  """Where the features of `params` land in its `size` image: name -> float64 [2] = (x, y).

  Names: left_eye, right_eye (as seen), brows (between them), crown (always hair), forehead,
  nose, mouth (centre of the mouth line), chin, center. Continuous pixel coordinates: pixel
  [row, col] covers [col, col + 1) x [row, row + 1). And 'half_size': the face's (half-width,
  half-height) in pixels, for sizing regions around the landmarks.
  """
  internal = _internal_size(size)
  pen = _Pen(Image.new('RGB', (1, 1)), params, internal)
  scale = size / internal
  out = {name: np.array(pen.pts([where(params)])[0]) * scale for name, where in _LANDMARKS.items()}
  out['half_size'] = np.array([pen.fw, pen.fh]) * scale
  return out


# ---------------------------------------------------------------------------------------------
# The dataset.


class _LruCache:
  """A thread-safe bounded mapping that forgets the least recently used entries first."""

  def __init__(self, max_items: int):
    self._max_items = max_items
    self._items: collections.OrderedDict = collections.OrderedDict()
    self._lock = threading.Lock()

  def get(self, key):
    with self._lock:
      value = self._items.get(key)
      if value is not None:
        self._items.move_to_end(key)
      return value

  def put(self, key, value) -> None:
    with self._lock:
      self._items[key] = value
      self._items.move_to_end(key)
      while len(self._items) > self._max_items:
        self._items.popitem(last=False)

  def __len__(self) -> int:
    return len(self._items)


class SyntheticFaces:
  """The synthetic faces as an ImageSource: {'image': uint8 [S, S, 3], 'label': float32 [A]}.

  Rendered examples are cached (least recently used out first, up to `cache_bytes` of images);
  the arrays returned are read-only and shared with the cache. Safe to index from many threads.
  """

  def __init__(self, image_size: int, attrs: Sequence[str], num_examples: int, seed: int = 0,
               split: str = 'train', *, cache_bytes: int = 512 << 20):
    base.check_attr_names(list(attrs), ALL_ATTRS, 'synthetic_faces')
    if split not in SPLITS:
      raise base.DataConfigError(f'unknown split {split!r} for dataset synthetic_faces; '
                                 f'valid splits: {", ".join(SPLITS)}')
    if int(num_examples) <= 0:
      raise base.DataConfigError(f'synthetic_faces needs num_examples > 0, got {num_examples}: '
                                 'set config.data.num_examples (or num_test_examples) to a '
                                 'positive number.')
    if int(image_size) < 16:
      raise base.DataConfigError(f'synthetic_faces needs image_size >= 16, got {image_size}: '
                                 'set config.data.image_size to 16 or more (e.g. 64).')
    if int(seed) < 0:
      raise base.DataConfigError(f'synthetic_faces needs a seed >= 0, got {seed}: '
                                 'set config.data.seed to a non-negative integer.')
    self.attr_names = tuple(attrs)
    self.image_size = int(image_size)
    self.num_examples = int(num_examples)
    self.seed = int(seed)
    self.split = split
    self._cache = _LruCache(max(1, cache_bytes // (3 * self.image_size ** 2)))

  def __len__(self) -> int:
    return self.num_examples

  def _check_index(self, index: int) -> int:
    index = operator.index(index)
    if index < 0:
      index += self.num_examples
    if not 0 <= index < self.num_examples:
      raise IndexError(f'index {index} out of range for {self.num_examples} synthetic faces')
    return index

  def params(self, index: int) -> FaceParams:
    """The FaceParams of example `index` (drawn afresh; cheap)."""
    index = self._check_index(index)
    return sample_face_params(np.random.default_rng([self.seed, SPLITS[self.split], index]))

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    index = self._check_index(index)
    example = self._cache.get(index)
    if example is None:
      params = self.params(index)
      image = render_face(params, self.image_size)
      label = face_labels(params, self.attr_names)
      image.setflags(write=False)
      label.setflags(write=False)
      example = (image, label)
      self._cache.put(index, example)
    return {'image': example[0], 'label': example[1]}
