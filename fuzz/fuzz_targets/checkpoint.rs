#![no_main]
//! `Checkpoint::parse` on arbitrary text; a parsed checkpoint's `to_text` re-parses to the
//! same checkpoint.

use libfuzzer_sys::fuzz_target;
use truce_ledger::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(checkpoint) = Checkpoint::parse(text) {
        let printed = checkpoint.to_text();
        assert_eq!(Checkpoint::parse(&printed), Ok(checkpoint));
    }
});
