#![no_main]
//! `TilePath::parse` accepts only canonical paths: what parses prints back as the input and
//! re-parses to the same value.

use libfuzzer_sys::fuzz_target;
use truce_ledger::TilePath;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = TilePath::parse(text) {
        let printed = path.to_string();
        assert_eq!(printed, text, "non-canonical tile path accepted");
        assert_eq!(TilePath::parse(&printed), Ok(path));
    }
});
