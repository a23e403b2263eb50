#!/usr/bin/env python3
"""PyOcto as a benchmark peer of truce's fusion.

Reads a simulator output directory (`truce sim --out DIR`: sensors.json,
observations.ndjson, truth.json), hands every arrival to the PyOcto phase associator
as a P pick, and scores the events it finds against the ground truth by the rules of
truce's own evaluation (crates/fusion/src/eval.rs):

* only launches, impacts and airbursts are true events;
* a found event and a true one may pair when their origin times differ by at most 5 s
  and their positions by at most 1,000 m (WGS 84 geodesic);
* pairs are taken nearest first (ties by true index, then found index), each event
  used at most once;
* precision is pairs over found events, recall is pairs whose true event was heard by
  at least `--min-heard` sensors over the true events so heard (either is 1 when its
  denominator is 0), F1 their harmonic mean; the median error is the element at
  round((n - 1) / 2) of the sorted pair distances.

PyOcto is given what a constant-speed associator can use: the sensors' registered
positions in a transverse-Mercator plane in kilometres (PyOcto's own helper), the
arrival times, and one sound speed, c = 331.3 * sqrt(1 + T / 273.15) m/s for the
scenario's temperature T as the truth file states it (the start weather). It knows
nothing of wind, of clock faults or of which sensor is misplaced. Depth is held to the first 100 m below the surface. Only P picks are made,
and every S requirement is zero, so the S speed plays no part.

The association runs in a child process under a time limit (`--time-limit`, 300 s by
default); when it runs out the peer reports no answer (`"answered": false`). Its cost is
the wall-clock and CPU time (all threads of the child, `time.process_time`) of the
associate call alone, divided by the number of picks. It runs one thread unless
`--threads` says otherwise, as truce's bench measures fusion on one.

Output: one JSON object on standard output (the figures, the settings used, the
versions of Python and of the packages); with
`--out FILE`, the events too (origin time, latitude, longitude, pick count).

Options `--set NAME=VALUE` override a setting (see DEFAULTS); `--tune` runs the grid
recorded in tools/pyocto-tuning.md over the given directories and prints its table;
`--score-events FILE` scores a `truce fuse` NDJSON file instead of running PyOcto (a
check that this scoring agrees with `truce eval`).
"""

import argparse
import base64
import datetime as dt
import itertools
import json
import math
import multiprocessing
import os
import sys
import time

# The settings chosen by the tuning (tools/pyocto-tuning.md). Distances in km, times in s.
DEFAULTS = {
    # Overlap of consecutive time blocks (tuned: 100, 160, 300; sensors hear to about
    # 50 km, 150 s of travel, but 100 s did as well for less).
    "time_before": 100.0,
    "time_slicing": 1200.0,
    # Seconds the velocity model adds to each predicted travel time during the search,
    # and the largest residual of a pick kept in an event. Not the 5-10 ms of the picks:
    # the model has no wind, and 4-8 m/s of it moves an arrival 20 km out by 0.7-1.4 s.
    "velocity_tolerance": 0.2,
    "pick_match_tolerance": 0.5,
    # Only sensors this close to a candidate volume take part in its association (not
    # tuned: a little past the range at which any sensor hears).
    "association_cutoff_km": 60.0,
    "min_node_size": 2.0,
    "min_node_size_location": 0.01,
    "min_interevent_time": 0.5,
    # P picks an event needs (every pick is P; S requirements are zero).
    "n_picks": 8,
    "n_p_picks": 8,
    "n_s_picks": 0,
    "n_p_and_s_picks": 0,
    "refinement_iterations": 3,
    # PyOcto's own values (not tuned).
    "location_split_depth": 6,
    "location_split_return": 4,
    "max_pick_overlap": 4,
    "min_pick_fraction": 0.0,
    # The search volume: the sensors' bounding box widened by this much on every side
    # (not tuned).
    "margin_km": 20.0,
    # Depth range (km below the surface): the surface, to within 100 m.
    "z_min_km": 0.0,
    "z_max_km": 0.1,
}

