//! Cursor-on-Target for truce's output: fused events and findings as CoT events, written as
//! CoT XML (what pytak and TAK clients speak first) or as TAK Protocol version 1 protobuf
//! messages in the stream framing (`0xbf`, a varint length, the message), and the XML
//! control events of the negotiation by which a TAK client and server switch to protobuf.
//!
//! Type codes follow the CoT tree with the `u` (unknown) affiliation: truce monitors both
//! parties and calls neither hostile. A finding is a spot marker (`b-m-p-s-m`) whose
//! remarks name the clause, the attribution and the log indices of its evidence; a
//! launch or a weapon seen is ground equipment (`a-u-G-E-W…`, by weapon class); an impact,
//! explosion, airburst or fire is a spot marker too. Fused results say `how="m-f"`
//! (machine, fused); `ce` is CoT's circular error at 95 % confidence, drawn from the
//! event's error ellipse (see [`ce_of`]); detections coming in read it the same way.
//! Pure: no I/O, no clock (the caller passes `now`).

mod input;
mod proto;

pub use input::{
    Detection, FrameError, InputError, MAX_EVENT_BYTES, PROTOBUF_MEDIA_TYPE, XML_MEDIA_TYPE,
    datagram_detection, mesh_message, next_frame, object_class, parse_detection, proto_detection,
};

use std::fmt::Write;

use truce_fusion::FusedEvent;
use truce_model::{EventType, Finding, Timestamp, WeaponClass};

pub use proto::{CotEvent as ProtoEvent, Detail as ProtoDetail, TakControl, TakMessage};

/// How many standard deviations CoT's `ce` (a circular error at 95 % confidence) spans
/// for a circular 2-D Gaussian: √χ²₂(0.95) = √(−2 ln 0.05).
pub const CE_SIGMAS: f64 = 2.447_746_830_680_816;

/// How many standard deviations the semi-major axis of truce's 90 % ellipse spans:
/// √χ²₂(0.90) = √(−2 ln 0.10).
const ELLIPSE_90_SIGMAS: f64 = 2.145_966_026_289_347;

/// The `ce` of a fused event: the 95 % circle of the Gaussian whose standard deviation is
/// the ellipse's largest (conservative for an elongated ellipse); unknown without one.
pub fn ce_of(e: &FusedEvent) -> f64 {
    if e.ellipse_90[0] > 0.0 {
        e.ellipse_90[0] / ELLIPSE_90_SIGMAS * CE_SIGMAS
    } else {
        UNKNOWN
    }
}

/// How long a CoT event of truce stays current on a client's map.
pub const STALE_NS: i64 = 24 * 3600 * 1_000_000_000;

/// How long a reply to a client's event stays current.
pub const REPLY_STALE_NS: i64 = 60 * 1_000_000_000;

/// One CoT event, as truce writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cot {
    pub uid: String,
    pub kind: String,
    pub how: String,
    pub time: Timestamp,
    pub start: Timestamp,
    pub stale: Timestamp,
    pub lat: f64,
    pub lon: f64,
    /// Circular error, metres (9999999 when unknown, as CoT has it).
    pub ce: f64,
    pub callsign: String,
    pub remarks: String,
}

/// CoT's "unknown" for heights and errors.
pub const UNKNOWN: f64 = 9_999_999.0;

fn weapon_type(class: Option<WeaponClass>) -> &'static str {
    match class {
        Some(WeaponClass::Mlrs | WeaponClass::HeavyMlrs) => "a-u-G-E-W-R",
        Some(WeaponClass::TacticalMissile) => "a-u-G-E-W-M",
        Some(WeaponClass::Mortar) => "a-u-G-E-W-O",
        Some(WeaponClass::Tank) => "a-u-G-E-V-A-T",
        Some(WeaponClass::Artillery100mmPlus | WeaponClass::ArtilleryUnder100mm) => "a-u-G-E-W-H",
        None => "a-u-G-E-W",
    }
}

/// The CoT type of a fused event.
pub fn event_type(kind: EventType, class: Option<WeaponClass>) -> &'static str {
    match kind {
        EventType::Launch | EventType::WeaponPresence | EventType::Movement => weapon_type(class),
        EventType::AirspaceEntry => "a-u-A",
        EventType::Impact | EventType::Explosion | EventType::Airburst | EventType::Fire => {
            "b-m-p-s-m"
        }
    }
}

fn indices(list: &[u64]) -> String {
    const SHOWN: usize = 12;
    let mut text: Vec<String> = list.iter().take(SHOWN).map(u64::to_string).collect();
    if list.len() > SHOWN {
        text.push(format!("and {} more", list.len() - SHOWN));
    }
    text.join(", ")
}

