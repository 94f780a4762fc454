"""Framing of the maps: what a view fits, and the overseas insets.

Under France entière the five overseas départements are drawn as insets in a
column west of metropolitan France, as on most French maps. Each inset is an
affine transform (a scale and a shift) of Web-Mercator coordinates applied to
everything inside a box around the département. The interactive map applies
it in the browser through a composite projection (see
:data:`lib.rendering.web.maps.COMPOSITE_CRS_JS`), so that every layer — boundaries,
choropleth, clustered markers, lines — is drawn and clicked where the inset
shows it while the data keep their true coordinates.

This module is pure geometry (no folium, no Streamlit): the same numbers feed
the browser's projection, the bounds a view fits and the static exports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

__all__ = [
    "COMPOSITE_BOUNDS",
    "INSETS",
    "METROPOLE_BOUNDS",
    "Inset",
    "composite_bounds",
    "display_bounds",
    "display_geometry",
    "inset_of",
    "inset_spec",
    "mercator",
    "to_display",
    "unmercator",
]

#: Earth radius of Leaflet's spherical Mercator (EPSG:3857), in metres.
_R = 6378137.0
_DEG = math.pi / 180

#: Metropolitan France and Corsica, ``((south, west), (north, east))``.
METROPOLE_BOUNDS = ((41.3, -5.2), (51.1, 9.6))

#: Side of an inset's square frame, in Mercator metres (2.3° of longitude):
#: five frames and their gaps span the height of metropolitan France.
_SLOT = 2.3 * _DEG * _R
#: Gap between two frames, in Mercator metres.
_GAP = 0.5 * _DEG * _R
#: Longitude of the column's centre: west of Brittany (Ouessant is at 5.1° W),
#: over the sea, clear of the metropolitan outlines.
_COLUMN_LON = -7.9


def mercator(lat: float, lon: float) -> tuple[float, float]:
    """Return Leaflet's spherical Mercator ``(x, y)`` of a point, in metres.

    Parameters
    ----------
    lat, lon : float
        Degrees (WGS84).

    Returns
    -------
    tuple of float
    """
    lat = max(min(lat, 85.0511287798), -85.0511287798)
    return (_R * lon * _DEG, _R * math.log(math.tan(math.pi / 4 + lat * _DEG / 2)))


def unmercator(x: float, y: float) -> tuple[float, float]:
    """Return ``(lat, lon)`` of a spherical Mercator point (see :func:`mercator`).

    Parameters
    ----------
    x, y : float
        Metres.

    Returns
    -------
    tuple of float
    """
    return ((2 * math.atan(math.exp(y / _R)) - math.pi / 2) / _DEG, x / _R / _DEG)


@dataclass(frozen=True)
class Inset:
    """One overseas département drawn as an inset.

    Attributes
    ----------
    code : str
        Département code (``"971"``).
    nom : str
        Its name, written above the frame.
    box : tuple of float
        ``(south, west, north, east)`` around the département, in degrees:
        everything inside is moved into the frame.
    slot : int
        Place in the column, from the top.
    """

    code: str
    nom: str
    box: tuple[float, float, float, float]
    slot: int

    @property
    def source(self) -> tuple[float, float, float, float]:
        """The box in Mercator metres, ``(minx, miny, maxx, maxy)``."""
        minx, miny = mercator(self.box[0], self.box[1])
        maxx, maxy = mercator(self.box[2], self.box[3])
        return (minx, miny, maxx, maxy)

    @property
    def scale(self) -> float:
        """Factor applied to the box: its longer side fills 90 % of the frame."""
        minx, miny, maxx, maxy = self.source
        return 0.9 * _SLOT / max(maxx - minx, maxy - miny)

    @property
    def target(self) -> tuple[float, float]:
        """Centre of the frame, in Mercator metres."""
        (south, west), (north, east) = METROPOLE_BOUNDS
        _, y0 = mercator(south, west)
        _, y1 = mercator(north, east)
        column = len(INSETS) * _SLOT + (len(INSETS) - 1) * _GAP
        top = (y0 + y1) / 2 + column / 2
        x = mercator(0.0, _COLUMN_LON)[0]
        return (x, top - _SLOT / 2 - self.slot * (_SLOT + _GAP))

    @property
    def frame(self) -> tuple[float, float, float, float]:
        """The inset's square frame, in Mercator metres ``(minx, miny, maxx, maxy)``."""
        x, y = self.target
        half = _SLOT / 2
        return (x - half, y - half, x + half, y + half)

    def contains(self, lat: float, lon: float) -> bool:
        """Whether a true position lies in the box (and is drawn in the inset)."""
        south, west, north, east = self.box
        return south <= lat <= north and west <= lon <= east

    def move(self, lat: float, lon: float) -> tuple[float, float]:
        """Return where a true position of the box is drawn, ``(lat, lon)``."""
        x, y = mercator(lat, lon)
        minx, miny, maxx, maxy = self.source
        tx, ty = self.target
        k = self.scale
        return unmercator(
            (x - (minx + maxx) / 2) * k + tx, (y - (miny + maxy) / 2) * k + ty
        )


