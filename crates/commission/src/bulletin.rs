//! The daily bulletin, in the manner of the OSCE mission's daily reports: the day's
//! violations by area (monitoring sector) and party, by party, clause, category, event type
//! and side of the line, the notable incidents, the escalations and their deadlines, and the
//! monitoring's restrictions (reporting gaps, revoked sensors, infrastructure outages); as a
//! JSON summary, an HTML page with a map drawn in the page (no tiles), GeoJSON and CSV.
//! Pure: the caller passes the findings (in their reviewed state), the Commission, the
//! agreement and what the log says of the day's restrictions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;
use serde_json::{Value, json};
use truce_agreement::{Agreement, Rule, Sector};
use truce_model::{Finding, SensorRevocation, Timestamp};

use crate::state::{Commission, Due};

/// A day's bulletin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bulletin {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The log size and results digest it rests on.
    pub log_size: u64,
    pub digest: String,
    pub findings: usize,
    pub by_party: BTreeMap<String, usize>,
    pub by_clause: BTreeMap<String, usize>,
    /// By the OSCE's kind of violation ([`category`]).
    pub by_category: BTreeMap<String, usize>,
    /// By the fused event's type.
    pub by_type: BTreeMap<String, usize>,
    /// By the side of the line the event lies on (`none` outside both areas).
    pub by_side: BTreeMap<String, usize>,
    /// By area: the name of the agreement's monitoring sector that holds the event
    /// ([`area`]; `none` when the agreement has no sectors).
    pub by_sector: BTreeMap<String, usize>,
    /// By area and party: `{"Donetsk": {"RU": 12, "UA": 9, "undetermined": 3}}`.
    pub by_area: BTreeMap<String, BTreeMap<String, usize>>,
    /// Strikes on protected sites, fire across the line, and every verified finding.
    pub notable: Vec<Value>,
    /// Escalations opened that day or about its findings, with their deadlines at the
    /// time of writing.
    pub escalations: Vec<Value>,
    /// The day's salvos and barrages (events from one place close in time, whose first
    /// round falls in the day): id, type, rounds, first, duration, party, position and
    /// findings, as `GET /v1/incidents` gives them at the time of writing.
    pub incidents: Vec<Value>,
    /// The monitoring's restrictions that day (`reporting_gaps`, `revocations`, `outages`).
    #[serde(flatten)]
    pub restrictions: Restrictions,
}

/// What the bulletin of a day rests on, besides the Commission.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// `YYYY-MM-DD` (UTC).
    pub date: &'a str,
    /// The log size and results digest it rests on.
    pub log_size: u64,
    pub digest: &'a str,
    /// Every finding, in its reviewed state.
    pub findings: &'a [Finding],
    /// The agreement: its sectors give the findings' areas, its sites the outages' names.
    pub agreement: Option<&'a Agreement>,
}

/// The monitoring's restrictions in a day, as the log records them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Restrictions {
    /// Sensors silent for [`GAP_S`] or more of the day (a passive sensor is also silent
    /// when it hears nothing, so a gap is a question to its operator, not proof of an
    /// outage).
    pub reporting_gaps: Vec<ReportingGap>,
    /// Sensors whose keys were revoked that day.
    pub revocations: Vec<Revocation>,
    /// Services reported out or degraded that day.
    pub outages: Vec<Outage>,
    /// Sensors fusion corrects or sets aside, as its health judgement stood at the time of
    /// writing (from the log prefix the bulletin rests on).
    pub sensor_health: Vec<SensorHealthNote>,
    /// The sound propagation fusion learned from the events, at the time of writing: the
    /// sound speed and wind with their σ (absent before any event constrained it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medium: Option<Value>,
}

/// A sensor whose arrivals fusion corrects (a clock offset or drift) or quarantines (a
/// spread no correction explains, a burst of false picks), and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SensorHealthNote {
    pub sensor: String,
    /// `clock_offset`, `clock_drift`, `inconsistent` or `bursting`.
    pub state: String,
    pub quarantined: bool,
    /// The correction subtracted from its reported times at the latest residual, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction_s: Option<f64>,
    /// How many arrivals it had logged when it entered that state, and has logged now.
    pub since_arrivals: usize,
    pub arrivals: usize,
    pub reason: String,
}

/// A sensor's key revoked (a `key-revocation` entry of the log).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Revocation {
    pub sensor: String,
    pub kind: String,
    pub operator: String,
    pub revoked_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The account that revoked it, when the entry names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

/// An `infrastructure.status` report of a service out or degraded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outage {
    /// When it was observed.
    pub at: Timestamp,
    /// The reporting sensor.
    pub sensor: String,
    pub site: String,
    /// The site's name and area, when the agreement lists it as a protected site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// `power`, `water`, `gas` or `heating`.
    pub service: String,
    /// `outage` or `degraded`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub households_affected: Option<u64>,
}

/// The statuses a bulletin lists as outages.
pub const OUTAGE_STATUSES: [&str; 2] = ["outage", "degraded"];

/// The shortest silence a bulletin lists: six hours.
pub const GAP_S: i64 = 6 * 3600;

/// A sensor's longest silence in a day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportingGap {
    pub sensor: String,
    pub kind: String,
    pub operator: String,
    /// Its observations that day.
    pub reports: usize,
    /// The longest stretch without one (from the day's start, between two, or until its
    /// end), in seconds, and when it began and ended.
    pub silent_s: i64,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// The sensors (id, kind, operator) silent for [`GAP_S`] or more of `date`, from the times
