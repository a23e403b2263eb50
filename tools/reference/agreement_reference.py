#!/usr/bin/env python3
"""Independent reference values for the geometry of the sample agreement.

This script recomputes, WITHOUT any of truce's Rust code, what
`truce_agreement::Agreement::place` should answer for a set of test points on the sample
agreement in examples/agreement (agreement.toml and the GeoJSON files beside it). The
results are pasted into crates/agreement/tests/reference.rs.

What it computes (the specification it reproduces):

1. Positions are [lon, lat] on WGS 84. A segment between two consecutive positions is the
   straight line in lon/lat (RFC 7946): X(t) = A + t (B - A), t in [0, 1].
2. distance_to_line_m(P) = min over the contact line's segments and t of the WGS 84
   geodesic distance (geographiclib Geodesic.WGS84.Inverse) from P to X(t). Found by brute
   force: every segment is sampled at STEPS + 1 values of t (no prefilter for the final
   values), then every sampled local minimum whose value could still be the global one
   (sample minus half a sample step <= best sample) is refined by golden-section search
   until the bracket is shorter than 0.1 mm along the segment.
3. Party areas: the largest polygon of the border (ukraine-border-ne50m.geojson) has its
   exterior ring cut by the contact line, extended at each end to the nearest point of that
   ring (nearest by the geodesic distance of 2; the foot may lie inside a ring segment).
   The extended line is closed with each of the two ring arcs between the feet; the
   clockwise-closed polygon is the right side of the line (walking from its first position
   to its last). right = border (whole MultiPolygon) ∩ that polygon, left = border − that
   polygon. Explicit polygons take precedence: RU = right ∪ (ru-adjacent polygons),
   UA = left − (ru-adjacent polygons). side(P) = the party whose area covers P (shapely,
   planar in lon/lat, boundary inclusive), or none.
4. Zones (agreement.toml [[zones]]): P is in zone Z if side(P) is one of Z's sides (all
   parties unless `sides` is given) and distance_to_line_m(P) <= distance_km * 1000.

For each test point it prints: name, lat, lon, distance_to_line_m (0.001 m), side and the
zone ids, plus warnings if a point is within 2 km of an area boundary other than the
contact line (the border rings, the connectors from the line's ends to the border, the
ru-adjacent rings) or within 100 m of a zone threshold. With --rust it prints the rows as
a Rust table for crates/agreement/tests/reference.rs.

Libraries used for the values in reference.rs: Python 3.11.7, geographiclib 2.1,
shapely 2.2.0 (GEOS via shapely 2.2.0 wheels), numpy 2.4.6.

How to run (from the workspace root):

    python3 -m venv /var/tmp/refenv
    /var/tmp/refenv/bin/pip install geographiclib shapely
    /var/tmp/refenv/bin/python tools/reference/agreement_reference.py [--rust] [--steps N]

--steps N changes the number of samples per segment (default 100) to recheck a value with
a finer search. The test points are chosen by the script itself (offsets perpendicular to
chosen segments, computed with geographiclib Direct, then rounded to 7 decimals); the
reference values are always computed at the rounded coordinates.
"""

import argparse
import json
import math
import os
import sys
import tomllib

import geographiclib
import shapely
from geographiclib.geodesic import Geodesic
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, shape
from shapely.ops import unary_union

GEOD = Geodesic.WGS84
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(ROOT, "examples", "agreement")
INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0


def geo_dist(a, b):
    """Geodesic distance in metres between two [lon, lat] positions."""
    return GEOD.Inverse(a[1], a[0], b[1], b[0], Geodesic.DISTANCE)["s12"]


def lerp(a, b, t):
    return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))


