//! Cursor-on-Target in: a detection reported by a drone ground station or a sensor's TAK
//! gateway, read from its CoT XML into what a truce observation needs. Only detection
//! types are taken: atoms (`a-<affiliation>-...`) of ground equipment, units, aircraft and
//! drones; anything else (chat, markers, control, a friendly position report without
//! equipment) is refused with its reason. The reporting sensor is named by the event's
//! `<link uid="..." relation="p-p"/>` (its producing parent), as TAK does.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use truce_model::Timestamp;

/// The most one CoT event may hold.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// A detection read from CoT.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// The CoT uid of the detected object.
    pub uid: String,
    /// The CoT type, as sent.
    pub cot_type: String,
    /// The object class in truce's vocabulary (DESIGN.md section 4a).
    pub object_class: &'static str,
    /// The reporting sensor (the `p-p` link).
    pub source: String,
    pub time: Timestamp,
    pub lat: f64,
    pub lon: f64,
    /// Circular error, metres.
    pub ce: f64,
    /// `<truce confidence="..."/>` in the detail, when the sender gives one.
    pub confidence: Option<f64>,
}

/// Why a CoT event was not taken.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InputError {
    #[error("malformed CoT XML: {0}")]
    Malformed(String),
    #[error("CoT event of {0} bytes (at most {MAX_EVENT_BYTES})")]
    TooLarge(usize),
    #[error(
        "CoT type {0:?} is not a detection truce takes (ground equipment, units, aircraft, drones)"
    )]
    NotDetection(String),
    #[error("the CoT event names no reporting sensor (<link uid=... relation=\"p-p\"/>)")]
    NoSource,
    #[error("CoT attribute {0}: {1}")]
    Field(&'static str, String),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl InputError {
    /// Whether the event is chatter rather than a detection gone wrong: it names no
    /// reporting sensor, as a device's own position reports, pings and chat do. Such events
    /// are passed over without an answer (CoT over a shared link carries many).
    pub fn is_chatter(&self) -> bool {
        matches!(self, InputError::NoSource)
    }
}

/// truce's object class for a CoT atom type, or `None` when it is not a detection.
pub fn object_class(cot_type: &str) -> Option<&'static str> {
    let parts: Vec<&str> = cot_type.split('-').collect();
    if parts.len() < 3 || parts[0] != "a" || parts[1].len() != 1 {
        return None;
    }
    let rest = &parts[2..];
    let starts = |prefix: &[&str]| rest.len() >= prefix.len() && rest[..prefix.len()] == *prefix;
    Some(if starts(&["G", "E", "W", "R"]) {
        "mlrs"
    } else if starts(&["G", "E", "W", "H"]) {
        "howitzer"
    } else if starts(&["G", "E", "W", "O"]) {
        "mortar"
    } else if starts(&["G", "E", "W", "G"]) {
        "gun"
    } else if starts(&["G", "E", "V", "A", "T"]) {
        "tank"
    } else if starts(&["G", "E", "V", "A"]) {
        "apc"
    } else if starts(&["G", "E", "V"]) {
        "vehicle"
    } else if starts(&["G", "E", "W"]) || starts(&["G", "E"]) {
        "other"
    } else if starts(&["G", "U"]) {
        "personnel"
    } else if starts(&["A", "M", "F", "Q"]) || starts(&["A", "C", "F", "q"]) {
        "drone"
    } else if starts(&["A"]) {
        "aircraft"
    } else {
        return None;
    })
}