/// of every observation (sensor id, observed at); the longest silence first. A sensor whose
/// key is revoked (`revoked`: when, for the sensors whose revocation is still in force) is
/// expected to report only until then: what follows is listed as its revocation, not as a
/// silence.
pub fn reporting_gaps(
    sensors: &[(String, String, String)],
    reports: &[(String, Timestamp)],
    revoked: &BTreeMap<String, Timestamp>,
    date: &str,
) -> Vec<ReportingGap> {
    let Some((start, day_end)) = day(date) else {
        return Vec::new();
    };
    let mut times: BTreeMap<&str, Vec<Timestamp>> = BTreeMap::new();
    for (sensor, at) in reports {
        if *at >= start && *at < day_end {
            times.entry(sensor.as_str()).or_default().push(*at);
        }
    }
    let mut gaps: Vec<ReportingGap> = sensors
        .iter()
        .filter_map(|(id, kind, operator)| {
            let end = revoked.get(id).map_or(day_end, |at| (*at).min(day_end));
            if end <= start {
                return None;
            }
            let mut at = times.remove(id.as_str()).unwrap_or_default();
            at.retain(|t| *t < end);
            at.sort();
            let reports = at.len();
            let bounds: Vec<Timestamp> = std::iter::once(start)
                .chain(at)
                .chain(std::iter::once(end))
                .collect();
            let (from, until) = bounds
                .windows(2)
                .map(|w| (w[0], w[1]))
                .max_by_key(|(a, b)| b.unix_nanos() - a.unix_nanos())?;
            let silent_s = (until.unix_nanos() - from.unix_nanos()) / 1_000_000_000;
            (silent_s >= GAP_S).then(|| ReportingGap {
                sensor: id.clone(),
                kind: kind.clone(),
                operator: operator.clone(),
                reports,
                silent_s,
                from,
                until,
            })
        })
        .collect();
    gaps.sort_by(|a, b| b.silent_s.cmp(&a.silent_s).then(a.sensor.cmp(&b.sensor)));
    gaps
}

/// The revocations of `date` among every revocation of the log, each with its sensor's kind
/// and operator from the registry (`sensors`: id, kind, operator); in time order.
pub fn revocations(
    sensors: &[(String, String, String)],
    revoked: &[SensorRevocation],
    date: &str,
) -> Vec<Revocation> {
    let Some((start, end)) = day(date) else {
        return Vec::new();
    };
    let mut out: Vec<Revocation> = revoked
        .iter()
        .filter(|r| r.revoked_at >= start && r.revoked_at < end)
        .map(|r| {
            let (kind, operator) = sensors
                .iter()
                .find(|(id, ..)| *id == r.sensor)
                .map(|(_, kind, operator)| (kind.clone(), operator.clone()))
                .unwrap_or_default();
            Revocation {
                sensor: r.sensor.clone(),
                kind,
                operator,
                revoked_at: r.revoked_at,
                reason: r.reason.clone(),
                revoked_by: r.revoked_by.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.revoked_at, &a.sensor).cmp(&(b.revoked_at, &b.sensor)));
    out
}

/// The outages of `date` among `reports` (every `infrastructure.status` observation of the
/// log, whatever its status): the services out or degraded, each with its site's name and
/// area when the agreement lists the site; in time order.
pub fn outages(reports: &[Outage], date: &str, agreement: Option<&Agreement>) -> Vec<Outage> {
    let Some((start, end)) = day(date) else {
        return Vec::new();
    };
    let mut out: Vec<Outage> = reports
        .iter()
        .filter(|o| o.at >= start && o.at < end && OUTAGE_STATUSES.contains(&o.status.as_str()))
        .map(|o| {
            let site = agreement.and_then(|a| Some((a, a.site(&o.site)?)));
            Outage {
                site_name: site.map(|(_, s)| s.name.clone()),
                area: site.and_then(|(a, s)| Some(a.sector_at(s.centre())?.name.clone())),
                ..o.clone()
            }
        })
        .collect();
    out.sort_by(|a, b| (a.at, &a.site, &a.service).cmp(&(b.at, &b.site, &b.service)));
    out
}

/// The kind of violation in the OSCE's terms, from the finding's clause rule and its
/// event's type: `explosions` (impacts, airbursts and explosions of undetermined kind) and
/// `launches` for fire, `protected_site_strikes`, `weapons_in_withdrawal_zones`,
/// `buffer_zone_entries` and `airspace_crossings`; `other` for anything else.
pub fn category(f: &Finding) -> &'static str {
    match Rule::ALL.into_iter().find(|r| r.as_str() == f.rule) {
        Some(Rule::ProtectedSiteStrike) => "protected_site_strikes",
        Some(Rule::WeaponInWithdrawalZone) => "weapons_in_withdrawal_zones",
        Some(Rule::EntryIntoBufferZone) => "buffer_zone_entries",
        Some(Rule::AirspaceCrossing) => "airspace_crossings",
        Some(Rule::NoFire | Rule::CrossLineFire) if f.event_type.is_explosion() => "explosions",
        Some(Rule::NoFire | Rule::CrossLineFire) if f.event_type.is_fire() => "launches",
        _ => "other",
    }
}

/// The area a finding counts under when the agreement has no sectors.
pub const NO_AREA: &str = "none";

/// The monitoring sector that holds a finding's location, if the agreement has sectors.
pub fn sector<'a>(agreement: Option<&'a Agreement>, f: &Finding) -> Option<&'a Sector> {
    agreement?.sector_at([f.location.lon, f.location.lat])
}

/// The area a finding counts under: its sector's name, or [`NO_AREA`].
pub fn area(agreement: Option<&Agreement>, f: &Finding) -> String {
    sector(agreement, f).map_or_else(|| NO_AREA.to_string(), |s| s.name.clone())
}