ACOUSTIC = ("launch", "impact", "airburst")
HEARING = ("acoustic", "seismic", "infrasound")
MATCH_WINDOW_S = 5.0
MATCH_DISTANCE_M = 1000.0


# ---------------------------------------------------------------------------- reading


def parse_time_ns(text):
    """An RFC 3339 timestamp (any number of fractional digits) as integer Unix nanoseconds."""
    text = text.strip()
    if text.endswith("Z") or text.endswith("z"):
        body, offset = text[:-1], 0
    else:
        sign_at = max(text.rfind("+"), text.rfind("-"))
        if sign_at <= 10:
            raise ValueError(f"no UTC offset in {text!r}")
        body, zone = text[:sign_at], text[sign_at:]
        hours, minutes = zone[1:].split(":")
        offset = (int(hours) * 60 + int(minutes)) * 60
        if zone[0] == "-":
            offset = -offset
    if "." in body:
        whole, fraction = body.split(".", 1)
    else:
        whole, fraction = body, ""
    seconds = dt.datetime.fromisoformat(whole + "+00:00").timestamp()
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return (int(round(seconds)) - offset) * 1_000_000_000 + nanos


def format_time_ns(ns):
    """Unix nanoseconds as RFC 3339 UTC with nine fractional digits."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def read_simulation(directory):
    """Sensors (id -> (lat, lon)), arrivals [(sensor, Unix ns)] and the truth file."""
    with open(os.path.join(directory, "sensors.json")) as f:
        registered = json.load(f)
    arrivals = []
    with open(os.path.join(directory, "observations.ndjson")) as f:
        for line in f:
            if not line.strip():
                continue
            payload = json.loads(base64.b64decode(json.loads(line)["payload"]))
            if not payload["kind"].endswith(".arrival"):
                continue
            arrivals.append((payload["sensor"], parse_time_ns(payload["data"]["arrival_time"])))
    with open(os.path.join(directory, "truth.json")) as f:
        truth = json.load(f)
    # The stations: every sensor that hears (so that one which heard nothing still counts
    # as silent), not the weather stations.
    heard = {a[0] for a in arrivals}
    sensors = {
        s["id"]: (s["position"]["lat"], s["position"]["lon"])
        for s in registered
        if s["kind"] in HEARING or s["id"] in heard
    }
    return sensors, arrivals, truth


def sound_speed_mps(temperature_c):
    return 331.3 * math.sqrt(1.0 + temperature_c / 273.15)


# ---------------------------------------------------------------------------- PyOcto


def associate(sensors, arrivals, speed_kmps, settings, threads):
    """Runs PyOcto; returns (events [(Unix ns, lat, lon, picks)], wall s, CPU s)."""
    import numpy as np
    import pandas as pd
    import pyocto

    ids = sorted(sensors)
    stations = pd.DataFrame(
        {
            "id": ids,
            "latitude": [sensors[i][0] for i in ids],
            "longitude": [sensors[i][1] for i in ids],
            "elevation": [0.0] * len(ids),
        }
    )
    crs = pyocto.OctoAssociator.get_crs(stations)
    # Arrival times as seconds after a whole second before the first, to keep precision.
    reference_ns = (min(a[1] for a in arrivals) // 1_000_000_000 - 1) * 1_000_000_000
    picks = pd.DataFrame(
        {
            "station": [a[0] for a in arrivals],
            "time": np.array([(a[1] - reference_ns) * 1e-9 for a in arrivals]),
            "phase": ["P"] * len(arrivals),
        }
    )
    model = pyocto.VelocityModel0D(
        p_velocity=speed_kmps,
        s_velocity=speed_kmps / 1.7,
        tolerance=settings["velocity_tolerance"],
        association_cutoff_distance=settings["association_cutoff_km"],
    )
    # A throwaway associator only to project the stations and find the volume.
    probe = pyocto.OctoAssociator((0, 1), (0, 1), (0, 1), model, 1.0, crs=crs)
    probe.transform_stations(stations)
    m = settings["margin_km"]
    xlim = (stations["x"].min() - m, stations["x"].max() + m)
    ylim = (stations["y"].min() - m, stations["y"].max() + m)
    associator = pyocto.OctoAssociator(
        xlim=xlim,
        ylim=ylim,
        zlim=(settings["z_min_km"], settings["z_max_km"]),
        velocity_model=model,
        time_before=settings["time_before"],
        min_node_size=settings["min_node_size"],
        min_node_size_location=settings["min_node_size_location"],
        pick_match_tolerance=settings["pick_match_tolerance"],
        min_interevent_time=settings["min_interevent_time"],
        max_pick_overlap=int(settings["max_pick_overlap"]),
        n_picks=int(settings["n_picks"]),
        n_p_picks=int(settings["n_p_picks"]),
        n_s_picks=int(settings["n_s_picks"]),
        n_p_and_s_picks=int(settings["n_p_and_s_picks"]),
        refinement_iterations=int(settings["refinement_iterations"]),
        time_slicing=settings["time_slicing"],
        location_split_depth=int(settings["location_split_depth"]),
        location_split_return=int(settings["location_split_return"]),
        min_pick_fraction=settings["min_pick_fraction"],
        n_threads=threads,
        crs=crs,
    )
    wall0, cpu0 = time.perf_counter(), time.process_time()
    events, _assignments = associator.associate(picks, stations)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    found = []
    if len(events) > 0:
        associator.transform_events(events)
        for _, e in events.iterrows():
            origin_ns = reference_ns + int(round(float(e["time"]) * 1e9))
            found.append((origin_ns, float(e["latitude"]), float(e["longitude"]), int(e["picks"])))
    return found, wall, cpu


def _child(connection, sensors, arrivals, speed_kmps, settings, threads):
    try:
        connection.send(("ok", associate(sensors, arrivals, speed_kmps, settings, threads)))
    except BaseException as e:  # reported to the parent, which decides
        connection.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        connection.close()


def associate_within(limit_s, sensors, arrivals, speed_kmps, settings, threads):
    """`associate` in a child process; None when it has not answered within `limit_s`."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(sender, sensors, arrivals, speed_kmps, settings, threads)
    )
    child.start()
    sender.close()
    answer = None
    if receiver.poll(limit_s):
        try:
            answer = receiver.recv()
        except EOFError:
            answer = ("error", "the associator died without answering")
    if answer is None:
        child.kill()
    child.join()
    if answer is None:
        return None
    status, value = answer
    if status != "ok":
        raise RuntimeError(value)
    return value


