use prost::Message;

use super::*;

fn finding() -> Finding {
    let mut probabilities = std::collections::BTreeMap::new();
    probabilities.insert("RU".to_string(), 0.99);
    probabilities.insert("UA".to_string(), 0.01);
    Finding {
        id: "f-1".into(),
        agreement: "a".into(),
        clause: "2".into(),
        rule: "cross_line_fire".into(),
        event: "ev-1".into(),
        event_type: EventType::Launch,
        time: Timestamp::parse("2026-01-07T08:30:22.123456789Z").unwrap(),
        generic_type: "Shelling".into(),
        sub_type: "explosion_outgoing".into(),
        weapon_class: None,
        location: truce_model::Position::new(48.4, 37.7),
        distance_to_line_m: 3_240.0,
        side: Some("RU".into()),
        zones: vec![],
        attribution: truce_model::Attribution {
            party: Some("RU".into()),
            probabilities,
            threshold: 0.95,
            basis: "origin".into(),
        },
        state: truce_model::VerificationState::Verified,
        protected_sites: vec![],
        observations: (100..120).collect(),
        operators: vec!["FR".into(), "UA".into()],
        modalities: vec!["acoustic".into()],
        detail: "launch <3.2 km> & across".into(),
        provisional: false,
        incident: None,
    }
}

#[test]
fn a_finding_is_a_spot_marker_naming_clause_attribution_and_evidence() {
    let now = Timestamp::parse("2026-01-07T09:00:00Z").unwrap();
    let cot = Cot::of_finding(&finding(), Some(120.0), now);
    let xml = cot.xml();
    assert!(xml.starts_with("<event version=\"2.0\" uid=\"truce-f-1\" type=\"b-m-p-s-m\" how=\"m-f\" time=\"2026-01-07T09:00:00.000Z\" start=\"2026-01-07T08:30:22.123Z\" stale=\"2026-01-08T09:00:00.000Z\">"), "{xml}");
    assert!(xml.contains("ce=\"120.0\""));
    assert!(xml.contains("clause 2 (cross_line_fire)"));
    assert!(xml.contains("attribution: RU (RU 99.0 %, UA 1.0 %)"));
    assert!(xml.contains("state: verified"));
    assert!(xml.contains("log entries 100, 101,"));
    assert!(xml.contains("and 8 more"));
    assert!(
        xml.contains("launch &lt;3.2 km&gt; &amp; across"),
        "escaped: {xml}"
    );
    assert_eq!(xml.matches("<event").count(), 1);
}

