//! The daily bulletin, in the manner of the OSCE mission's daily reports: the day's
//! violations by party, clause, event type and side of the line, the notable incidents,
//! the escalations and their deadlines; as a JSON summary, an HTML page with a map drawn
//! in the page (no tiles), GeoJSON and CSV. Pure: the caller passes the findings (in their
//! reviewed state), the Commission and the contact line.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::{Value, json};
use truce_model::{Finding, Timestamp};

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
    pub by_type: BTreeMap<String, usize>,
    /// By the side of the line the event lies on (`none` outside both areas).
    pub by_side: BTreeMap<String, usize>,
    /// Strikes on protected sites, fire across the line, and every verified finding.
    pub notable: Vec<Value>,
    /// Escalations opened that day or about its findings, with their deadlines at the
    /// time of writing.
    pub escalations: Vec<Value>,
    /// Sensors silent for [`GAP_S`] or more of the day (the monitoring's own
    /// restrictions: a passive sensor is also silent when it hears nothing, so a gap is a
    /// question to its operator, not proof of an outage).
    pub reporting_gaps: Vec<ReportingGap>,
}

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
/// of every observation (sensor id, observed at); the longest silence first.
pub fn reporting_gaps(
    sensors: &[(String, String, String)],
    reports: &[(String, Timestamp)],
    date: &str,
) -> Vec<ReportingGap> {
    let Some((start, end)) = day(date) else {
        return Vec::new();
    };
    let mut times: BTreeMap<&str, Vec<Timestamp>> = BTreeMap::new();
    for (sensor, at) in reports {
        if *at >= start && *at < end {
            times.entry(sensor.as_str()).or_default().push(*at);
        }
    }
    let mut gaps: Vec<ReportingGap> = sensors
        .iter()
        .filter_map(|(id, kind, operator)| {
            let mut at = times.remove(id.as_str()).unwrap_or_default();
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

/// The start and end (exclusive) of a UTC day, from `YYYY-MM-DD`.
pub fn day(date: &str) -> Option<(Timestamp, Timestamp)> {
    let start = Timestamp::parse(&format!("{date}T00:00:00Z")).ok()?;
    if start.to_string().get(..10) != Some(date) {
        return None;
    }
    Some((start, start.plus_nanos(86_400_000_000_000)))
}

fn party(f: &Finding) -> String {
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

/// Builds the bulletin of `date` from `findings` (all of them, in their reviewed state).
pub fn build(
    date: &str,
    log_size: u64,
    digest: &str,
    findings: &[Finding],
    commission: &Commission,
    now: Timestamp,
    reporting_gaps: Vec<ReportingGap>,
) -> Bulletin {
    let todays = of_day(findings, date);
    let count = |key: &dyn Fn(&Finding) -> String| {
        let mut m = BTreeMap::new();
        for f in &todays {
            *m.entry(key(f)).or_insert(0) += 1;
        }
        m
    };
    let notable = todays
        .iter()
        .filter(|f| {
            matches!(f.rule.as_str(), "protected_site_strike" | "cross_line_fire")
                || f.state == truce_model::VerificationState::Verified
        })
        .map(|f| {
            json!({"finding": f.id, "time": f.time, "clause": f.clause, "rule": f.rule,
                "party": party(f), "state": f.state, "detail": f.detail,
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
        by_type: count(&|f| f.event_type.as_str().to_string()),
        by_side: count(&|f| f.side.clone().unwrap_or_else(|| "none".into())),
        notable,
        escalations,
        reporting_gaps,
    }
}

/// The day's findings as a GeoJSON FeatureCollection of points.
pub fn geojson(findings: &[&Finding]) -> Value {
    let features: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({"type": "Feature",
                "geometry": {"type": "Point", "coordinates": [f.location.lon, f.location.lat]},
                "properties": {"id": f.id, "time": f.time, "clause": f.clause, "rule": f.rule,
                    "party": party(f), "state": f.state, "event": f.event,
                    "distance_to_line_m": f.distance_to_line_m}})
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

/// The day's findings as CSV, one row each.
pub fn csv(findings: &[&Finding]) -> String {
    let mut out = String::from(
        "id,time,clause,rule,event_type,party,probability,state,lat,lon,distance_to_line_m,side,event\n",
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
            "{},{},{},{},{},{},{},{},{:.6},{:.6},{:.0},{},{}",
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

/// The bulletin as a printable HTML page, with the contact line (`line`, lon/lat) and the
/// day's findings drawn as an SVG map.
pub fn html(b: &Bulletin, findings: &[&Finding], line: &[[f64; 2]], title: &str) -> String {
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
    page.push_str(&svg_map(findings, line));
    for (heading, table) in [
        ("By party (attribution)", &b.by_party),
        ("By clause", &b.by_clause),
        ("By type of event", &b.by_type),
        ("By side of the contact line", &b.by_side),
    ] {
        let _ = write!(page, "<h2>{heading}</h2><table>");
        for (k, v) in table {
            let _ = write!(page, "<tr><th>{}</th><td>{v}</td></tr>", escape(k));
        }
        page.push_str("</table>");
    }
    page.push_str("<h2>Notable incidents</h2><table><tr><th>time</th><th>clause</th><th>party</th><th>state</th><th>detail</th></tr>");
    for n in &b.notable {
        let s = |k: &str| escape(n[k].as_str().unwrap_or(""));
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s("time"),
            s("clause"),
            s("rule"),
            s("party"),
            s("state"),
            s("detail")
        );
    }
    page.push_str("</table><h2>Escalations</h2><table><tr><th>escalation</th><th>commitment</th><th>guarantor</th><th>kind</th><th>acknowledged</th><th>answered</th><th>deadlines</th></tr>");
    for e in &b.escalations {
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
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e["escalation"],
            escape(e["commitment"].as_str().unwrap_or("")),
            escape(e["guarantor"].as_str().unwrap_or("")),
            escape(e["kind"].as_str().unwrap_or("")),
            e["acknowledged"],
            e["answered"],
            deadlines.join("<br>")
        );
    }
    let _ = write!(
        page,
        "</table><h2>Sensor reporting gaps</h2><p>Sensors silent for {} hours or more of the \
         day. A passive sensor is also silent when it hears nothing: each gap is a question \
         to its operator, not proof of an outage.</p><table><tr><th>sensor</th><th>kind</th>\
         <th>operator</th><th>reports</th><th>silent</th><th>from</th><th>until</th></tr>",
        GAP_S / 3600
    );
    for g in &b.reporting_gaps {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} h</td><td>{}</td><td>{}</td></tr>",
            escape(&g.sensor),
            escape(&g.kind),
            escape(&g.operator),
            g.reports,
            g.silent_s as f64 / 3600.0,
            g.from,
            g.until
        );
    }
    page.push_str("</table></body></html>\n");
    page
}

/// An equirectangular SVG map of the line and the findings (coloured by party).
fn svg_map(findings: &[&Finding], line: &[[f64; 2]]) -> String {
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

    #[test]
    fn a_day_counts_its_own_findings_only() {
        let findings = vec![
            finding("a", "cross_line_fire", Some("RU"), "2026-01-08T02:00:00Z"),
            finding("b", "no_fire", None, "2026-01-08T23:59:59Z"),
            finding("c", "no_fire", Some("UA"), "2026-01-09T00:00:00Z"),
        ];
        let c = Commission::new(sample());
        let now = Timestamp::parse("2026-01-09T06:00:00Z").unwrap();
        let b = build("2026-01-08", 10, "d", &findings, &c, now, Vec::new());
        assert_eq!(b.findings, 2);
        assert_eq!(b.by_party.get("RU"), Some(&1));
        assert_eq!(b.by_party.get("undetermined"), Some(&1));
        assert_eq!(b.by_party.get("UA"), None);
        assert_eq!(b.notable.len(), 1, "the cross-line fire");
        let todays = of_day(&findings, "2026-01-08");
        let csv = csv(&todays);
        assert_eq!(csv.lines().count(), 3);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with("a,2026-01-08T02:00:00Z,2,cross_line_fire,launch,RU,")
        );
        let geo = geojson(&todays);
        assert_eq!(geo["features"].as_array().unwrap().len(), 2);
        let page = html(
            &b,
            &todays,
            &[[37.0, 48.0], [38.0, 48.5]],
            "Sample <ceasefire>",
        );
        assert!(page.contains("class=\"contact-line\""));
        assert_eq!(page.matches("<circle").count(), 2);
        assert!(page.contains("Sample &lt;ceasefire&gt;"));
        assert!(day("2026-02-30").is_none());
        assert!(day("yesterday").is_none());
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
        let b = build("2026-01-08", 10, "d", &findings, &c, late, Vec::new());
        let page = html(&b, &of_day(&findings, "2026-01-08"), &[], "t");
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
        let gaps = reporting_gaps(&sensors, &reports, "2026-01-08");
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
    }
}