/// The start and end (exclusive) of a UTC day, from `YYYY-MM-DD`.
pub fn day(date: &str) -> Option<(Timestamp, Timestamp)> {
    let start = Timestamp::parse(&format!("{date}T00:00:00Z")).ok()?;
    if start.to_string().get(..10) != Some(date) {
        return None;
    }
    Some((start, start.plus_nanos(86_400_000_000_000)))
}

/// The party a finding counts under: its attributed party, or `undetermined`.
pub fn party(f: &Finding) -> String {
    f.attribution
        .party
        .clone()
        .unwrap_or_else(|| "undetermined".into())
}

/// The day's findings: those whose time falls in it.
pub fn of_day<'a>(findings: &'a [Finding], date: &str) -> Vec<&'a Finding> {
    let Some((from, to)) = day(date) else {
        return Vec::new();
    };
    findings
        .iter()
        .filter(|f| f.time >= from && f.time < to)
        .collect()
}

/// Builds the bulletin of the inputs' day, as the Commission stands at `now`.
pub fn build(
    inputs: Inputs,
    commission: &Commission,
    now: Timestamp,
    restrictions: Restrictions,
) -> Bulletin {
    let Inputs {
        date,
        log_size,
        digest,
        findings,
        agreement,
    } = inputs;
    let todays = of_day(findings, date);
    let count = |key: &dyn Fn(&Finding) -> String| {
        let mut m = BTreeMap::new();
        for f in &todays {
            *m.entry(key(f)).or_insert(0) += 1;
        }
        m
    };
    let areas: Vec<String> = todays.iter().map(|f| area(agreement, f)).collect();
    let mut by_area: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (f, a) in todays.iter().zip(&areas) {
        *by_area
            .entry(a.clone())
            .or_default()
            .entry(party(f))
            .or_insert(0) += 1;
    }
    let by_sector = by_area
        .iter()
        .map(|(a, parties)| (a.clone(), parties.values().sum()))
        .collect();
    let notable = todays
        .iter()
        .filter(|f| {
            matches!(f.rule.as_str(), "protected_site_strike" | "cross_line_fire")
                || f.state == truce_model::VerificationState::Verified
        })
        .map(|f| {
            json!({"finding": f.id, "time": f.time, "clause": f.clause, "rule": f.rule,
                "party": party(f), "area": area(agreement, f), "state": f.state, "detail": f.detail,
                "sites": f.protected_sites.iter().map(|s| &s.id).collect::<Vec<_>>()})
        })
        .collect();
    let deadlines = commission.deadlines(now);
    let escalations = match day(date) {
        Some((from, to)) => commission
            .escalations()
            .iter()
            .filter(|(_, r)| {
                (r.opened.at >= from && r.opened.at < to)
                    || r.escalation
                        .findings
                        .iter()
                        .any(|id| todays.iter().any(|f| f.id == *id))
            })
            .map(|(index, r)| {
                let due: Vec<&Due> = deadlines
                    .iter()
                    .filter(|d| d.escalation == *index)
                    .collect();
                json!({"escalation": index, "commitment": r.escalation.commitment,
                    "guarantor": r.escalation.guarantor, "kind": r.escalation.kind,
                    "reason": r.escalation.reason, "acknowledged": r.acknowledged.is_some(),
                    "answered": r.response.is_some(), "deadlines": due})
            })
            .collect(),
        None => Vec::new(),
    };
    Bulletin {
        date: date.to_string(),
        log_size,
        digest: digest.to_string(),
        findings: todays.len(),
        by_party: count(&party),
        by_clause: count(&|f| f.clause.clone()),
        by_category: count(&|f| category(f).to_string()),
        by_type: count(&|f| f.event_type.as_str().to_string()),
        by_side: count(&|f| f.side.clone().unwrap_or_else(|| "none".into())),
        by_sector,
        by_area,
        notable,
        escalations,
        incidents: Vec::new(),
        restrictions,
    }
}