impl Cot {
    /// A fused event at `now`.
    pub fn of_event(e: &FusedEvent, now: Timestamp) -> Self {
        let ev = &e.event;
        Cot {
            uid: format!("truce-{}", ev.id),
            kind: event_type(ev.kind, ev.weapon_class).to_string(),
            how: "m-f".into(),
            time: now,
            start: ev.origin_time,
            stale: now.plus_nanos(STALE_NS),
            lat: ev.location.lat,
            lon: ev.location.lon,
            ce: ce_of(e),
            callsign: format!("{} {}", ev.kind.as_str(), &ev.id[..ev.id.len().min(11)]),
            remarks: format!(
                "truce event {}: {} at {}, {} operator(s) ({}), {} modality(ies); evidence: log entries {}",
                ev.id,
                ev.kind.as_str(),
                ev.origin_time,
                ev.operators.len(),
                ev.operators.join(", "),
                ev.modalities.len(),
                indices(&ev.observations)
            ),
        }
    }

    /// The same message made at `now` (an event or finding's `time` and `stale`; its
    /// `start`, when it happened, stays).
    pub fn restamped(mut self, now: Timestamp) -> Self {
        self.time = now;
        self.stale = now.plus_nanos(STALE_NS);
        self
    }

    /// A finding at `now`, placed where its event is, with its event's `ce` ([`ce_of`])
    /// when known.
    pub fn of_finding(f: &Finding, ce_m: Option<f64>, now: Timestamp) -> Self {
        let party = f.attribution.party.as_deref().unwrap_or("undetermined");
        let probabilities: Vec<String> = f
            .attribution
            .probabilities
            .iter()
            .map(|(p, v)| format!("{p} {:.1} %", 100.0 * v))
            .collect();
        Cot {
            uid: format!("truce-{}", f.id),
            kind: "b-m-p-s-m".into(),
            how: "m-f".into(),
            time: now,
            start: f.time,
            stale: now.plus_nanos(STALE_NS),
            lat: f.location.lat,
            lon: f.location.lon,
            ce: ce_m.filter(|c| *c > 0.0).unwrap_or(UNKNOWN),
            callsign: format!("clause {} {}", f.clause, party),
            remarks: format!(
                "truce finding {}: clause {} ({}), {}; attribution: {party}{}; state: {}; {} km from the contact line; evidence: log entries {}",
                f.id,
                f.clause,
                f.rule,
                f.detail,
                if probabilities.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", probabilities.join(", "))
                },
                serde_state(f),
                (f.distance_to_line_m / 100.0).round() / 10.0,
                indices(&f.observations)
            ),
        }
    }

    /// truce's reply to an event a client sent, in CoT's request/response vocabulary:
    /// `y-a-r` (acknowledged, received) with the log index when it was logged, `y-c-f`
    /// (complete, failure) with the reason when it was refused. The remarks say which
    /// (`truce: logged observation N` or `truce: refused: why`). A reply about a detection
    /// that could be read is named after it (`truce-reply-<its uid>`, so that a later reply
    /// about the same object replaces the earlier one on the client's map) and placed at
    /// its point; one about input that could not be read is `truce-reply-<n>` at 0, 0 (as
    /// CoT's other messages without a place), `n` numbering such replies.
    pub fn reply(
        about: Option<&Detection>,
        n: u64,
        outcome: &Result<u64, String>,
        now: Timestamp,
    ) -> Self {
        let (kind, remarks) = match outcome {
            Ok(index) => ("y-a-r", format!("truce: logged observation {index}")),
            Err(why) => ("y-c-f", format!("truce: refused: {why}")),
        };
        let (uid, lat, lon) = match about {
            Some(d) => (format!("truce-reply-{}", d.uid), d.lat, d.lon),
            None => (format!("truce-reply-{n}"), 0.0, 0.0),
        };
        Cot {
            uid,
            kind: kind.into(),
            how: "m-g".into(),
            time: now,
            start: now,
            stale: now.plus_nanos(REPLY_STALE_NS),
            lat,
            lon,
            ce: UNKNOWN,
            callsign: "truce".into(),
            remarks,
        }
    }

    /// The CoT XML event (no XML declaration; one event, ending in a newline).
    pub fn xml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<event version=\"2.0\" uid=\"{}\" type=\"{}\" how=\"{}\" time=\"{}\" start=\"{}\" stale=\"{}\">\
             <point lat=\"{:.7}\" lon=\"{:.7}\" hae=\"{UNKNOWN:.1}\" ce=\"{:.1}\" le=\"{UNKNOWN:.1}\"/>\
             <detail><contact callsign=\"{}\"/><remarks>{}</remarks></detail></event>",
            escape(&self.uid),
            escape(&self.kind),
            escape(&self.how),
            cot_time(self.time),
            cot_time(self.start),
            cot_time(self.stale),
            self.lat,
            self.lon,
            self.ce,
            escape(&self.callsign),
            escape(&self.remarks),
        );
        out
    }

    /// The TAK Protocol version 1 message (times in milliseconds since the epoch; the
    /// contact and remarks as the detail's XML).
    pub fn proto(&self) -> TakMessage {
        let ms = |t: Timestamp| (t.unix_nanos() / 1_000_000).max(0) as u64;
        TakMessage {
            tak_control: None,
            cot_event: Some(ProtoEvent {
                r#type: self.kind.clone(),
                uid: self.uid.clone(),
                send_time: ms(self.time),
                start_time: ms(self.start),
                stale_time: ms(self.stale),
                how: self.how.clone(),
                lat: self.lat,
                lon: self.lon,
                hae: UNKNOWN,
                ce: self.ce,
                le: UNKNOWN,
                detail: Some(ProtoDetail {
                    xml_detail: format!(
                        "<contact callsign=\"{}\"/><remarks>{}</remarks>",
                        escape(&self.callsign),
                        escape(&self.remarks)
                    ),
                }),
                ..ProtoEvent::default()
            }),
        }
    }
}

