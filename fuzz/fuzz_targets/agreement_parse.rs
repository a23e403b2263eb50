#![no_main]
//! `Agreement::parse` on arbitrary text: the bytes before the first NUL are the agreement
//! (TOML), the rest is served as every referenced GeoJSON file. It must never panic, and
//! every problem it reports must have a place (a file and a line).

use libfuzzer_sys::fuzz_target;
use truce_agreement::Agreement;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (toml, geojson) = text.split_once('\0').unwrap_or((text, ""));
    let read = |_: &str| Ok(geojson.to_string());
    if let Err(problems) = Agreement::parse("fuzz.toml", toml, &read) {
        assert!(!problems.is_empty());
        for p in problems {
            assert!(p.line >= 1 && p.column >= 1 && !p.file.is_empty(), "{p:?}");
        }
    }
});
