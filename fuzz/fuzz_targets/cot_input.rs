#![no_main]
//! Cursor-on-Target input: `parse_detection` on arbitrary bytes as XML, `next_frame` with
//! `proto_detection` on arbitrary bytes as a TAK protocol stream, and `datagram_detection`
//! on them as a UDP datagram (XML or mesh framing). None panics; a detection is always on
//! Earth with a known error, and a frame never claims more bytes than it was given.

use libfuzzer_sys::fuzz_target;

fn check(d: &truce_cot::Detection) {
    assert!((-90.0..=90.0).contains(&d.lat) && (-180.0..=180.0).contains(&d.lon));
    assert!(d.ce < 9_999_999.0 && !d.source.is_empty());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = truce_cot::parse_detection(data) {
        check(&d);
    }
    if let Ok((d, _)) = truce_cot::datagram_detection(data) {
        check(&d);
    }
    let mut rest = data;
    while let Ok(Some((message, used))) = truce_cot::next_frame(rest) {
        assert!(used > 1 && used <= rest.len());
        if let Some(event) = &message.cot_event {
            if let Ok(d) = truce_cot::proto_detection(event) {
                check(&d);
            }
        }
        rest = &rest[used..];
    }
});
