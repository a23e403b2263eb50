//! The TAK Protocol version 1 messages truce writes (the public `takmessage.proto`,
//! `cotevent.proto`, `detail.proto` and `takcontrol.proto` of the TAK protocol), declared
//! with prost's derive rather than generated, to keep protoc out of the build. Field numbers
//! and types are the protocol's; fields truce does not write are left out, which protobuf
//! readers accept.

/// `TakMessage`: a control message or a CoT event.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TakMessage {
    #[prost(message, optional, tag = "1")]
    pub tak_control: Option<TakControl>,
    #[prost(message, optional, tag = "2")]
    pub cot_event: Option<CotEvent>,
}

/// `TakControl`: the protocol versions a sender supports.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TakControl {
    #[prost(uint32, tag = "1")]
    pub min_proto_version: u32,
    #[prost(uint32, tag = "2")]
    pub max_proto_version: u32,
    #[prost(string, tag = "3")]
    pub contact_uid: String,
}

/// `CotEvent`: the event's attributes and point; times in milliseconds since the epoch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CotEvent {
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(string, tag = "2")]
    pub access: String,
    #[prost(string, tag = "3")]
    pub qos: String,
    #[prost(string, tag = "4")]
    pub opex: String,
    #[prost(string, tag = "5")]
    pub uid: String,
    #[prost(uint64, tag = "6")]
    pub send_time: u64,
    #[prost(uint64, tag = "7")]
    pub start_time: u64,
    #[prost(uint64, tag = "8")]
    pub stale_time: u64,
    #[prost(string, tag = "9")]
    pub how: String,
    #[prost(double, tag = "10")]
    pub lat: f64,
    #[prost(double, tag = "11")]
    pub lon: f64,
    #[prost(double, tag = "12")]
    pub hae: f64,
    #[prost(double, tag = "13")]
    pub ce: f64,
    #[prost(double, tag = "14")]
    pub le: f64,
    #[prost(message, optional, tag = "15")]
    pub detail: Option<Detail>,
}

/// `Detail`: what the protocol has no field for, as XML (truce's contact and remarks).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Detail {
    #[prost(string, tag = "1")]
    pub xml_detail: String,
}
