//! `truce import firms FILE...`: NASA FIRMS active-fire CSV files become signed
//! `satellite.thermal` observations (DESIGN.md sections 4a and 5).
//!
//! Parsing: FIRMS CSV (VIIRS and MODIS column sets, from the FIRMS web services, the area
//! API and archive downloads) never quotes a field and never contains a comma inside one, so
//! a small header-indexed splitter is used instead of the `csv` crate. Columns are found by
//! name, so their order and any extra columns (`type`, `version`, `bright_ti5`, ...) do not
//! matter.
//!
//! Feeds: each satellite is one `satellite_feed` sensor, `--feed-prefix` + the lowercase
//! FIRMS satellite code (`firms-n`, `firms-n20`, `firms-n21`, `firms-t`, `firms-a`).
//!
//! Sequence numbers: a FIRMS row has no counter, and re-importing a file must produce the
//! byte-identical envelope (so the server answers "already logged" rather than logging a
//! second copy or rejecting a reused `seq`). `seq` is therefore derived from the content:
//! the first 8 bytes (big-endian) of SHA-256(feed id, 0x00, canonical `data` JSON of the
//! row), masked to 53 bits so it stays a safe JSON integer. The canonical `data` is the
//! normalised row (times as RFC 3339, confidence as a level or a number, numbers as
//! shortest round-trip decimals), so the same detection gives the same `seq` whatever the
//! spelling of its time or confidence. Ed25519 signing is deterministic, so the whole
//! envelope is reproducible. Two identical rows are the same observation and are logged once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use truce_ledger::NoteSigner;
use truce_model::observation::ObservationError;
use truce_model::{Observation, Timestamp};

use crate::client::Client;

/// Rows per request: the server's default batch limit.
const BATCH: usize = 1000;

/// `truce import ...`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import NASA FIRMS active-fire CSV files (VIIRS or MODIS) as signed
    /// `satellite.thermal` observations, one feed (sensor) per satellite.
    Firms(FirmsArgs),
}

#[derive(Debug, Args)]
pub struct FirmsArgs {
    /// JSON object {sensor id: private key text as `truce keygen` writes it}, one per feed.
    /// Required unless --dry-run.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Feed (sensor) ids are this prefix followed by the lowercase satellite code.
    #[arg(long, default_value = "firms-")]
    feed_prefix: String,
    #[arg(long, env = "TRUCE_URL", default_value = "http://127.0.0.1:7878")]
    url: String,
    /// Parse, check (and sign, if --keys is given) but send nothing.
    #[arg(long)]
    dry_run: bool,
    /// FIRMS CSV files.
    #[arg(required_unless_present = "watch")]
    files: Vec<PathBuf>,
    /// Watch this directory instead: import each CSV file that appears or changes in it.
    #[arg(long, conflicts_with = "files")]
    watch: Option<PathBuf>,
    /// How often to look at the watched directory, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    poll_ms: u64,
}

pub async fn run(command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Firms(args) => run_firms(args).await,
    }
}

/// A problem with one field of one line.
#[derive(Clone, Debug, PartialEq)]
pub struct RowError {
    /// 1-based line number in the file.
    pub line: usize,
    /// The CSV column (or `header`, `row`, `data.<field>`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.line, self.field, self.message)
    }
}

/// One good row: the satellite code it came from and its `data` object.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub line: usize,
    /// The FIRMS satellite code, e.g. `N20`.
    pub code: &'static str,
    /// RFC 3339 acquisition time (also the payload's `observed_at`).
    pub acquired_at: String,
    pub data: Value,
}

/// A parsed file: its good rows and its bad ones.
#[derive(Debug, Default)]
pub struct Parsed {
    pub detections: Vec<Detection>,
    pub errors: Vec<RowError>,
    /// Data lines (non-blank lines after the header).
    pub rows: usize,
}