# ---------------------------------------------------------------------------- scoring


def score(truth, found, min_heard):
    """truce's matching and figures for `found` [(Unix ns, lat, lon, ...)]."""
    from pyproj import Geod

    earth = Geod(ellps="WGS84")
    truths = [t for t in truth["events"] if t["type"] in ACOUSTIC]
    truth_ns = [parse_time_ns(t["time"]) for t in truths]
    pairs = []
    for i, t in enumerate(truths):
        for j, f in enumerate(found):
            if abs((f[0] - truth_ns[i]) * 1e-9) > MATCH_WINDOW_S:
                continue
            _, _, d = earth.inv(t["position"]["lon"], t["position"]["lat"], f[2], f[1])
            if d <= MATCH_DISTANCE_M:
                pairs.append((d, i, j))
    pairs.sort()
    truth_used, found_used = set(), set()
    matches = []
    for d, i, j in pairs:
        if i in truth_used or j in found_used:
            continue
        truth_used.add(i)
        found_used.add(j)
        matches.append((d, i))
    locatable = sum(1 for t in truths if t.get("heard_by", 0) >= min_heard)
    matched_locatable = sum(1 for _, i in matches if truths[i].get("heard_by", 0) >= min_heard)
    precision = len(matches) / len(found) if found else 1.0
    recall = matched_locatable / locatable if locatable else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    errors = sorted(d for d, _ in matches)

    def quantile(q):
        if not errors:
            return None
        return errors[int(math.floor((len(errors) - 1) * q + 0.5))]

    return {
        "truth_events": len(truths),
        "truth_locatable": locatable,
        "min_heard": min_heard,
        "fused_events": len(found),
        "matched": len(matches),
        "matched_locatable": matched_locatable,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "error_median_m": quantile(0.5),
        "error_p90_m": quantile(0.9),
    }


