#![no_main]
//! `Entry::decode` on arbitrary bytes; whatever decodes re-encodes to the same bytes, and
//! reading a sensor entry's record (version 1 or a signed version 2) never panics.

use libfuzzer_sys::fuzz_target;
use truce_model::Entry;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::decode(data) {
        let again = Entry {
            kind: entry.kind,
            version: entry.version,
            body: entry.body,
        }
        .encode()
        .expect("a decoded entry re-encodes");
        assert_eq!(again, data);
        if entry.kind.sensor_payload_type().is_some() {
            let _ = entry.sensor_record();
        }
    }
});