/// FIRMS satellite code → (code, satellite name, instrument).
const SATELLITES: &[(&str, &str, &str)] = &[
    ("N", "Suomi NPP", "VIIRS"),
    ("N20", "NOAA-20", "VIIRS"),
    ("N21", "NOAA-21", "VIIRS"),
    ("T", "Terra", "MODIS"),
    ("A", "Aqua", "MODIS"),
];

fn satellite(text: &str) -> Option<(&'static str, &'static str, &'static str)> {
    SATELLITES
        .iter()
        .find(|(code, name, _)| text.eq_ignore_ascii_case(code) || text.eq_ignore_ascii_case(name))
        .copied()
}

/// Column names, by what they are; the first name present wins.
const LATITUDE: &[&str] = &["latitude"];
const LONGITUDE: &[&str] = &["longitude"];
const BRIGHTNESS: &[&str] = &["bright_ti4", "brightness"];
const SCAN: &[&str] = &["scan"];
const TRACK: &[&str] = &["track"];
const DATE: &[&str] = &["acq_date"];
const TIME: &[&str] = &["acq_time"];
const SATELLITE: &[&str] = &["satellite"];
const CONFIDENCE: &[&str] = &["confidence"];
const FRP: &[&str] = &["frp"];
const DAYNIGHT: &[&str] = &["daynight"];
const REQUIRED: &[&[&str]] = &[
    LATITUDE, LONGITUDE, BRIGHTNESS, SCAN, TRACK, DATE, TIME, SATELLITE, CONFIDENCE, FRP, DAYNIGHT,
];
const INSTRUMENT: &[&str] = &["instrument"];

/// Parses FIRMS CSV text. `Err` when the file itself is unusable (no header, missing
/// columns); otherwise every row is either a detection or an error.
pub fn parse(text: &str) -> Result<Parsed, RowError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end()));
    let Some((header_line, header)) = lines.by_ref().find(|(_, l)| !l.trim().is_empty()) else {
        return Err(RowError {
            line: 1,
            field: "header".into(),
            message: "empty file: no header line".into(),
        });
    };
    let names: Vec<String> = header
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let find = |wanted: &[&'static str]| -> Option<(usize, &'static str)> {
        wanted
            .iter()
            .find_map(|w| names.iter().position(|n| n == w).map(|i| (i, *w)))
    };
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|w| find(w).is_none())
        .map(|w| w.join(" or "))
        .collect();
    if !missing.is_empty() {
        return Err(RowError {
            line: header_line,
            field: "header".into(),
            message: format!(
                "missing required column(s): {} (not a FIRMS VIIRS/MODIS CSV?)",
                missing.join(", ")
            ),
        });
    }
    let col = |wanted: &[&'static str]| find(wanted).expect("checked above");
    let columns = Columns {
        latitude: col(LATITUDE),
        longitude: col(LONGITUDE),
        brightness: col(BRIGHTNESS),
        scan: col(SCAN),
        track: col(TRACK),
        date: col(DATE),
        time: col(TIME),
        satellite: col(SATELLITE),
        confidence: col(CONFIDENCE),
        frp: col(FRP),
        daynight: col(DAYNIGHT),
        instrument: find(INSTRUMENT),
        width: names.len(),
    };
    let mut parsed = Parsed::default();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        parsed.rows += 1;
        match columns.row(line, text) {
            Ok(d) => parsed.detections.push(d),
            Err(mut e) => parsed.errors.append(&mut e),
        }
    }
    Ok(parsed)
}