#[test]
fn the_protobuf_message_carries_the_same_event_in_stream_framing() {
    let now = Timestamp::parse("2026-01-07T09:00:00Z").unwrap();
    let cot = Cot::of_finding(&finding(), None, now);
    let frame = stream_frame(&cot.proto());
    assert_eq!(frame[0], 0xbf);
    let mut rest = &frame[1..];
    let length = prost::encoding::decode_varint(&mut rest).unwrap() as usize;
    assert_eq!(length, rest.len());
    let back = TakMessage::decode(rest).unwrap();
    let e = back.cot_event.unwrap();
    assert_eq!(e.uid, "truce-f-1");
    assert_eq!(e.r#type, "b-m-p-s-m");
    assert_eq!(e.how, "m-f");
    assert_eq!(e.start_time, 1_767_774_622_123);
    assert_eq!(e.stale_time - e.send_time, 86_400_000);
    assert_eq!(e.ce, UNKNOWN);
    assert!(e.detail.unwrap().xml_detail.contains("clause 2"));
}

#[test]
fn weapon_types_follow_the_class_and_affiliation_is_unknown() {
    assert_eq!(
        event_type(EventType::Launch, Some(WeaponClass::Mlrs)),
        "a-u-G-E-W-R"
    );
    assert_eq!(
        event_type(EventType::WeaponPresence, Some(WeaponClass::Tank)),
        "a-u-G-E-V-A-T"
    );
    assert_eq!(event_type(EventType::Impact, None), "b-m-p-s-m");
    assert_eq!(event_type(EventType::AirspaceEntry, None), "a-u-A");
}

#[test]
fn the_protocol_negotiation_messages() {
    let now = Timestamp::parse("2026-01-07T09:00:00Z").unwrap();
    assert!(protocol_offer(now).contains("<TakProtocolSupport version=\"1\"/>"));
    assert!(protocol_response(now, true).contains("<TakResponse status=\"true\"/>"));
    let request = "<?xml version=\"1.0\"?><event version=\"2.0\" uid=\"x\" type=\"t-x-takp-q\" how=\"m-g\"><detail><TakControl><TakRequest version=\"1\"/></TakControl></detail></event>";
    assert!(is_protocol_request(request));
    assert!(!is_protocol_request(
        &request.replace("t-x-takp-q", "a-f-G")
    ));
}

#[test]
fn replies_acknowledge_or_refuse_in_cot_request_response_types() {
    let now = Timestamp::parse("2026-01-07T11:00:00Z").unwrap();
    let track = Detection {
        uid: "track-7".into(),
        cot_type: "a-h-G-U-C-F".into(),
        object_class: "mlrs",
        source: "tr-dr-001".into(),
        time: now,
        lat: 48.1,
        lon: 37.6,
        ce: 20.0,
        confidence: None,
    };
    // A reply about a detection is named after it and placed at its point.
    let ok = Cot::reply(Some(&track), 1, &Ok(42), now);
    assert_eq!(
        (ok.kind.as_str(), ok.uid.as_str(), ok.lat, ok.lon),
        ("y-a-r", "truce-reply-track-7", 48.1, 37.6)
    );
    assert_eq!(ok.remarks, "truce: logged observation 42");
    let again = Cot::reply(Some(&track), 2, &Err("a replay".into()), now);
    assert_eq!(
        (again.kind.as_str(), again.uid.as_str()),
        ("y-c-f", ok.uid.as_str())
    );
    // One about input that could not be read is numbered, at no place.
    let no = Cot::reply(None, 2, &Err("a <bad> frame".into()), now);
    assert_eq!(
        (no.uid.as_str(), no.lat, no.lon),
        ("truce-reply-2", 0.0, 0.0)
    );
    assert_eq!(no.kind, "y-c-f");
    assert!(
        no.xml()
            .contains("<remarks>truce: refused: a &lt;bad&gt; frame</remarks>")
    );
    let event = no.proto().cot_event.unwrap();
    assert_eq!(event.stale_time - event.send_time, 60_000);
    assert!(
        event
            .detail
            .unwrap()
            .xml_detail
            .contains("refused: a &lt;bad&gt;")
    );
}

#[test]
fn ce_is_the_95_percent_circle_of_the_largest_sigma_as_detections_read_it() {
    let at = Timestamp::parse("2026-01-07T09:00:00Z").unwrap();
    // A 90 % ellipse of semi-major axis 214.6 m: σ 100 m along it.
    let event = truce_fusion::FusedEvent {
        event: truce_model::Event::new(
            "ev-1",
            EventType::Launch,
            at,
            truce_model::Position::new(48.4, 37.7),
            [[10_000.0, 0.0], [0.0, 2_500.0]],
        ),
        crb_m: None,
        ellipse_90: [214.596_602_628_934_7, 107.3, 90.0],
        score: None,
    };
    let ce = ce_of(&event);
    assert!((ce - 244.774_683).abs() < 1e-3, "{ce}");
    assert_eq!(Cot::of_event(&event, at).ce, ce);
    // A detection's `ce` read back as σ gives the σ it was written from.
    assert!((ce / CE_SIGMAS - 100.0).abs() < 1e-6);
    let unlocated = truce_fusion::FusedEvent {
        ellipse_90: [0.0, 0.0, 0.0],
        ..event
    };
    assert_eq!(ce_of(&unlocated), UNKNOWN);
}