def golden(f, lo, hi, tol_t):
    """Minimise f on [lo, hi] by golden-section search; returns (f_min, t_min)."""
    c = hi - INV_PHI * (hi - lo)
    d = lo + INV_PHI * (hi - lo)
    fc, fd = f(c), f(d)
    while hi - lo > tol_t:
        if fc <= fd:
            hi, d, fd = d, c, fc
            c = hi - INV_PHI * (hi - lo)
            fc = f(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + INV_PHI * (hi - lo)
            fd = f(d)
    best = min((f(lo), lo), (f(hi), hi), (fc, c), (fd, d))
    return best


class Chain:
    """A polyline of [lon, lat] positions with straight lon/lat segments."""

    def __init__(self, coords):
        self.coords = [tuple(c[:2]) for c in coords]
        self.seg_len = [geo_dist(a, b) for a, b in zip(self.coords, self.coords[1:])]
        # For the optional prefilter: the farthest any point of segment i is from its
        # first position (sampled, plus a margin), for a triangle-inequality lower bound.
        self.reach = []
        for (a, b), length in zip(zip(self.coords, self.coords[1:]), self.seg_len):
            far = max(geo_dist(a, lerp(a, b, k / 20)) for k in range(21))
            self.reach.append(far + length / 20 + 1.0)

    def nearest(self, p, steps=100, prefilter=False):
        """(distance_m, segment, t, foot) of the nearest point of the chain to p."""
        segs = range(len(self.seg_len))
        if prefilter:
            d0 = [geo_dist(p, c) for c in self.coords]
            upper = min(d0)
            segs = [i for i in segs if d0[i] - self.reach[i] <= upper]
        samples = {}
        best_sample = math.inf
        for i in segs:
            a, b = self.coords[i], self.coords[i + 1]
            ds = [geo_dist(p, lerp(a, b, k / steps)) for k in range(steps + 1)]
            samples[i] = ds
            best_sample = min(best_sample, min(ds))
        best = (math.inf, -1, 0.0, None)
        for i, ds in samples.items():
            a, b = self.coords[i], self.coords[i + 1]
            # Half a sample step along the segment, with a 5 % margin for the lon/lat line
            # not being a geodesic.
            half_step = 0.5 * 1.05 * self.seg_len[i] / steps + 0.01
            f = lambda t, a=a, b=b: geo_dist(p, lerp(a, b, t))  # noqa: E731
            tol_t = 1.0e-4 / max(self.seg_len[i], 1.0)
            for k, dk in enumerate(ds):
                left = ds[k - 1] if k > 0 else math.inf
                right = ds[k + 1] if k < steps else math.inf
                if dk > left or dk > right:
                    continue  # not a sampled local minimum
                if dk - half_step > best_sample:
                    continue  # cannot hold the global minimum
                lo = max(0.0, (k - 1) / steps)
                hi = min(1.0, (k + 1) / steps)
                val, t = golden(f, lo, hi, tol_t)
                if val < best[0]:
                    best = (val, i, t, lerp(a, b, t))
        return best

    def distance(self, p, steps=100, prefilter=False):
        return self.nearest(p, steps, prefilter)[0]


def load_geojson_geoms(path):
    with open(path) as f:
        gj = json.load(f)
    if gj["type"] == "FeatureCollection":
        return [shape(feat["geometry"]) for feat in gj["features"]]
    if gj["type"] == "Feature":
        return [shape(gj["geometry"])]
    return [shape(gj)]


def polygons_of(geoms):
    out = []
    for g in geoms:
        if isinstance(g, Polygon):
            out.append(g)
        elif isinstance(g, MultiPolygon):
            out.extend(g.geoms)
        else:
            raise ValueError(f"not a polygon: {g.geom_type}")
    return out


class Sample:
    def __init__(self):
        with open(os.path.join(SAMPLE, "agreement.toml"), "rb") as f:
            self.toml = tomllib.load(f)
        parties = [p["id"] for p in self.toml["parties"]]
        self.zones = [
            (z["id"], z["distance_km"] * 1000.0, z.get("sides", parties))
            for z in self.toml["zones"]
        ]
        line_geoms = load_geojson_geoms(
            os.path.join(SAMPLE, self.toml["contact_line"]["geometry"]["file"])
        )
        assert len(line_geoms) == 1 and isinstance(line_geoms[0], LineString)
        self.line = Chain(list(line_geoms[0].coords))

        areas = self.toml["areas"]
        border_polys = polygons_of(
            load_geojson_geoms(os.path.join(SAMPLE, areas["derive_from_border"]["file"]))
        )
        self.border = MultiPolygon(border_polys)
        largest = max(border_polys, key=lambda p: p.area)
        ring = list(largest.exterior.coords)
        assert ring[0] == ring[-1]
        self.ring = Chain(ring)

        # Feet of the line's two ends on the ring.
        first, last = self.line.coords[0], self.line.coords[-1]
        self.foot_first = self.ring.nearest(first)
        self.foot_last = self.ring.nearest(last)
        (_, i_f, _, f_pt) = self.foot_first
        (_, i_l, _, l_pt) = self.foot_last
        assert i_f != i_l, "both feet on the same ring segment: not handled"
        n = len(ring) - 1  # ring positions without the closing repeat
        ext = [f_pt] + self.line.coords + [l_pt]
        self.connectors = [Chain([f_pt, first]), Chain([last, l_pt])]
        # Arc forward along the ring from L' to F': ring[i_l+1], ..., ring[i_f].
        fwd = []
        j = (i_l + 1) % n
        while True:
            fwd.append(ring[j])
            if j == i_f:
                break
            j = (j + 1) % n
        # Arc backward from L' to F': ring[i_l], ring[i_l-1], ..., ring[i_f+1].
        bwd = []
        j = i_l
        while True:
            bwd.append(ring[j])
            if j == (i_f + 1) % n:
                break
            j = (j - 1) % n
        poly_fwd = Polygon(ext + fwd)
        poly_bwd = Polygon(ext + bwd)
        for name, p in (("forward", poly_fwd), ("backward", poly_bwd)):
            if not p.is_valid:
                print(f"WARNING: {name} cut polygon invalid: {shapely.is_valid_reason(p)}",
                      file=sys.stderr)
        if poly_fwd.exterior.is_ccw == poly_bwd.exterior.is_ccw:
            raise RuntimeError("both cut polygons have the same orientation")
        right_poly = poly_bwd if poly_fwd.exterior.is_ccw else poly_fwd
        self.cut_check = (poly_fwd.area + poly_bwd.area) / largest.area
        right = self.border.intersection(right_poly)
        left = self.border.difference(right_poly)
        ru_adj_geoms = load_geojson_geoms(
            os.path.join(SAMPLE, areas["party"][0]["geometry"]["file"])
        )
        assert areas["party"][0]["party"] == "RU" and len(areas["party"]) == 1
        ru_adj = unary_union(polygons_of(ru_adj_geoms))
        self.ru_adj_rings = [Chain(list(p.exterior.coords)) for p in polygons_of(ru_adj_geoms)]
        self.border_rings = [Chain(list(p.exterior.coords)) for p in border_polys]
        left_party, right_party = areas["left_of_line"], areas["right_of_line"]
        assert (left_party, right_party) == ("UA", "RU")
        self.areas = {
            "RU": unary_union([right, ru_adj]),
            "UA": left.difference(ru_adj),
        }
        for a in self.areas.values():
            shapely.prepare(a)

    def side(self, p):
        pt = Point(p)
        hits = [party for party, area in self.areas.items() if area.covers(pt)]
        if len(hits) > 1:
            print(f"WARNING: {p} is in both areas {hits}", file=sys.stderr)
        return hits[0] if hits else None

    def place(self, p, steps=100, prefilter=False):
        d = self.line.distance(p, steps, prefilter)
        side = self.side(p)
        zones = [zid for zid, dm, sides in self.zones if side in sides and d <= dm]
        return d, side, zones

    def other_boundary_distance(self, p):
        """Geodesic distance to the nearest area boundary other than the contact line."""
        chains = self.border_rings + self.ru_adj_rings + self.connectors
        return min(c.distance(p, steps=20, prefilter=True) for c in chains)


def offset_from_segment(sample, seg, side, dist_m, target=None):
    """A point offset perpendicular (geodesic Direct) from segment `seg`'s midpoint, `side`
    'L' or 'R' of the line's direction. With `target`, the offset is adjusted (secant) so
    that the point's distance to the line is `target` (within about 1 m)."""
    a, b = sample.line.coords[seg], sample.line.coords[seg + 1]
    m = lerp(a, b, 0.5)
    azi = GEOD.Inverse(m[1], m[0], b[1], b[0])["azi1"]
    azi += -90.0 if side == "L" else 90.0

    def at(s):
        r = GEOD.Direct(m[1], m[0], azi, s)
        return (round(r["lon2"], 7), round(r["lat2"], 7))

    if target is None:
        return at(dist_m)
    s0, s1 = target, target * 1.05
    f0 = sample.line.distance(at(s0), steps=40, prefilter=True) - target
    f1 = sample.line.distance(at(s1), steps=40, prefilter=True) - target
    for _ in range(30):
        if abs(f1) < 1.0 or f1 == f0:
            break
        s2 = s1 - f1 * (s1 - s0) / (f1 - f0)
        s0, f0 = s1, f1
        s1 = s2
        f1 = sample.line.distance(at(s1), steps=40, prefilter=True) - target
    return at(s1)


def test_points(sample):
    """The test points: (name, (lon, lat))."""
    pts = []
    # Near the line, on both sides, at several places along it (segment indices 0..385).
    for seg, off in ((25, 5.0), (300, 5.0), (140, 50.0), (230, 500.0), (6, 3000.0)):
        for side in ("L", "R"):
            pts.append((f"seg{seg}-{side}-{off:g}m", offset_from_segment(sample, seg, side, off)))
    # Far from the line, adjusted so that the distance is the target; sides alternate.
    for seg, side, km in (
        (250, "L", 40),
        (200, "R", 49),
        (120, "L", 51),
        (170, "R", 69),
        (150, "L", 71),
        (210, "R", 100),
        (130, "L", 139),
        (300, "R", 141),
        (200, "L", 250),
    ):
        p = offset_from_segment(sample, seg, side, None, target=km * 1000.0)
        pts.append((f"seg{seg}-{side}-{km}km", p))
    # Near but not at the line's two ends.
    pts.append(("near-first-end-L", offset_from_segment(sample, 2, "L", 4000.0)))
    pts.append(("near-first-end-R", offset_from_segment(sample, 3, "R", 5000.0)))
    pts.append(("near-last-end-L", offset_from_segment(sample, 384, "L", 4000.0)))
    pts.append(("near-last-end-R", offset_from_segment(sample, 385, "R", 3000.0)))
    # Places.
    pts.append(("crimea-simferopol", (34.10, 44.95)))
    pts.append(("russia-belgorod", (36.59, 50.60)))
    pts.append(("kyiv", (30.52, 50.45)))
    pts.append(("black-sea", (32.0, 44.0)))
    pts.append(("poland-warsaw", (21.0, 52.2)))
    return pts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rust", action="store_true", help="print a Rust table")
    ap.add_argument("--steps", type=int, default=100, help="samples per segment")
    ap.add_argument("--only", help="only the points whose name contains this")
    args = ap.parse_args()

    sample = Sample()
    print(f"# geographiclib {geographiclib.__version__}, shapely {shapely.__version__}, "
          f"Python {sys.version.split()[0]}")
    print(f"# cut polygons' areas / largest border polygon's area = {sample.cut_check:.9f}")
    for name, foot in (("first", sample.foot_first), ("last", sample.foot_last)):
        d, i, t, pt = foot
        print(f"# line's {name} end -> ring segment {i} t={t:.6f} foot=({pt[1]:.6f}, "
              f"{pt[0]:.6f}) {d:.3f} m")
    thresholds = sorted({dm for _, dm, _ in sample.zones})
    rows = []
    for name, p in test_points(sample):
        if args.only and args.only not in name:
            continue
        d, side, zones = sample.place(p, steps=args.steps)
        other = sample.other_boundary_distance(p)
        warn = []
        if other < 2000.0:
            warn.append(f"{other:.0f} m from a non-line boundary")
        near_t = [t for t in thresholds if abs(d - t) < 100.0]
        if near_t:
            warn.append(f"within 100 m of threshold {near_t}")
        rows.append((name, p[1], p[0], d, side, zones))
        print(f"{name:24} {p[1]:.7f} {p[0]:.7f} {d:14.3f} {str(side):5} {','.join(zones)}"
              + (f"   !! {'; '.join(warn)}" if warn else f"   (other boundary {other/1000:.1f} km)"),
              flush=True)
    if args.rust:
        print()
        for name, lat, lon, d, side, zones in rows:
            side_s = f'Some("{side}")' if side else "None"
            zs = ", ".join(f'"{z}"' for z in zones)
            print(f'    ("{name}", {lat:.7f}, {lon:.7f}, {d:.3f}, {side_s}, &[{zs}]),')


if __name__ == "__main__":
    main()