fn serde_state(f: &Finding) -> &'static str {
    match f.state {
        truce_model::VerificationState::Candidate => "candidate",
        truce_model::VerificationState::UnderReview => "under review",
        truce_model::VerificationState::Verified => "verified",
        truce_model::VerificationState::Discounted => "discounted",
        truce_model::VerificationState::Contested => "contested",
    }
}

/// CoT's time form: UTC with milliseconds and a `Z`.
pub fn cot_time(t: Timestamp) -> String {
    let text = t.to_string();
    // RFC 3339 from Timestamp: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`; keep three digits.
    let (main, frac) = match text.trim_end_matches('Z').split_once('.') {
        Some((m, f)) => (m.to_string(), f.to_string()),
        None => (text.trim_end_matches('Z').to_string(), String::new()),
    };
    format!("{main}.{:0<3}Z", &frac[..frac.len().min(3)])
}

/// Escapes text for an XML attribute or element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// TAK Protocol version 1, stream framing: `0xbf`, the message length as a varint, the
/// message.
pub fn stream_frame(message: &TakMessage) -> Vec<u8> {
    use prost::Message;
    let body = message.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(0xbf);
    prost::encoding::encode_varint(body.len() as u64, &mut out);
    out.extend_from_slice(&body);
    out
}

/// A message in the TAK protocol mesh framing (UDP): `0xbf 0x01 0xbf`, then the message.
pub fn mesh_frame(message: &TakMessage) -> Vec<u8> {
    use prost::Message;
    let mut out = vec![0xbf, 0x01, 0xbf];
    message.encode(&mut out).expect("a Vec grows as needed");
    out
}

/// The server's offer to speak protobuf (`t-x-takp-v`, protocol version 1).
pub fn protocol_offer(now: Timestamp) -> String {
    control(
        "t-x-takp-v",
        now,
        "<TakControl><TakProtocolSupport version=\"1\"/></TakControl>",
    )
}

/// The server's answer to a client's request to switch (`t-x-takp-r`).
pub fn protocol_response(now: Timestamp, accepted: bool) -> String {
    control(
        "t-x-takp-r",
        now,
        &format!("<TakControl><TakResponse status=\"{accepted}\"/></TakControl>"),
    )
}

/// A control event; no newline after it, since the response is the last byte before the
/// protobuf frames.
fn control(kind: &str, now: Timestamp, detail: &str) -> String {
    format!(
        "<event version=\"2.0\" uid=\"truce-protouid\" type=\"{kind}\" how=\"m-g\" time=\"{t}\" start=\"{t}\" stale=\"{s}\">\
         <point lat=\"0.0\" lon=\"0.0\" hae=\"0.0\" ce=\"{UNKNOWN:.1}\" le=\"{UNKNOWN:.1}\"/><detail>{detail}</detail></event>",
        t = cot_time(now),
        s = cot_time(now.plus_nanos(60_000_000_000)),
    )
}

/// Whether an XML event from a client asks to switch to protobuf version 1: an event of
/// type `t-x-takp-q` whose `detail/TakControl/TakRequest` has `version="1"`.
pub fn is_protocol_request(xml: &str) -> bool {
    input::is_protocol_request(xml.as_bytes())
}

#[cfg(test)]
mod tests;