/// Where each field is: (index, column name).
struct Columns {
    latitude: (usize, &'static str),
    longitude: (usize, &'static str),
    brightness: (usize, &'static str),
    scan: (usize, &'static str),
    track: (usize, &'static str),
    date: (usize, &'static str),
    time: (usize, &'static str),
    satellite: (usize, &'static str),
    confidence: (usize, &'static str),
    frp: (usize, &'static str),
    daynight: (usize, &'static str),
    instrument: Option<(usize, &'static str)>,
    width: usize,
}

impl Columns {
    /// One data row: a detection, or every problem in it.
    fn row(&self, line: usize, text: &str) -> Result<Detection, Vec<RowError>> {
        let cells: Vec<&str> = text.split(',').map(str::trim).collect();
        let mut errors = Vec::new();
        if cells.len() != self.width {
            errors.push(RowError {
                line,
                field: "row".into(),
                message: format!("has {} fields, the header has {}", cells.len(), self.width),
            });
        }
        let mut check = |(index, name): (usize, &'static str),
                         read: &dyn Fn(&str) -> Result<Value, String>|
         -> Option<Value> {
            let result = match cells.get(index) {
                None | Some(&"") => Err("is missing".to_string()),
                Some(cell) => read(cell),
            };
            result
                .map_err(|message| {
                    errors.push(RowError {
                        line,
                        field: name.into(),
                        message,
                    })
                })
                .ok()
        };
        let lat = check(self.latitude, &|c| number_in(c, -90.0, 90.0));
        let lon = check(self.longitude, &|c| number_in(c, -180.0, 180.0));
        let brightness = check(self.brightness, &positive);
        let scan = check(self.scan, &positive);
        let track = check(self.track, &positive);
        let frp = check(self.frp, &non_negative);
        let date = check(self.date, &|c| date(c).map(Value::from));
        let time = check(self.time, &|c| time(c).map(Value::from));
        let satellite_cell = check(self.satellite, &|c| {
            satellite(c)
                .map(|(code, _, _)| Value::from(code))
                .ok_or_else(|| {
                    format!("unknown satellite code {c:?} (expected N, N20, N21, T or A)")
                })
        });
        let confidence = check(self.confidence, &confidence);
        let daynight = check(self.daynight, &|c| match c {
            "D" | "d" => Ok("D".into()),
            "N" | "n" => Ok("N".into()),
            _ => Err(format!("must be D or N, got {c:?}")),
        });
        let sat = satellite_cell
            .as_ref()
            .and_then(Value::as_str)
            .and_then(satellite);
        let instrument = match (self.instrument, sat) {
            (Some(column), Some((_, _, expected))) => check(column, &|c| {
                let upper = c.to_ascii_uppercase();
                if upper == expected {
                    Ok(upper.into())
                } else {
                    Err(format!("{c:?} does not match the satellite ({expected})"))
                }
            }),
            (None, Some((_, _, expected))) => Some(expected.into()),
            (_, None) => None,
        };
        let acquired_at = match (&date, &time) {
            (Some(d), Some(t)) => {
                let text = format!("{}T{}Z", d.as_str().unwrap_or(""), t.as_str().unwrap_or(""));
                match Timestamp::parse(&text) {
                    Ok(_) => Some(text),
                    Err(e) => {
                        errors.push(RowError {
                            line,
                            field: self.date.1.into(),
                            message: format!("{text} is not a valid time: {e}"),
                        });
                        None
                    }
                }
            }
            _ => None,
        };
        let (
            Some(lat),
            Some(lon),
            Some(brightness),
            Some(scan),
            Some(track),
            Some(frp),
            Some(acquired_at),
            Some((code, name, _)),
            Some(instrument),
            Some(confidence),
            Some(daynight),
        ) = (
            lat,
            lon,
            brightness,
            scan,
            track,
            frp,
            acquired_at,
            sat,
            instrument,
            confidence,
            daynight,
        )
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Detection {
            line,
            code,
            data: json!({
                "position": {"lat": lat, "lon": lon},
                "acquired_at": acquired_at,
                "satellite": name,
                "instrument": instrument,
                "scan_km": scan,
                "track_km": track,
                "brightness_k": brightness,
                "frp_mw": frp,
                "confidence": confidence,
                "daynight": daynight,
            }),
            acquired_at,
        })
    }
}

fn number(cell: &str) -> Result<f64, String> {
    match cell.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("{cell:?} is not a number")),
    }
}

fn number_in(cell: &str, min: f64, max: f64) -> Result<Value, String> {
    let x = number(cell)?;
    if (min..=max).contains(&x) {
        Ok(x.into())
    } else {
        Err(format!("{cell} is out of range ({min} to {max})"))
    }
}

fn positive(cell: &str) -> Result<Value, String> {
    let x = number(cell)?;
    if x > 0.0 {
        Ok(x.into())
    } else {
        Err(format!("{cell} must be positive"))
    }
}

fn non_negative(cell: &str) -> Result<Value, String> {
    let x = number(cell)?;
    if x >= 0.0 {
        Ok(x.into())
    } else {
        Err(format!("{cell} must not be negative"))
    }
}

/// `YYYY-MM-DD` (checked as a calendar date together with the time).
fn date(cell: &str) -> Result<String, String> {
    let b = cell.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if ok {
        Ok(cell.to_string())
    } else {
        Err(format!("{cell:?} is not a date YYYY-MM-DD"))
    }
}

/// `HHMM` (raw FIRMS), unpadded `HMM`/`MM`/`M` (leading zeros lost, e.g. `5` = 00:05,
/// `130` = 01:30), `HH:MM` or `HH:MM:SS` → `HH:MM:SS`.
fn time(cell: &str) -> Result<String, String> {
    let bad = || format!("{cell:?} is not a time (HHMM, HH:MM or HH:MM:SS)");
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let (h, m, s) = if cell.contains(':') {
        let parts: Vec<&str> = cell.split(':').collect();
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| digits(p)) {
            return Err(bad());
        }
        let n = |p: &str| p.parse::<u32>().map_err(|_| bad());
        (
            n(parts[0])?,
            n(parts[1])?,
            parts.get(2).map_or(Ok(0), |p| n(p))?,
        )
    } else {
        if cell.is_empty() || cell.len() > 4 || !cell.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u32 = cell.parse().map_err(|_| bad())?;
        (n / 100, n % 100, 0)
    };
    if h > 23 || m > 59 || s > 59 {
        return Err(format!("{cell:?} is out of range"));
    }
    Ok(format!("{h:02}:{m:02}:{s:02}"))
}

/// `l`/`n`/`h` or `low`/`nominal`/`high` (VIIRS), or a percentage 0–100 (MODIS).
fn confidence(cell: &str) -> Result<Value, String> {
    let level = match cell.to_ascii_lowercase().as_str() {
        "l" | "low" => Some("low"),
        "n" | "nominal" => Some("nominal"),
        "h" | "high" => Some("high"),
        _ => None,
    };
    if let Some(level) = level {
        return Ok(level.into());
    }
    let x = number(cell)
        .map_err(|_| format!("{cell:?} is not low, nominal, high or a number from 0 to 100"))?;
    if !(0.0..=100.0).contains(&x) {
        return Err(format!("{cell} is out of range (0 to 100)"));
    }
    // Integral percentages (all of MODIS) stay integers on the wire.
    Ok(match cell.parse::<u64>() {
        Ok(n) => n.into(),
        Err(_) => x.into(),
    })
}

/// The deterministic `seq` of a detection of `feed` (see the module documentation).
pub fn seq_of(feed: &str, data: &Value) -> u64 {
    let mut hash = Sha256::new();
    hash.update(feed.as_bytes());
    hash.update([0u8]);
    hash.update(data.to_string().as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) & ((1u64 << 53) - 1)
}

/// The payload bytes of a detection from `feed`.
pub fn payload(feed: &str, detection: &Detection) -> Vec<u8> {
    let value = json!({
        "sensor": feed,
        "seq": seq_of(feed, &detection.data),
        "observed_at": detection.acquired_at,
        "kind": "satellite.thermal",
        "data": detection.data,
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

/// Reads `--keys`: {sensor id: secret key text}.
fn read_keys(path: &Path) -> anyhow::Result<BTreeMap<String, NoteSigner>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read keys {}", path.display()))?;
    let map: BTreeMap<String, String> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: must be a JSON object {{sensor id: private key text}}",
            path.display()
        )
    })?;
    map.into_iter()
        .map(|(id, key)| {
            let signer = NoteSigner::from_skey(key.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "{}: the key of {id} is not a truce private key: {e}",
                    path.display()
                )
            })?;
            Ok((id, signer))
        })
        .collect()
}

/// Per-file tallies.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    rows: usize,
    imported: u64,
    duplicates: u64,
    bad: u64,
}

/// What the import needs besides the file: the feeds' keys (none in a dry run) and the
/// server (none in a dry run).
struct Importer {
    keys: Option<BTreeMap<String, NoteSigner>>,
    client: Option<Client>,
    feed_prefix: String,
    dry_run: bool,
}

impl Importer {
    /// Imports one file: its counts, or `None` when the file could not be read or parsed
    /// at all (reported). Bad rows are reported with file and line and do not stop it.
    async fn file(&self, file: &Path) -> anyhow::Result<Option<Counts>> {
        let name = file.display();
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                return Ok(None);
            }
        };
        let parsed = match parse(&text) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{name}:{e} (file skipped)");
                return Ok(None);
            }
        };
        let mut counts = Counts {
            rows: parsed.rows,
            ..Counts::default()
        };
        let mut bad_lines: Vec<usize> = Vec::new();
        for e in &parsed.errors {
            eprintln!("{name}:{e}");
            bad_lines.push(e.line);
        }
        // Sign every good row; rows of a feed without a key are bad.
        let mut envelopes: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut missing_keys = BTreeMap::new();
        for detection in &parsed.detections {
            let feed = format!(
                "{}{}",
                self.feed_prefix,
                detection.code.to_ascii_lowercase()
            );
            let bytes = payload(&feed, detection);
            if let Err(e) = Observation::parse(&bytes) {
                for (field, message) in observation_errors(e) {
                    eprintln!("{name}:{}: {field}: {message}", detection.line);
                }
                bad_lines.push(detection.line);
                continue;
            }
            match self.keys.as_ref().map(|k| k.get(&feed)) {
                Some(Some(signer)) => envelopes.push((
                    detection.line,
                    crate::submit::envelope(signer, &feed, &bytes),
                )),
                Some(None) => {
                    *missing_keys.entry(feed).or_insert(0usize) += 1;
                    bad_lines.push(detection.line);
                }
                // A dry run without keys: the row is good, there is nothing to sign.
                None => envelopes.push((detection.line, Vec::new())),
            }
        }
        for (feed, rows) in &missing_keys {
            eprintln!(
                "{name}: satellite: no key for feed {feed} in --keys ({rows} rows not imported)"
            );
        }
        if let Some(client) = &self.client {
            for chunk in envelopes.chunks(BATCH) {
                let bodies: Vec<Vec<u8>> = chunk.iter().map(|(_, e)| e.clone()).collect();
                let response = client
                    .submit(&bodies)
                    .await
                    .with_context(|| format!("{name}: submitting"))?;
                let results = response["results"].as_array().cloned().unwrap_or_default();
                if results.len() != chunk.len() {
                    bail!(
                        "{name}: the server answered {} results for {} observations",
                        results.len(),
                        chunk.len()
                    );
                }
                for item in &results {
                    let index = item["index"].as_u64().unwrap_or(0) as usize;
                    let line = chunk.get(index).map_or(0, |(l, _)| *l);
                    if let Some(problem) = item.get("problem") {
                        eprintln!(
                            "{name}:{line}: server: {} {}",
                            problem["type"].as_str().unwrap_or("?"),
                            problem["detail"].as_str().unwrap_or("")
                        );
                        bad_lines.push(line);
                    } else if item["duplicate"].as_bool() == Some(true) {
                        counts.duplicates += 1;
                    } else {
                        counts.imported += 1;
                    }
                }
            }
        }
        bad_lines.sort_unstable();
        bad_lines.dedup();
        counts.bad = bad_lines.len() as u64;
        if self.dry_run {
            println!(
                "{name}: {} rows, {} valid, {} bad (dry run: nothing sent)",
                counts.rows,
                envelopes.len(),
                counts.bad
            );
        } else {
            println!(
                "{name}: {} rows, {} imported, {} already logged, {} bad",
                counts.rows, counts.imported, counts.duplicates, counts.bad
            );
        }
        Ok(Some(counts))
    }
}

async fn run_firms(args: FirmsArgs) -> anyhow::Result<()> {
    let keys = match (&args.keys, args.dry_run) {
        (Some(path), _) => Some(read_keys(path)?),
        (None, true) => None,
        (None, false) => bail!("--keys is required (or use --dry-run)"),
    };
    let client = if args.dry_run {
        None
    } else {
        Some(Client::new(&args.url)?)
    };
    let importer = Importer {
        keys,
        client,
        feed_prefix: args.feed_prefix.clone(),
        dry_run: args.dry_run,
    };
    if let Some(dir) = &args.watch {
        return watch(&importer, dir, Duration::from_millis(args.poll_ms)).await;
    }
    let mut total = Counts::default();
    let mut bad_files = 0usize;
    for file in &args.files {
        let Some(counts) = importer.file(file).await? else {
            bad_files += 1;
            continue;
        };
        total.rows += counts.rows;
        total.imported += counts.imported;
        total.duplicates += counts.duplicates;
        total.bad += counts.bad;
    }
    if args.files.len() > 1 && !args.dry_run {
        println!(
            "total: {} files, {} rows, {} imported, {} already logged, {} bad, {} bad files",
            args.files.len(),
            total.rows,
            total.imported,
            total.duplicates,
            total.bad,
            bad_files
        );
    }
    if total.bad > 0 || bad_files > 0 {
        bail!("{} bad rows, {} bad files", total.bad, bad_files);
    }
    Ok(())
}

/// Watches a directory: imports each `.csv` file in it when it appears or changes (size or
/// modification time), every `poll` until interrupted. Re-reading a file adds nothing for
/// the rows already logged (the same row gives the same signed envelope), so a file still
/// being written is simply read again when it grows.
async fn watch(importer: &Importer, dir: &Path, poll: Duration) -> anyhow::Result<()> {
    let mut seen: BTreeMap<PathBuf, (u64, Option<std::time::SystemTime>)> = BTreeMap::new();
    println!(
        "watching {} for FIRMS CSV files (Ctrl-C to stop)",
        dir.display()
    );
    loop {
        let mut files: Vec<(PathBuf, (u64, Option<std::time::SystemTime>))> =
            std::fs::read_dir(dir)
                .with_context(|| format!("reading {}", dir.display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
                .filter_map(|p| {
                    let m = std::fs::metadata(&p).ok()?;
                    Some((p, (m.len(), m.modified().ok())))
                })
                .collect();
        files.sort();
        for (path, stamp) in files {
            if seen.get(&path) == Some(&stamp) {
                continue;
            }
            match importer.file(&path).await {
                Ok(_) => {
                    seen.insert(path, stamp);
                }
                // The server is unreachable: try again at the next poll.
                Err(e) => eprintln!("{}: {e:#}", path.display()),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

fn observation_errors(e: ObservationError) -> Vec<(String, String)> {
    match e {
        ObservationError::Json(m) => vec![("payload".into(), m)],
        ObservationError::Fields(fields) => {
            fields.into_iter().map(|f| (f.field, f.message)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIIRS: &str = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,confidence,version,bright_ti5,frp,daynight,instrument";
    const MODIS: &str = "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight,instrument";

    fn one(header: &str, row: &str) -> Detection {
        let parsed = parse(&format!("{header}\n{row}\n")).expect("a usable file");
        assert_eq!(parsed.errors, vec![], "{row}");
        assert_eq!(parsed.rows, 1);
        parsed.detections.into_iter().next().unwrap()
    }

    fn errors(header: &str, rows: &str) -> Vec<RowError> {
        parse(&format!("{header}\n{rows}"))
            .expect("a usable file")
            .errors
    }

    #[test]
    fn a_viirs_row_becomes_thermal_data() {
        let d = one(
            VIIRS,
            "47.87903,35.19487,325.43,0.6,0.53,2026-01-05,09:38:00,N20,nominal,2.0NRT,272.06,4.07,D,VIIRS",
        );
        assert_eq!(d.code, "N20");
        assert_eq!(d.line, 2);
        assert_eq!(d.acquired_at, "2026-01-05T09:38:00Z");
        assert_eq!(
            d.data,
            json!({"position": {"lat": 47.87903, "lon": 35.19487}, "acquired_at": "2026-01-05T09:38:00Z",
                   "satellite": "NOAA-20", "instrument": "VIIRS", "scan_km": 0.6, "track_km": 0.53,
                   "brightness_k": 325.43, "frp_mw": 4.07, "confidence": "nominal", "daynight": "D"})
        );
        // The payload is a valid satellite.thermal observation.
        let bytes = payload("firms-n20", &d);
        let o = Observation::parse(&bytes).unwrap();
        assert_eq!(o.kind, "satellite.thermal");
        assert!(o.seq < 1 << 53);
    }

    #[test]
    fn times_unpadded_hhmm_and_with_colons() {
        for (cell, want) in [
            ("5", "00:05:00"),
            ("56", "00:56:00"),
            ("130", "01:30:00"),
            ("0938", "09:38:00"),
            ("2359", "23:59:00"),
            ("09:38", "09:38:00"),
            ("09:38:17", "09:38:17"),
            ("9:38:00", "09:38:00"),
        ] {
            assert_eq!(time(cell).as_deref(), Ok(want), "{cell}");
        }
        for cell in ["2460", "2400", "12345", "ab", "12:60", "1:2:3:4", "-5"] {
            assert!(time(cell).is_err(), "{cell}");
        }
        let d = one(
            VIIRS,
            "47.8,35.1,325.4,0.6,0.53,2026-01-05,130,N,n,2.0NRT,272.0,4.0,N,VIIRS",
        );
        assert_eq!(d.acquired_at, "2026-01-05T01:30:00Z");
        assert_eq!(d.data["satellite"], "Suomi NPP");
    }

    #[test]
    fn confidence_letters_words_and_numbers() {
        for (cell, want) in [
            ("l", json!("low")),
            ("n", json!("nominal")),
            ("h", json!("high")),
            ("low", json!("low")),
            ("Nominal", json!("nominal")),
            ("HIGH", json!("high")),
            ("0", json!(0)),
            ("87", json!(87)),
            ("100", json!(100)),
            ("42.5", json!(42.5)),
        ] {
            assert_eq!(confidence(cell), Ok(want), "{cell}");
        }
        for cell in ["101", "-1", "extreme", "nan"] {
            assert!(confidence(cell).is_err(), "{cell}");
        }
    }

    #[test]
    fn modis_columns_map_brightness_and_numeric_confidence() {
        let d = one(
            MODIS,
            "45.39385,29.70863,322.05,1.23,1.1,2026-01-03,01:24:00,A,29,6.1NRT,271.33,29.89,N,MODIS",
        );
        assert_eq!(d.code, "A");
        assert_eq!(d.data["satellite"], "Aqua");
        assert_eq!(d.data["instrument"], "MODIS");
        assert_eq!(d.data["brightness_k"], json!(322.05));
        assert_eq!(d.data["confidence"], json!(29));
        let t = one(
            MODIS,
            "45.3,29.7,322.0,1.2,1.1,2026-01-03,0124,T,100,6.1NRT,271.3,0,D,MODIS",
        );
        assert_eq!(t.data["satellite"], "Terra");
        assert_eq!(t.acquired_at, "2026-01-03T01:24:00Z");
        assert!(Observation::parse(&payload("firms-t", &t)).is_ok());
    }

    #[test]
    fn a_missing_column_rejects_the_file_once() {
        let header = VIIRS.replace(",frp,", ",").replace("acq_time,", "");
        let e = parse(&format!("{header}\n1,2,3\n4,5,6\n")).unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(e.field, "header");
        assert!(e.message.contains("acq_time"), "{}", e.message);
        assert!(e.message.contains("frp"), "{}", e.message);
        assert!(parse("").is_err());
        // Header only: a valid file with zero rows.
        let empty = parse(&format!("{VIIRS}\n")).unwrap();
        assert_eq!(
            (empty.rows, empty.detections.len(), empty.errors.len()),
            (0, 0, 0)
        );
    }

    #[test]
    fn bad_rows_are_reported_by_line_and_field_and_the_rest_survive() {
        let rows = "\
47.8,35.1,325.4,0.6,0.53,2026-01-05,0938,N20,nominal,2.0NRT,272.0,4.0,D,VIIRS
91.2,35.1,325.4,0.6,0.53,2026-01-05,0938,N20,nominal,2.0NRT,272.0,4.0,D,VIIRS
47.8,35.1,325.4,0.6,0.53,2026-01-05,0938,N20,nominal,2.0NRT,272.0,,D,VIIRS
47.8,35.1,325.4,0.6,0.53,2026-02-30,0938,X9,nominal,2.0NRT,272.0,4.0,D,VIIRS
47.8,35.1
47.9,35.2,325.4,0.6,0.53,2026-01-05,0938,N20,high,2.0NRT,272.0,4.0,D,VIIRS
";
        let parsed = parse(&format!("{VIIRS}\n{rows}")).unwrap();
        assert_eq!(parsed.rows, 6);
        assert_eq!(
            parsed.detections.iter().map(|d| d.line).collect::<Vec<_>>(),
            vec![2, 7]
        );
        let e = errors(VIIRS, rows);
        let has = |line: usize, field: &str, needle: &str| {
            assert!(
                e.iter()
                    .any(|x| x.line == line && x.field == field && x.message.contains(needle)),
                "no {line}: {field}: ..{needle}.. in {e:?}"
            )
        };
        has(3, "latitude", "out of range");
        has(4, "frp", "is missing");
        has(5, "satellite", "unknown satellite code");
        has(6, "row", "has 2 fields");
        has(6, "bright_ti4", "is missing");
        assert_eq!(
            e[0].to_string(),
            "3: latitude: 91.2 is out of range (-90 to 90)"
        );
        // An impossible date (with a known satellite) is caught as a timestamp.
        let e = errors(
            VIIRS,
            "47.8,35.1,325.4,0.6,0.53,2026-02-30,0938,N,nominal,2.0NRT,272.0,4.0,D,VIIRS\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].field, "acq_date");
    }

    #[test]
    fn seq_is_deterministic_and_depends_on_feed_and_content() {
        let a = one(
            VIIRS,
            "47.8,35.1,325.4,0.6,0.53,2026-01-05,0938,N20,n,2.0NRT,272.0,4.0,D,VIIRS",
        );
        // The same detection spelled differently is the same observation.
        let b = one(
            VIIRS,
            "47.80,35.1,325.4,0.6,0.53,2026-01-05,09:38:00,N20,nominal,2.0NRT,272.0,4.0,D,VIIRS",
        );
        assert_eq!(payload("firms-n20", &a), payload("firms-n20", &b));
        assert_ne!(seq_of("firms-n20", &a.data), seq_of("other-n20", &a.data));
        let c = one(
            VIIRS,
            "47.8,35.1,325.4,0.6,0.53,2026-01-05,0938,N20,n,2.0NRT,272.0,4.1,D,VIIRS",
        );
        assert_ne!(seq_of("firms-n20", &a.data), seq_of("firms-n20", &c.data));
    }
}
