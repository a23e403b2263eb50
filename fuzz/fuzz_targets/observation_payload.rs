#![no_main]
//! `Observation::parse` on arbitrary bytes: a verdict, never a panic. An accepted payload
//! must name a kind it can be checked against and the clock times derived from it.

use libfuzzer_sys::fuzz_target;
use truce_model::Observation;

fuzz_target!(|data: &[u8]| {
    if let Ok(o) = Observation::parse(data) {
        assert!(!o.sensor.is_empty());
        assert!(!o.kind.is_empty());
        let times = o.times();
        assert_eq!(times[0], ("observed_at", o.observed_at));
    }
});