fn attribute(e: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, InputError> {
    for a in e.attributes() {
        let a = a.map_err(|err| InputError::Malformed(err.to_string()))?;
        if a.key.as_ref() == name {
            let value = a
                .unescape_value()
                .map_err(|err| InputError::Malformed(err.to_string()))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

fn number(e: &BytesStart<'_>, name: &'static str, min: f64, max: f64) -> Result<f64, InputError> {
    let text =
        attribute(e, name.as_bytes())?.ok_or_else(|| InputError::Field(name, "missing".into()))?;
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| InputError::Field(name, format!("{text:?} is not a number")))?;
    if !v.is_finite() || v < min || v > max {
        return Err(InputError::Field(
            name,
            format!("{v} is outside [{min}, {max}]"),
        ));
    }
    Ok(v)
}

/// Reads one CoT event (with or without an XML declaration).
pub fn parse_detection(xml: &[u8]) -> Result<Detection, InputError> {
    if xml.len() > MAX_EVENT_BYTES {
        return Err(InputError::TooLarge(xml.len()));
    }
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut event: Option<(String, String, Timestamp)> = None;
    let mut point: Option<(f64, f64, f64)> = None;
    let mut source = None;
    let mut confidence = None;
    let mut depth = 0usize;
    let mut closed = false;
    loop {
        let e = reader
            .read_event_into(&mut buf)
            .map_err(|err| InputError::Malformed(err.to_string()))?;
        match &e {
            Event::Start(s) | Event::Empty(s) => {
                let empty = matches!(e, Event::Empty(_));
                match (depth, s.name().as_ref()) {
                    (0, b"event") => {
                        let cot_type = attribute(s, b"type")?
                            .ok_or_else(|| InputError::Field("type", "missing".into()))?;
                        let uid = attribute(s, b"uid")?
                            .ok_or_else(|| InputError::Field("uid", "missing".into()))?;
                        let time = attribute(s, b"time")?
                            .ok_or_else(|| InputError::Field("time", "missing".into()))?;
                        let time = Timestamp::parse(&time)
                            .map_err(|err| InputError::Field("time", err.to_string()))?;
                        event = Some((cot_type, uid, time));
                    }
                    (0, other) => {
                        return Err(InputError::Malformed(format!(
                            "the root element is <{}>, not <event>",
                            String::from_utf8_lossy(other)
                        )));
                    }
                    (_, b"point") => {
                        point = Some((
                            number(s, "lat", -90.0, 90.0)?,
                            number(s, "lon", -180.0, 180.0)?,
                            number(s, "ce", 0.0, 9_999_999.0)?,
                        ));
                    }
                    (_, b"link") if attribute(s, b"relation")?.as_deref() == Some("p-p") => {
                        source = attribute(s, b"uid")?;
                    }
                    (_, b"truce") => {
                        confidence = Some(number(s, "confidence", 0.0, 1.0)?);
                    }
                    _ => {}
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    closed = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let Some((cot_type, uid, time)) = event else {
        return Err(InputError::Malformed("no <event>".into()));
    };
    if !closed {
        return Err(InputError::Malformed("the <event> is not closed".into()));
    }
    let (lat, lon, ce) = point.ok_or_else(|| InputError::Field("point", "missing".into()))?;
    detection(cot_type, uid, time, (lat, lon, ce), source, confidence)
}

/// The checks both encodings share, and the detection they make.
fn detection(
    cot_type: String,
    uid: String,
    time: Timestamp,
    (lat, lon, ce): (f64, f64, f64),
    source: Option<String>,
    confidence: Option<f64>,
) -> Result<Detection, InputError> {
    // A device's own position reports, pings and chat name no reporting sensor: that is
    // told first, so that a caller can let such chatter pass unanswered.
    let source = source
        .filter(|s| !s.trim().is_empty())
        .ok_or(InputError::NoSource)?;
    let object_class =
        object_class(&cot_type).ok_or_else(|| InputError::NotDetection(cot_type.clone()))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(InputError::Field(
            "point",
            format!("{lat}, {lon} is not on Earth"),
        ));
    }
    if !(0.0..9_999_999.0).contains(&ce) {
        return Err(InputError::Field(
            "ce",
            "unknown (9999999): truce needs the position's error".into(),
        ));
    }
    Ok(Detection {
        uid,
        cot_type,
        object_class,
        source,
        time,
        lat,
        lon,
        ce,
        confidence,
    })
}

/// See [`crate::is_protocol_request`].
pub(crate) fn is_protocol_request(xml: &[u8]) -> bool {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut asks = false;
    loop {
        let Ok(e) = reader.read_event_into(&mut buf) else {
            return false;
        };
        match e {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let name = s.name().as_ref().to_vec();
                let here: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
                match (here.as_slice(), name.as_slice()) {
                    ([], b"event")
                        if attribute(s, b"type").ok().flatten().as_deref()
                            != Some("t-x-takp-q") =>
                    {
                        return false;
                    }
                    ([b"event", b"detail", b"TakControl"], b"TakRequest") => {
                        asks = attribute(s, b"version").ok().flatten().as_deref() == Some("1");
                    }
                    _ => {}
                }
                if matches!(e, Event::Start(_)) {
                    path.push(name);
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => return asks,
            _ => {}
        }
        buf.clear();
    }
}

/// The `p-p` link and `<truce confidence>` of a detail given as XML (protobuf's
/// `xmlDetail`, which holds what the protocol has no field for).
fn detail_xml(xml: &str) -> Result<(Option<String>, Option<f64>), InputError> {
    let wrapped = format!("<detail>{xml}</detail>");
    let mut reader = Reader::from_reader(wrapped.as_bytes());
    let mut buf = Vec::new();
    let (mut source, mut confidence) = (None, None);
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|err| InputError::Malformed(format!("xmlDetail: {err}")))?
        {
            Event::Start(s) | Event::Empty(s) => match s.name().as_ref() {
                b"link" if attribute(&s, b"relation")?.as_deref() == Some("p-p") => {
                    source = attribute(&s, b"uid")?;
                }
                b"truce" => confidence = Some(number(&s, "confidence", 0.0, 1.0)?),
                _ => {}
            },
            Event::Eof => return Ok((source, confidence)),
            _ => {}
        }
        buf.clear();
    }
}

/// Why bytes on a TAK protobuf stream are not a message.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("not a TAK protocol frame: byte {0:#04x} where 0xbf starts one")]
    NotAFrame(u8),
    #[error("bad frame length")]
    BadLength,
    #[error("TAK frame of {0} bytes (at most {MAX_EVENT_BYTES})")]
    TooLarge(u64),
    #[error("not a TakMessage: {0}")]
    Decode(String),
    #[error("TAK protocol version {0} (truce reads version 1)")]
    Version(u64),
    #[error("a TAK mesh datagram without its header's closing 0xbf")]
    BadHeader,
}

/// The next message of a TAK protocol stream (`0xbf`, varint length, `TakMessage`) at the
/// start of `buffer`: `Ok(None)` while it is incomplete, else the message and the bytes it
/// took. A frame longer than [`MAX_EVENT_BYTES`] is refused before it is read.
pub fn next_frame(buffer: &[u8]) -> Result<Option<(crate::TakMessage, usize)>, FrameError> {
    use prost::Message;
    let Some(&first) = buffer.first() else {
        return Ok(None);
    };
    if first != 0xbf {
        return Err(FrameError::NotAFrame(first));
    }
    let mut rest = &buffer[1..];
    let before = rest.len();
    if !rest.iter().take(10).any(|b| b & 0x80 == 0) {
        // The varint is not complete yet (or longer than any varint).
        return if rest.len() >= 10 {
            Err(FrameError::BadLength)
        } else {
            Ok(None)
        };
    }
    let length = prost::encoding::decode_varint(&mut rest).map_err(|_| FrameError::BadLength)?;
    if length > MAX_EVENT_BYTES as u64 {
        return Err(FrameError::TooLarge(length));
    }
    let header = 1 + before - rest.len();
    let length = length as usize;
    if rest.len() < length {
        return Ok(None);
    }
    let message = crate::TakMessage::decode(&rest[..length])
        .map_err(|e| FrameError::Decode(e.to_string()))?;
    Ok(Some((message, header + length)))
}

/// The message of a TAK protocol mesh datagram, as sent over UDP: `0xbf`, the protocol
/// version as a varint (1), `0xbf`, then the `TakMessage` filling the rest of the datagram.
pub fn mesh_message(datagram: &[u8]) -> Result<crate::TakMessage, FrameError> {
    use prost::Message;
    match datagram.first() {
        Some(0xbf) => {}
        Some(&other) => return Err(FrameError::NotAFrame(other)),
        None => return Err(FrameError::BadLength),
    }
    if datagram.len() > MAX_EVENT_BYTES {
        return Err(FrameError::TooLarge(datagram.len() as u64));
    }
    let mut rest = &datagram[1..];
    let version = prost::encoding::decode_varint(&mut rest).map_err(|_| FrameError::BadHeader)?;
    if version != 1 {
        return Err(FrameError::Version(version));
    }
    let Some((0xbf, message)) = rest.split_first() else {
        return Err(FrameError::BadHeader);
    };
    crate::TakMessage::decode(message).map_err(|e| FrameError::Decode(e.to_string()))
}

/// A detection from one UDP datagram: CoT XML, or a TAK protocol mesh message (told apart
/// by the `0xbf` that starts the latter, which no XML starts with). Also the media type the
/// raw datagram is kept as.
pub fn datagram_detection(datagram: &[u8]) -> Result<(Detection, &'static str), InputError> {
    if datagram.first() == Some(&0xbf) {
        let message = mesh_message(datagram)?;
        let event = message.cot_event.ok_or_else(|| {
            InputError::Malformed("a TAK message without a CoT event".to_string())
        })?;
        Ok((proto_detection(&event)?, PROTOBUF_MEDIA_TYPE))
    } else {
        Ok((parse_detection(datagram)?, XML_MEDIA_TYPE))
    }
}

/// The media types raw CoT input is kept as in the evidence store.
pub const XML_MEDIA_TYPE: &str = "application/cot+xml";
pub const PROTOBUF_MEDIA_TYPE: &str = "application/x-tak-protobuf";

/// A detection from a TAK protocol `CotEvent` (times in milliseconds since the epoch).
pub fn proto_detection(event: &crate::ProtoEvent) -> Result<Detection, InputError> {
    let ms = if event.start_time > 0 {
        event.start_time
    } else {
        event.send_time
    };
    let time = Timestamp::from_unix_nanos(
        i64::try_from(ms)
            .ok()
            .and_then(|ms| ms.checked_mul(1_000_000))
            .ok_or_else(|| InputError::Field("startTime", format!("{ms} is out of range")))?,
    );
    let (source, confidence) = match &event.detail {
        Some(d) => detail_xml(&d.xml_detail)?,
        None => (None, None),
    };
    detection(
        event.r#type.clone(),
        event.uid.clone(),
        time,
        (event.lat, event.lon, event.ce),
        source,
        confidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MLRS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<event version=\"2.0\" uid=\"track-17\" type=\"a-h-G-E-W-R\" how=\"m-i\" time=\"2026-01-07T11:02:03.500Z\" start=\"2026-01-07T11:02:03.500Z\" stale=\"2026-01-07T11:07:03Z\"><point lat=\"48.16\" lon=\"37.97\" hae=\"9999999.0\" ce=\"25\" le=\"9999999.0\"/><detail><link uid=\"tr-dr-001\" relation=\"p-p\" type=\"a-f-A-M-F-Q\"/><truce confidence=\"0.8\"/></detail></event>";

    #[test]
    fn a_drone_detection_with_or_without_a_declaration() {
        for text in [MLRS, MLRS.split_once('\n').unwrap().1] {
            let d = parse_detection(text.as_bytes()).unwrap();
            assert_eq!(d.object_class, "mlrs");
            assert_eq!(d.source, "tr-dr-001");
            assert_eq!((d.lat, d.lon, d.ce), (48.16, 37.97, 25.0));
            assert_eq!(d.confidence, Some(0.8));
            assert_eq!(d.time.to_string(), "2026-01-07T11:02:03.500Z");
        }
    }

    #[test]
    fn every_bad_event_says_why() {
        let cases: [(String, &str); 8] = [
            (MLRS.replace("</event>", ""), "not closed"),
            (MLRS.replace("</detail>", "</detial>"), "malformed"),
            (MLRS.replace("a-h-G-E-W-R", "b-t-f"), "not a detection"),
            (MLRS.replace("a-h-G-E-W-R", "a-f-G"), "not a detection"),
            (
                MLRS.replace("relation=\"p-p\"", "relation=\"c\""),
                "no reporting sensor",
            ),
            (MLRS.replace("ce=\"25\"", "ce=\"9999999.0\""), "unknown"),
            (MLRS.replace("lat=\"48.16\"", "lat=\"98\""), "outside"),
            (
                MLRS.replace("time=\"2026-01-07T11:02:03.500Z\"", "time=\"noon\""),
                "time",
            ),
        ];
        for (text, why) in cases {
            let err = parse_detection(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(why), "{why:?} not in {err:?} for {text}");
        }
        let big = format!("{MLRS}{}", " ".repeat(MAX_EVENT_BYTES));
        assert!(matches!(
            parse_detection(big.as_bytes()),
            Err(InputError::TooLarge(_))
        ));
    }

    #[test]
    fn object_classes_from_the_cot_tree() {
        assert_eq!(object_class("a-u-G-E-V-A-T"), Some("tank"));
        assert_eq!(object_class("a-h-G-E-W-H"), Some("howitzer"));
        assert_eq!(object_class("a-n-A-M-F-Q"), Some("drone"));
        assert_eq!(object_class("a-h-G-U-C-I"), Some("personnel"));
        assert_eq!(object_class("b-m-p-s-m"), None);
        assert_eq!(object_class("t-x-takp-q"), None);
    }

    #[test]
    fn protobuf_frames_are_read_whole_and_bad_ones_refused() {
        let cot = crate::Cot {
            uid: "track-2".into(),
            kind: "a-h-G-E-V-A-T".into(),
            how: "m-i".into(),
            time: Timestamp::parse("2026-01-07T11:00:00Z").unwrap(),
            start: Timestamp::parse("2026-01-07T11:00:01Z").unwrap(),
            stale: Timestamp::parse("2026-01-07T11:05:00Z").unwrap(),
            lat: 48.2,
            lon: 37.9,
            ce: 30.0,
            callsign: "x".into(),
            remarks: "y".into(),
        };
        let mut message = cot.proto();
        message.cot_event.as_mut().unwrap().detail = Some(crate::ProtoDetail {
            xml_detail: "<link uid=\"tr-dr-001\" relation=\"p-p\"/>".into(),
        });
        let frame = crate::stream_frame(&message);
        // Incomplete: wait; whole: the message and its length.
        assert_eq!(next_frame(&frame[..frame.len() - 1]), Ok(None));
        assert_eq!(next_frame(&frame[..1]), Ok(None));
        let (back, used) = next_frame(&frame).unwrap().unwrap();
        assert_eq!(used, frame.len());
        let d = proto_detection(back.cot_event.as_ref().unwrap()).unwrap();
        assert_eq!((d.object_class, d.source.as_str()), ("tank", "tr-dr-001"));
        assert_eq!(d.time.to_string(), "2026-01-07T11:00:01Z");
        // Not a frame; a length beyond the limit; a length that never ends; not a message.
        assert_eq!(next_frame(b"<event"), Err(FrameError::NotAFrame(b'<')));
        let mut big = vec![0xbf];
        prost::encoding::encode_varint(1 << 20, &mut big);
        assert_eq!(next_frame(&big), Err(FrameError::TooLarge(1 << 20)));
        assert_eq!(next_frame(&[0xbf; 12]), Err(FrameError::BadLength));
        assert!(matches!(
            next_frame(&[0xbf, 3, 0xff, 0xff, 0xff]),
            Err(FrameError::Decode(_))
        ));
        // The same message as a UDP mesh datagram; other versions and headers are refused.
        let mesh = crate::mesh_frame(&message);
        let (d, media) = datagram_detection(&mesh).unwrap();
        assert_eq!((d.object_class, media), ("tank", PROTOBUF_MEDIA_TYPE));
        let (d, media) = datagram_detection(MLRS.as_bytes()).unwrap();
        assert_eq!((d.object_class, media), ("mlrs", XML_MEDIA_TYPE));
        let mut v2 = mesh.clone();
        v2[1] = 2;
        assert_eq!(mesh_message(&v2), Err(FrameError::Version(2)));
        assert_eq!(mesh_message(&mesh[..2]), Err(FrameError::BadHeader));
        assert_eq!(mesh_message(&[0xbf, 1, 0x00]), Err(FrameError::BadHeader));
        assert!(matches!(
            datagram_detection(&mesh[..mesh.len() - 3]),
            Err(InputError::Frame(FrameError::Decode(_)))
        ));
        assert!(matches!(
            datagram_detection(b"<event"),
            Err(InputError::Malformed(_))
        ));
        // Without its source, a detection is refused.
        message.cot_event.as_mut().unwrap().detail = None;
        assert_eq!(
            proto_detection(message.cot_event.as_ref().unwrap()),
            Err(InputError::NoSource)
        );
        // ... and is chatter, unlike an event that names its sensor but is no detection.
        assert!(InputError::NoSource.is_chatter());
        assert!(!InputError::NotDetection("b-t-f".into()).is_chatter());
    }
}
