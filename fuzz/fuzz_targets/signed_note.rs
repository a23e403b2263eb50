#![no_main]
//! Signed notes: `NoteVerifier::verify` with a fixed key, and `NoteVerifier::from_vkey`, on
//! arbitrary text. Neither panics; a verified note's text is a prefix of the note.

use libfuzzer_sys::fuzz_target;
use truce_ledger::NoteVerifier;

/// The vkey of `NoteSigner::new("example.com/log", [1; 32])` (it signed the seeds in
/// fuzz/seeds/signed_note).
const VKEY: &str = "example.com/log+9be5d3c6+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verifier = NoteVerifier::from_vkey(VKEY).expect("fixed vkey parses");
    if let Ok(body) = verifier.verify(text) {
        assert!(text.starts_with(body));
        assert!(body.ends_with('\n'));
    }
    if let Ok(v) = NoteVerifier::from_vkey(text) {
        assert!(text.starts_with(v.name()));
    }
});