def truce_events(path):
    """A `truce fuse` NDJSON file as [(Unix ns, lat, lon)], located events only."""
    out = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            if e.get("score") is None:
                continue
            loc = e["location"]
            out.append((parse_time_ns(e["origin_time"]), loc["lat"], loc["lon"]))
    return out


# ---------------------------------------------------------------------------- driving


def versions():
    """Python's and the peer's packages' versions, for the record."""
    from importlib import metadata

    found = {"python": sys.version.split()[0]}
    for package in ("pyocto", "numpy", "pandas", "pyproj"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def run_peer(directory, settings, limit_s, threads, min_heard, out=None):
    """The peer on one simulation: figures and settings as a dict."""
    sensors, arrivals, truth = read_simulation(directory)
    temperature = truth["weather"]["temperature_c"]
    speed = sound_speed_mps(temperature)
    report = {
        "peer": "pyocto",
        "scenario": truth.get("scenario"),
        "seed": truth.get("seed"),
        "picks": len(arrivals),
        "temperature_c": temperature,
        "sound_speed_mps": speed,
        "threads": threads,
        "time_limit_s": limit_s,
        "settings": settings,
        "versions": versions(),
    }
    if not arrivals:
        found, wall, cpu = [], 0.0, 0.0
    else:
        answer = associate_within(limit_s, sensors, arrivals, speed / 1000.0, settings, threads)
        if answer is None:
            report.update({"answered": False, "f1": None, "error_median_m": None})
            return report
        found, wall, cpu = answer
    report["answered"] = True
    report.update(score(truth, found, min_heard))
    n = max(len(arrivals), 1)
    report.update(
        {
            "wall_s": wall,
            "cpu_s": cpu,
            "wall_us_per_pick": wall * 1e6 / n,
            "cpu_us_per_pick": cpu * 1e6 / n,
        }
    )
    if out:
        with open(out, "w") as f:
            json.dump(
                [
                    {"origin_time": format_time_ns(e[0]), "lat": e[1], "lon": e[2], "picks": e[3]}
                    for e in found
                ],
                f,
                indent=1,
            )
            f.write("\n")
    return report


# The grid of the tuning (tools/pyocto-tuning.md): each stage varies some settings and
# keeps, for the next stage, the values with the best mean F1 over the directories.
TUNING_STAGES = [
    {
        "velocity_tolerance": [0.05, 0.2, 0.5, 1.0, 2.0],
        "pick_match_tolerance": [0.05, 0.2, 0.5, 1.0, 2.0],
    },
    {"n_picks": [4, 5, 6, 8], "min_pick_fraction": [0.0, 0.25]},
    {"min_node_size": [1.0, 2.0, 5.0, 10.0], "min_interevent_time": [0.5, 3.0]},
    {"min_node_size_location": [0.01, 0.05, 0.25, 1.5], "refinement_iterations": [1, 3, 5]},
    {"time_before": [100.0, 160.0, 300.0], "time_slicing": [300.0, 1200.0]},
    # Stage 2 kept the largest pick count it tried: past that edge, with the rest settled.
    {"n_picks": [7, 8, 10, 12]},
]


def run_separately(directory, settings, limit_s, threads, min_heard):
    """`run_peer` in a fresh interpreter (so that trials may run side by side)."""
    import subprocess

    command = [sys.executable, os.path.abspath(__file__), directory,
               "--time-limit", str(limit_s), "--threads", str(threads),
               "--min-heard", str(min_heard)]
    for name, value in settings.items():
        command += ["--set", f"{name}={value}"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def tune(directories, base, limit_s, threads, min_heard, jobs, first_stage=1):
    from concurrent.futures import ThreadPoolExecutor

    settings = dict(base)
    names_of = [os.path.basename(d.rstrip("/")) for d in directories]
    print("| stage | settings | " + " | ".join(names_of) + " | mean F1 | CPU µs/pick |")
    print("| --- | --- | " + " | ".join("---:" for _ in directories) + " | ---: | ---: |")
    pool = ThreadPoolExecutor(max_workers=jobs)
    for number, stage in enumerate(TUNING_STAGES, 1):
        if number < first_stage:
            continue
        names = list(stage)
        trials = []
        for values in itertools.product(*(stage[n] for n in names)):
            trial = dict(settings, **dict(zip(names, values)))
            if "n_picks" in names:
                trial["n_p_picks"] = trial["n_picks"]
            runs = [pool.submit(run_separately, d, trial, limit_s, threads, min_heard)
                    for d in directories]
            reports = [r.result() for r in runs]
            f1s = [r["f1"] if r["answered"] else None for r in reports]
            cost = [r["cpu_us_per_pick"] for r in reports if r["answered"]]
            mean = sum(f1s) / len(f1s) if None not in f1s else None
            mean_cost = sum(cost) / len(cost) if cost else None
            shown = ", ".join(f"{n}={v}" for n, v in zip(names, values))
            cells = " | ".join("no answer" if f is None else f"{f:.3f}" for f in f1s)
            print(f"| {number} | {shown} | {cells} | "
                  + ("-" if mean is None else f"{mean:.3f}") + " | "
                  + ("-" if mean_cost is None else f"{mean_cost:.0f}") + " |", flush=True)
            if mean is not None:
                trials.append((mean, mean_cost, trial))
        # Within 0.01 of the best mean F1 (about one event in a hundred), the cheapest;
        # the settings stay as they were when no trial answered everywhere.
        if trials:
            top = max(t[0] for t in trials)
            settings = min((t for t in trials if t[0] >= top - 0.01), key=lambda t: t[1])[2]
        print(f"| {number} | **kept** " + ", ".join(f"{n}={settings[n]}" for n in names)
              + " | " + " | ".join("" for _ in directories) + " | | |", flush=True)
    print(json.dumps(settings))


def parse_value(text):
    try:
        return int(text)
    except ValueError:
        return float(text)


def main():
    parser = argparse.ArgumentParser(
        description="PyOcto on a truce simulation, scored by truce's evaluation rules."
    )
    parser.add_argument("dirs", nargs="+", help="simulation directories (truce sim --out)")
    parser.add_argument("--out", help="write the events found (JSON) here")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a setting (see DEFAULTS in this file)")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds the association may take (default 300)")
    parser.add_argument("--threads", type=int, default=1, help="PyOcto threads (default 1)")
    parser.add_argument("--min-heard", type=int, default=6,
                        help="true events heard by fewer sensors do not count against recall")
    parser.add_argument("--tune", action="store_true", help="run the tuning grid")
    parser.add_argument("--jobs", type=int, default=1,
                        help="with --tune: trials run side by side (default 1)")
    parser.add_argument("--from-stage", type=int, default=1,
                        help="with --tune: skip the earlier stages (give their choices "
                             "with --set)")
    parser.add_argument("--score-events", metavar="FILE",
                        help="score a `truce fuse` NDJSON file instead of running PyOcto")
    args = parser.parse_args()

    settings = dict(DEFAULTS)
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in settings:
            parser.error(f"unknown setting {name!r}")
        settings[name] = parse_value(value)

    if args.tune:
        tune(args.dirs, settings, args.time_limit, args.threads, args.min_heard, args.jobs,
             args.from_stage)
        return
    if len(args.dirs) != 1:
        parser.error("one directory, unless --tune")
    if args.score_events:
        _, _, truth = read_simulation(args.dirs[0])
        print(json.dumps(score(truth, truce_events(args.score_events), args.min_heard)))
        return
    report = run_peer(args.dirs[0], settings, args.time_limit, args.threads, args.min_heard,
                      args.out)
    print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