#: The overseas départements, top to bottom in INSEE order.
INSETS: tuple[Inset, ...] = (
    Inset("971", "Guadeloupe", (15.75, -61.9, 16.6, -60.9), 0),
    Inset("972", "Martinique", (14.3, -61.3, 14.95, -60.75), 1),
    Inset("973", "Guyane", (2.0, -54.7, 5.85, -51.5), 2),
    Inset("974", "La Réunion", (-21.45, 55.15, -20.8, 55.9), 3),
    Inset("976", "Mayotte", (-13.1, 44.95, -12.55, 45.35), 4),
)


def inset_of(lat: float, lon: float) -> Inset | None:
    """Return the inset whose box holds a true position, or None."""
    for inset in INSETS:
        if inset.contains(lat, lon):
            return inset
    return None


def to_display(lat: float, lon: float) -> tuple[float, float]:
    """Return where a true position is drawn under France entière."""
    inset = inset_of(lat, lon)
    return inset.move(lat, lon) if inset else (lat, lon)


Bounds = tuple[tuple[float, float], tuple[float, float]]


def display_geometry(geometry):
    """Return a shapely geometry (WGS84) as drawn under France entière.

    A geometry whose representative point lies in an inset's box is moved
    whole into the inset's frame; any other is returned unchanged.

    Parameters
    ----------
    geometry : shapely.Geometry
        In longitude, latitude.

    Returns
    -------
    shapely.Geometry
    """
    point = geometry.representative_point()
    inset = inset_of(point.y, point.x)
    if inset is None:
        return geometry
    minx, miny, maxx, maxy = inset.source
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    tx, ty = inset.target
    k = inset.scale

    def move(coords: np.ndarray) -> np.ndarray:
        lon, lat = coords[:, 0], np.clip(coords[:, 1], -85.0511287798, 85.0511287798)
        x = _R * lon * _DEG
        y = _R * np.log(np.tan(np.pi / 4 + lat * _DEG / 2))
        x, y = (x - cx) * k + tx, (y - cy) * k + ty
        lat = (2 * np.arctan(np.exp(y / _R)) - np.pi / 2) / _DEG
        return np.column_stack([x / _R / _DEG, lat])

    return shapely.transform(geometry, move)


def display_bounds(bounds: Bounds) -> Bounds:
    """Return true bounds as drawn under France entière (insets applied).

    Parameters
    ----------
    bounds : tuple
        ``((south, west), (north, east))`` of one territory or several, in
        true coordinates. Bounds spanning an inset's box and something else
        are moved corner by corner.

    Returns
    -------
    tuple
        ``((south, west), (north, east))`` of the drawn positions.
    """
    (south, west), (north, east) = bounds
    points = [to_display(lat, lon) for lat in (south, north) for lon in (west, east)]
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    return ((min(lats), min(lons)), (max(lats), max(lons)))


def composite_bounds() -> Bounds:
    """Return what France entière fits: metropolitan France and the insets."""
    (south, west), (north, east) = METROPOLE_BOUNDS
    for inset in INSETS:
        minx, miny, maxx, maxy = inset.frame
        lo_lat, lo_lon = unmercator(minx, miny)
        hi_lat, hi_lon = unmercator(maxx, maxy)
        south, west = min(south, lo_lat), min(west, lo_lon)
        north, east = max(north, hi_lat), max(east, hi_lon)
    return ((south, west), (north, east))


#: What France entière fits (insets included).
COMPOSITE_BOUNDS = composite_bounds()


def inset_spec() -> list[dict]:
    """Return the insets as the browser's composite projection reads them.

    Returns
    -------
    list of dict
        ``box`` (true degrees, S W N E), ``c`` (the box's Mercator centre),
        ``t`` (the frame's centre), ``k`` (scale), ``rect`` (the frame in
        Mercator metres), ``code`` and ``nom``; and ``label``, the
        ``(lat, lon)`` of the frame's top-left corner.
    """
    spec = []
    for inset in INSETS:
        minx, miny, maxx, maxy = inset.source
        frame = inset.frame
        spec.append(
            {
                "code": inset.code,
                "nom": inset.nom,
                "box": list(inset.box),
                "c": [(minx + maxx) / 2, (miny + maxy) / 2],
                "t": list(inset.target),
                "k": inset.scale,
                "rect": list(frame),
                "label": list(unmercator(frame[0], frame[3])),
                "corners": [
                    list(unmercator(frame[0], frame[1])),
                    list(unmercator(frame[2], frame[3])),
                ],
            }
        )
    return spec
