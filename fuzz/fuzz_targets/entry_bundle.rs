#![no_main]
//! `decode_entry_bundle` on arbitrary bytes; a decoded bundle re-encodes to the input.

use libfuzzer_sys::fuzz_target;
use truce_ledger::{decode_entry_bundle, encode_entry_bundle};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = decode_entry_bundle(data) {
        let again = encode_entry_bundle(entries.iter().copied()).expect("entries fit a bundle");
        assert_eq!(again, data);
    }
});