/// The day's findings as a GeoJSON FeatureCollection of points, each with its category,
/// sector (id) and area (the sector's name, as the bulletin counts it).
pub fn geojson(findings: &[&Finding], agreement: Option<&Agreement>) -> Value {
    let features: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({"type": "Feature",
                "geometry": {"type": "Point", "coordinates": [f.location.lon, f.location.lat]},
                "properties": {"id": f.id, "time": f.time, "clause": f.clause, "rule": f.rule,
                    "category": category(f), "party": party(f), "state": f.state,
                    "event": f.event, "distance_to_line_m": f.distance_to_line_m,
                    "sector": sector(agreement, f).map(|s| &s.id), "area": area(agreement, f)}})
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The day's findings as CSV, one row each; the category, sector (id) and area (the
/// sector's name) last.
pub fn csv(findings: &[&Finding], agreement: Option<&Agreement>) -> String {
    let mut out = String::from(
        "id,time,clause,rule,event_type,party,probability,state,lat,lon,distance_to_line_m,side,event,category,sector,area\n",
    );
    for f in findings {
        let p = party(f);
        let probability = f
            .attribution
            .probabilities
            .get(&p)
            .map(|q| format!("{q:.4}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{:.6},{:.6},{:.0},{},{},{},{},{}",
            csv_field(&f.id),
            f.time,
            csv_field(&f.clause),
            csv_field(&f.rule),
            f.event_type.as_str(),
            csv_field(&p),
            probability,
            crate::name(&f.state),
            f.location.lat,
            f.location.lon,
            f.distance_to_line_m,
            csv_field(f.side.as_deref().unwrap_or("")),
            csv_field(&f.event),
            category(f),
            csv_field(sector(agreement, f).map_or("", |s| s.id.as_str())),
            csv_field(&area(agreement, f)),
        );
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes a table: a header row, then the rows (each cell already HTML).
fn table(page: &mut String, headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    page.push_str("<table><tr>");
    for h in headers {
        let _ = write!(page, "<th>{}</th>", escape(h));
    }
    page.push_str("</tr>");
    for row in rows {
        page.push_str("<tr>");
        for cell in row {
            let _ = write!(page, "<td>{cell}</td>");
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
}

/// A list's table, or a line saying there is nothing to list.
fn table_or_none(page: &mut String, headers: &[&str], rows: Vec<Vec<String>>, none: &str) {
    if rows.is_empty() {
        let _ = write!(page, "<p>{}</p>", escape(none));
    } else {
        table(page, headers, rows);
    }
}

/// The bulletin as a printable HTML page, with the agreement's contact line, its sectors'
/// starts and the day's findings drawn as an SVG map.
pub fn html(b: &Bulletin, findings: &[&Finding], agreement: Option<&Agreement>) -> String {
    let title = agreement.map_or("truce", |a| a.title.as_str());
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — daily \
         bulletin {}</title><style>body{{font:14px/1.4 system-ui,sans-serif;max-width:60em;\
         margin:2em auto;padding:0 1em}}table{{border-collapse:collapse;margin:.5em 0 1em}}\
         td,th{{border:1px solid #bbb;padding:.2em .6em;text-align:left}}svg{{border:1px solid \
         #bbb;background:#f6f4ef}}@media print{{body{{margin:0}}}}</style></head><body>",
        escape(title),
        escape(&b.date)
    );
    let _ = write!(
        page,
        "<h1>Daily bulletin, {}</h1><p>{}. Based on the log at size {} (results digest \
         <code>{}</code>). {} violation(s) recorded.</p>",
        escape(&b.date),
        escape(title),
        b.log_size,
        escape(&b.digest),
        b.findings
    );
    page.push_str(&svg_map(findings, agreement));
    // By area and party, as the OSCE's reports gave them: one row per area, one column per
    // party (attribution), and the area's total.
    let parties: BTreeSet<&String> = b.by_area.values().flat_map(|p| p.keys()).collect();
    let mut headers = vec!["area"];
    headers.extend(parties.iter().map(|p| p.as_str()));
    headers.push("total");
    page.push_str(
        "<h2>By area and party</h2><p>Areas are the agreement's monitoring sectors along the \
         contact line; a violation counts in the sector of the line nearest to it.</p>",
    );
    let rows = b.by_area.iter().map(|(area, counts)| {
        let mut row = vec![escape(area)];
        row.extend(
            parties
                .iter()
                .map(|p| counts.get(*p).copied().unwrap_or(0).to_string()),
        );
        row.push(b.by_sector.get(area).copied().unwrap_or(0).to_string());
        row
    });
    table(&mut page, &headers, rows);
    for (heading, key, counts) in [
        ("By party (attribution)", "party", &b.by_party),
        ("By clause", "clause", &b.by_clause),
        ("By kind of violation", "kind", &b.by_category),
        ("By type of event", "event type", &b.by_type),
        ("By side of the contact line", "side", &b.by_side),
    ] {
        let _ = write!(page, "<h2>{heading}</h2>");
        // Kinds and event types are words (`protected_site_strikes`); ids stay as they are.
        let words = matches!(key, "kind" | "event type");
        let rows = counts.iter().map(|(k, v)| {
            let k = if words {
                k.replace('_', " ")
            } else {
                k.clone()
            };
            vec![escape(&k), v.to_string()]
        });
        table(&mut page, &[key, "violations"], rows);
    }
    page.push_str("<h2>Notable incidents</h2>");
    let rows = b.notable.iter().map(|n| {
        let s = |k: &str| escape(n[k].as_str().unwrap_or(""));
        vec![
            s("time"),
            format!("{} ({})", s("clause"), s("rule")),
            s("area"),
            s("party"),
            s("state"),
            s("detail"),
        ]
    });
    table(
        &mut page,
        &["time", "clause", "area", "party", "state", "detail"],
        rows,
    );
    page.push_str(
        "<h2>Incidents</h2><p>Salvos and barrages: rounds fired from one place, or landing on \
         one place, close in time, each reviewed as a whole.</p>",
    );
    let rows = b
        .incidents
        .iter()
        .map(|i| {
            let states = i["finding_states"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                escape(i["id"].as_str().unwrap_or("")),
                escape(i["type"].as_str().unwrap_or("")),
                i["rounds"].to_string(),
                escape(i["first"].as_str().unwrap_or("")),
                format!("{:.0} s", i["duration_s"].as_f64().unwrap_or(0.0)),
                escape(i["party"].as_str().unwrap_or("undetermined")),
                format!(
                    "{:.4}, {:.4}",
                    i["position"]["lat"].as_f64().unwrap_or(f64::NAN),
                    i["position"]["lon"].as_f64().unwrap_or(f64::NAN)
                ),
                states,
            ]
        })
        .collect();
    table_or_none(
        &mut page,
        &[
            "incident", "type", "rounds", "first", "duration", "party", "position", "findings",
        ],
        rows,
        "No salvo or barrage that day.",
    );
    page.push_str("<h2>Escalations</h2>");
    let rows = b.escalations.iter().map(|e| {
        // Each deadline as it stood when the bulletin was made, with its logged lapse.
        let deadlines: Vec<String> = e["deadlines"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let mut text = format!(
                    "{} by {}: {}",
                    d["action"].as_str().unwrap_or("?"),
                    d["due"].as_str().unwrap_or("?"),
                    d["status"].as_str().unwrap_or("?").replace('_', " ")
                );
                if let Some(index) = d["lapse"].as_u64() {
                    let _ = write!(text, ", lapse logged in entry {index}");
                }
                escape(&text)
            })
            .collect();
        let s = |k: &str| escape(e[k].as_str().unwrap_or(""));
        vec![
            e["escalation"].to_string(),
            s("commitment"),
            s("guarantor"),
            s("kind"),
            e["acknowledged"].to_string(),
            e["answered"].to_string(),
            deadlines.join("<br>"),
        ]
    });
    table(
        &mut page,
        &[
            "escalation",
            "commitment",
            "guarantor",
            "kind",
            "acknowledged",
            "answered",
            "deadlines",
        ],
        rows,
    );
    let r = &b.restrictions;
    let _ = write!(
        page,
        "<h2>Restrictions</h2><h3>Sensor reporting gaps</h3><p>Sensors silent for {} hours or \
         more of the day. A passive sensor is also silent when it hears nothing: each gap is a \
         question to its operator, not proof of an outage.</p>",
        GAP_S / 3600
    );
    let rows = r.reporting_gaps.iter().map(|g| {
        vec![
            escape(&g.sensor),
            escape(&g.kind),
            escape(&g.operator),
            g.reports.to_string(),
            format!("{:.1} h", g.silent_s as f64 / 3600.0),
            g.from.to_string(),
            g.until.to_string(),
        ]
    });
    table(
        &mut page,
        &[
            "sensor", "kind", "operator", "reports", "silent", "from", "until",
        ],
        rows,
    );
    page.push_str("<h3>Sensors revoked</h3>");
    let rows = r
        .revocations
        .iter()
        .map(|v| {
            vec![
                v.revoked_at.to_string(),
                escape(&v.sensor),
                escape(&v.kind),
                escape(&v.operator),
                escape(v.revoked_by.as_deref().unwrap_or("")),
                escape(v.reason.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    table_or_none(
        &mut page,
        &["revoked at", "sensor", "kind", "operator", "by", "reason"],
        rows,
        "No sensor was revoked.",
    );
    page.push_str("<h3>Infrastructure outages</h3>");
    let rows = r
        .outages
        .iter()
        .map(|o| {
            let site = match &o.site_name {
                Some(name) => format!("{} ({})", escape(name), escape(&o.site)),
                None => escape(&o.site),
            };
            vec![
                o.at.to_string(),
                site,
                escape(o.area.as_deref().unwrap_or("")),
                escape(&o.service),
                escape(&o.status),
                o.households_affected
                    .map_or(String::new(), |h| h.to_string()),
                escape(&o.sensor),
            ]
        })
        .collect();
    table_or_none(
        &mut page,
        &[
            "time",
            "site",
            "area",
            "service",
            "status",
            "households affected",
            "reported by",
        ],
        rows,
        "No outage was reported.",
    );
    page.push_str(
        "<h3>Sensors corrected or set aside</h3><p>As fusion's sensor health stood at the time \
         of writing: a sensor whose clock is off has the estimated offset subtracted from its \
         times; a sensor quarantined (its times scattered beyond any correction, or bursting \
         with false picks) has its arrivals kept in the log and left out of the events.</p>",
    );
    let rows = r
        .sensor_health
        .iter()
        .map(|h| {
            let action = if h.quarantined {
                "quarantined".to_string()
            } else {
                h.correction_s
                    .map_or(String::new(), |c| format!("corrected by {:.1} ms", c * 1e3))
            };
            vec![
                escape(&h.sensor),
                escape(&h.state),
                action,
                format!("{} of {}", h.since_arrivals, h.arrivals),
                escape(&h.reason),
            ]
        })
        .collect();
    table_or_none(
        &mut page,
        &["sensor", "state", "action", "since arrival", "why"],
        rows,
        "Every sensor judged is used as it reports.",
    );
    if let Some(m) = &r.medium {
        let f = |k: &str| m[k].as_f64().unwrap_or(f64::NAN);
        let _ = write!(
            page,
            "<h3>Sound propagation</h3><p>Learned from {} events: sound speed {:.1} ± {:.1} m/s, \
             wind {:.1} m/s from {:.0}° (east {:.1} ± {:.1}, north {:.1} ± {:.1} m/s).</p>",
            m["events"],
            f("sound_speed_mps"),
            f("sound_speed_sigma_mps"),
            f("wind_speed_mps"),
            f("wind_from_deg"),
            f("wind_east_mps"),
            f("wind_east_sigma_mps"),
            f("wind_north_mps"),
            f("wind_north_sigma_mps"),
        );
    }
    page.push_str("</body></html>\n");
    page
}

/// An equirectangular SVG map of the line, the sectors' starts (labelled) and the findings
/// (coloured by party).
fn svg_map(findings: &[&Finding], agreement: Option<&Agreement>) -> String {
    let line = agreement.map_or(&[][..], |a| a.line.coords());
    let sectors = agreement.map_or(&[][..], |a| a.sectors.as_slice());
    let points = line
        .iter()
        .copied()
        .chain(findings.iter().map(|f| [f.location.lon, f.location.lat]));
    let (mut w, mut s, mut e, mut n) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
    for [lon, lat] in points {
        w = w.min(lon);
        e = e.max(lon);
        s = s.min(lat);
        n = n.max(lat);
    }
    if w > e {
        return String::new();
    }
    let (width, height) = (800.0, 500.0);
    let k = ((s + n) / 2.0).to_radians().cos();
    let scale = (width / ((e - w) * k).max(1e-9)).min(height / (n - s).max(1e-9));
    let xy = |lon: f64, lat: f64| ((lon - w) * k * scale, (n - lat) * scale);
    let mut svg = format!(
        "<svg viewBox=\"-10 -10 {} {}\" width=\"{width}\" role=\"img\" aria-label=\"map\">",
        width + 20.0,
        height + 20.0
    );
    let path: Vec<String> = line
        .iter()
        .map(|p| {
            let (x, y) = xy(p[0], p[1]);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(
        svg,
        "<polyline class=\"contact-line\" points=\"{}\" fill=\"none\" stroke=\"#b00\" stroke-width=\"2\"/>",
        path.join(" ")
    );
    for sector in sectors {
        let (x, y) = xy(sector.begins.foot[0], sector.begins.foot[1]);
        let _ = write!(
            svg,
            "<g class=\"sector\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"6\" fill=\"#555\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#555\">{}</text></g>",
            x - 3.0,
            y - 3.0,
            x + 6.0,
            y - 4.0,
            escape(&sector.name)
        );
    }
    for f in findings {
        let (x, y) = xy(f.location.lon, f.location.lat);
        let colour = match f.attribution.party.as_deref() {
            Some("RU") => "#c33",
            Some("UA") => "#36c",
            Some(_) => "#393",
            None => "#888",
        };
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{colour}\"><title>{} {} {}</title></circle>",
            escape(&f.clause),
            escape(&f.rule),
            f.time
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triggers::tests::{finding, sample};

    /// The sample agreement (examples/agreement), with its six monitoring sectors.
    pub(crate) fn agreement() -> Agreement {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/agreement/agreement.toml"
        );
        Agreement::load(std::path::Path::new(path)).unwrap()
    }

    fn inputs<'a>(
        date: &'a str,
        findings: &'a [Finding],
        agreement: Option<&'a Agreement>,
    ) -> Inputs<'a> {
        Inputs {
            date,
            log_size: 10,
            digest: "d",
            findings,
            agreement,
        }
    }

    #[test]
    fn a_day_counts_its_own_findings_only_by_area_party_and_kind() {
        let mut findings = vec![
            // Near Horlivka: the Donetsk sector.
            finding("a", "cross_line_fire", Some("RU"), "2026-01-08T02:00:00Z"),
            finding("b", "no_fire", None, "2026-01-08T23:59:59Z"),
            finding("c", "no_fire", Some("UA"), "2026-01-09T00:00:00Z"),
            finding("d", "no_fire", Some("UA"), "2026-01-08T12:00:00Z"),
        ];
        // An impact near Kherson, and a launch from near Kupiansk.
        findings[1].location = truce_model::Position::new(46.70, 32.80);
        findings[1].event_type = truce_model::EventType::Impact;
        findings[0].detail = "fired <across> the line & onto Kostiantynivka".into();
        findings[3].location = truce_model::Position::new(49.70, 37.70);
        let a = agreement();
        let c = Commission::new(sample());
        let now = Timestamp::parse("2026-01-09T06:00:00Z").unwrap();
        let b = build(
            inputs("2026-01-08", &findings, Some(&a)),
            &c,
            now,
            Restrictions::default(),
        );
        assert_eq!(b.findings, 3);
        assert_eq!(b.by_party.get("RU"), Some(&1));
        assert_eq!(b.by_party.get("undetermined"), Some(&1));
        assert_eq!(b.by_party.get("UA"), Some(&1));
        let counts = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
            pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        assert_eq!(
            b.by_area,
            BTreeMap::from([
                ("Donetsk".to_string(), counts(&[("RU", 1)])),
                ("Kharkiv".to_string(), counts(&[("UA", 1)])),
                ("Kherson".to_string(), counts(&[("undetermined", 1)])),
            ])
        );
        assert_eq!(
            b.by_sector,
            counts(&[("Donetsk", 1), ("Kharkiv", 1), ("Kherson", 1)])
        );
        assert_eq!(b.by_category, counts(&[("explosions", 1), ("launches", 2)]));
        assert_eq!(b.notable.len(), 1, "the cross-line fire");
        assert_eq!(b.notable[0]["area"], "Donetsk");
        let todays = of_day(&findings, "2026-01-08");
        let csv = csv(&todays, Some(&a));
        assert_eq!(csv.lines().count(), 4);
        let first = csv.lines().nth(1).unwrap();
        assert!(first.starts_with("a,2026-01-08T02:00:00Z,2,cross_line_fire,launch,RU,"));
        assert!(first.ends_with(",launches,donetsk,Donetsk"), "{first}");
        let geo = geojson(&todays, Some(&a));
        let features = geo["features"].as_array().unwrap();
        assert_eq!(features.len(), 3);
        assert_eq!(features[1]["properties"]["sector"], "kherson");
        assert_eq!(features[1]["properties"]["area"], "Kherson");
        assert_eq!(features[1]["properties"]["category"], "explosions");
        let page = html(&b, &todays, Some(&a));
        assert!(page.contains("class=\"contact-line\""));
        assert_eq!(page.matches("<circle").count(), 3);
        assert_eq!(page.matches("class=\"sector\"").count(), 6);
        assert!(page.contains(&a.title));
        // The table by area and party: a column per party, and each area's total.
        assert!(page.contains(
            "<tr><th>area</th><th>RU</th><th>UA</th><th>undetermined</th><th>total</th></tr>"
        ));
        assert!(page.contains("<tr><td>Donetsk</td><td>1</td><td>0</td><td>0</td><td>1</td></tr>"));
        assert!(page.contains("<td>explosions</td><td>1</td>"));
        assert!(page.contains("No sensor was revoked."));
        assert!(day("2026-02-30").is_none());
        assert!(day("yesterday").is_none());

        // Without an agreement (or without sectors) every finding counts under `none`.
        let b = build(
            inputs("2026-01-08", &findings, None),
            &c,
            now,
            Restrictions::default(),
        );
        assert_eq!(b.by_sector, counts(&[(NO_AREA, 3)]));
        assert!(csv_of_none(&todays).ends_with(",launches,,none"));
        let page = html(&b, &todays, None);
        assert!(page.contains("<title>truce — daily bulletin 2026-01-08</title>"));
        assert!(page.contains("fired &lt;across&gt; the line &amp; onto Kostiantynivka"));
    }

    fn csv_of_none(findings: &[&Finding]) -> String {
        csv(findings, None).lines().nth(1).unwrap().to_string()
    }

    #[test]
    fn each_rule_and_event_type_has_its_kind_of_violation() {
        use truce_model::EventType as E;
        for (rule, event, kind) in [
            ("no_fire", E::Launch, "launches"),
            ("no_fire", E::Impact, "explosions"),
            ("no_fire", E::Airburst, "explosions"),
            ("cross_line_fire", E::Explosion, "explosions"),
            ("cross_line_fire", E::Launch, "launches"),
            ("protected_site_strike", E::Impact, "protected_site_strikes"),
            (
                "weapon_in_withdrawal_zone",
                E::WeaponPresence,
                "weapons_in_withdrawal_zones",
            ),
            ("entry_into_buffer_zone", E::Movement, "buffer_zone_entries"),
            ("airspace_crossing", E::AirspaceEntry, "airspace_crossings"),
            ("no_fire", E::Fire, "other"),
            ("a_future_rule", E::Launch, "other"),
        ] {
            let mut f = finding("a", rule, None, "2026-01-08T02:00:00Z");
            f.event_type = event;
            assert_eq!(category(&f), kind, "{rule} {event:?}");
        }
    }

    #[test]
    fn restrictions_are_the_days_revocations_and_outages() {
        let t = |s: &str| Timestamp::parse(s).unwrap();
        let sensors = vec![(
            "ua-ac-001".to_string(),
            "acoustic".to_string(),
            "UA".to_string(),
        )];
        let revoked = |sensor: &str, at: &str| SensorRevocation {
            sensor: sensor.into(),
            public_key: "k".into(),
            revoked_at: t(at),
            reason: Some("key lost".into()),
            revoked_by: Some("admin".into()),
        };
        let got = revocations(
            &sensors,
            &[
                revoked("ua-ac-001", "2026-01-08T10:00:00Z"),
                revoked("gone", "2026-01-08T09:00:00Z"),
                revoked("ua-ac-001", "2026-01-09T00:00:00Z"),
            ],
            "2026-01-08",
        );
        let who: Vec<(&str, &str, &str)> = got
            .iter()
            .map(|r| (r.sensor.as_str(), r.kind.as_str(), r.operator.as_str()))
            .collect();
        assert_eq!(who, [("gone", "", ""), ("ua-ac-001", "acoustic", "UA")]);
        assert_eq!(got[1].reason.as_deref(), Some("key lost"));

        let status = |site: &str, status: &str, at: &str| Outage {
            at: t(at),
            sensor: "ua-inf-001".into(),
            site: site.into(),
            site_name: None,
            area: None,
            service: "power".into(),
            status: status.into(),
            households_affected: Some(1200),
        };
        let reports = [
            status("zaporizhzhia-npp", "outage", "2026-01-08T14:00:00Z"),
            status("zaporizhzhia-npp", "operational", "2026-01-08T15:00:00Z"),
            status("a-village-substation", "degraded", "2026-01-08T06:00:00Z"),
            status("zaporizhzhia-npp", "outage", "2026-01-07T23:00:00Z"),
        ];
        let a = agreement();
        let got = outages(&reports, "2026-01-08", Some(&a));
        let listed: Vec<(&str, &str, Option<&str>)> = got
            .iter()
            .map(|o| (o.site.as_str(), o.status.as_str(), o.area.as_deref()))
            .collect();
        assert_eq!(
            listed,
            [
                ("a-village-substation", "degraded", None),
                ("zaporizhzhia-npp", "outage", Some("Zaporizhzhia")),
            ]
        );
        assert_eq!(
            got[1].site_name.as_deref(),
            a.site("zaporizhzhia-npp").map(|s| s.name.as_str())
        );

        // Both in the bulletin's JSON beside the reporting gaps, and in its page.
        let c = Commission::new(sample());
        let b = build(
            inputs("2026-01-08", &[], Some(&a)),
            &c,
            t("2026-01-09T06:00:00Z"),
            Restrictions {
                reporting_gaps: Vec::new(),
                revocations: revocations(
                    &sensors,
                    &[revoked("ua-ac-001", "2026-01-08T10:00:00Z")],
                    "2026-01-08",
                ),
                outages: got,
                sensor_health: vec![
                    SensorHealthNote {
                        sensor: "ru-ac-011".into(),
                        state: "inconsistent".into(),
                        quarantined: true,
                        correction_s: None,
                        since_arrivals: 10,
                        arrivals: 150,
                        reason: "residuals spread 310.0 ms".into(),
                    },
                    SensorHealthNote {
                        sensor: "ua-ac-002".into(),
                        state: "clock_offset".into(),
                        quarantined: false,
                        correction_s: Some(0.0604),
                        since_arrivals: 12,
                        arrivals: 90,
                        reason: "arrivals 60.4 ms late".into(),
                    },
                ],
                medium: Some(
                    serde_json::json!({"sound_speed_mps": 331.4, "sound_speed_sigma_mps": 0.3,
                    "wind_speed_mps": 6.0, "wind_from_deg": 240.0, "wind_east_mps": 5.2,
                    "wind_east_sigma_mps": 0.3, "wind_north_mps": 3.0, "wind_north_sigma_mps": 0.3,
                    "events": 42, "arrivals": 400}),
                ),
            },
        );
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["sensor_health"][0]["sensor"], "ru-ac-011");
        assert_eq!(json["medium"]["events"], 42);
        assert_eq!(json["revocations"][0]["sensor"], "ua-ac-001");
        assert_eq!(json["outages"][1]["households_affected"], 1200);
        assert!(json["reporting_gaps"].as_array().unwrap().is_empty());
        let page = html(&b, &[], Some(&a));
        assert!(page.contains(
            "<td>ua-ac-001</td><td>acoustic</td><td>UA</td><td>admin</td><td>key lost</td>"
        ));
        assert!(page.contains("<td>Zaporizhzhia</td><td>power</td><td>outage</td><td>1200</td>"));
        assert!(page.contains(
            "<td>ru-ac-011</td><td>inconsistent</td><td>quarantined</td><td>10 of 150</td>"
        ));
        assert!(
            page.contains("<td>ua-ac-002</td><td>clock_offset</td><td>corrected by 60.4 ms</td>")
        );
        assert!(page.contains(
            "Learned from 42 events: sound speed 331.4 ± 0.3 m/s, wind 6.0 m/s from 240°"
        ));
    }

    #[test]
    fn escalations_show_their_deadlines_and_logged_lapses() {
        use crate::action::{Action, What};
        use crate::roles::SYSTEM;
        use crate::state::Signer;
        let f = finding("a", "cross_line_fire", Some("RU"), "2026-01-08T02:00:00Z");
        let g = sample();
        let opened = Timestamp::parse("2026-01-08T03:00:00Z").unwrap();
        let e = crate::triggers::for_verified_finding(&g, opened, &f, opened)
            .into_iter()
            .next()
            .unwrap();
        let first = e.obligations[0].clone();
        let late = first.due.plus_nanos(1_000_000_000);
        let mut c = Commission::new(g);
        let by_server = |at: Timestamp, what: What| Action {
            actor: SYSTEM.into(),
            at,
            what,
        };
        let open = What::EscalationOpen { escalation: e };
        c.apply(5, &by_server(opened, open), Signer::Server)
            .unwrap();
        let lapse = What::DeadlineLapse {
            escalation: 5,
            obligation: first.action.clone(),
        };
        c.apply(6, &by_server(late, lapse), Signer::Server).unwrap();
        let findings = [f];
        let b = build(
            inputs("2026-01-08", &findings, None),
            &c,
            late,
            Restrictions::default(),
        );
        let page = html(&b, &of_day(&findings, "2026-01-08"), None);
        let want = format!(
            "{} by {}: overdue, lapse logged in entry 6",
            first.action, first.due
        );
        assert!(page.contains(&want), "{want} not in the page");
    }

    #[test]
    fn reporting_gaps_are_the_long_silences_of_the_day() {
        let t = |s: &str| Timestamp::parse(s).unwrap();
        let sensor = |id: &str| (id.to_string(), "acoustic".to_string(), "UA".to_string());
        let sensors = [
            sensor("busy"),
            sensor("gap"),
            sensor("mute"),
            sensor("late"),
        ];
        let mut reports: Vec<(String, Timestamp)> = (0..24)
            .map(|h| ("busy".to_string(), t(&format!("2026-01-08T{h:02}:30:00Z"))))
            .collect();
        reports.extend([
            ("gap".to_string(), t("2026-01-08T01:00:00Z")),
            ("gap".to_string(), t("2026-01-08T09:30:00Z")),
            ("gap".to_string(), t("2026-01-08T20:00:00Z")),
            // The day before and after do not count.
            ("mute".to_string(), t("2026-01-07T23:00:00Z")),
            ("mute".to_string(), t("2026-01-09T00:00:00Z")),
            ("late".to_string(), t("2026-01-08T17:00:00Z")),
        ]);
        let none = BTreeMap::new();
        let gaps = reporting_gaps(&sensors, &reports, &none, "2026-01-08");
        let got: Vec<(&str, usize, i64)> = gaps
            .iter()
            .map(|g| (g.sensor.as_str(), g.reports, g.silent_s))
            .collect();
        assert_eq!(
            got,
            [
                ("mute", 0, 86_400),
                ("late", 1, 17 * 3600),
                ("gap", 3, 37_800)
            ]
        );
        assert_eq!(gaps[2].from, t("2026-01-08T09:30:00Z"));
        assert_eq!(gaps[2].until, t("2026-01-08T20:00:00Z"));
        assert_eq!(gaps[1].from, t("2026-01-08T00:00:00Z"));

        // Revoked at 18:00, "gap" was expected to report until then only: its longest
        // silence is 09:30 to 18:00, 8.5 h. Revoked the day before, "mute" was not expected
        // to report at all.
        let revoked = BTreeMap::from([
            ("gap".to_string(), t("2026-01-08T18:00:00Z")),
            ("mute".to_string(), t("2026-01-07T12:00:00Z")),
        ]);
        let gaps = reporting_gaps(&sensors, &reports, &revoked, "2026-01-08");
        let got: Vec<(&str, i64)> = gaps
            .iter()
            .map(|g| (g.sensor.as_str(), g.silent_s))
            .collect();
        assert_eq!(got, [("late", 17 * 3600), ("gap", 30_600)]);
        assert_eq!(gaps[1].until, t("2026-01-08T18:00:00Z"));
    }
}
