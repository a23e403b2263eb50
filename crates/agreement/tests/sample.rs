//! The sample agreement in examples/agreement loads and answers sensibly.

use std::path::PathBuf;

use truce_agreement::Agreement;
use truce_model::{Located, Position};

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/agreement/agreement.toml")
}

pub fn sample() -> Agreement {
    match Agreement::load(&sample_path()) {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_sample_loads() {
    let a = sample();
    assert_eq!(a.parties.len(), 2);
    assert_eq!(a.clauses.len(), 10);
    assert_eq!(a.sites.len(), 17);
    let km = a.line.length_m(&a.earth) / 1000.0;
    assert!((1090.0..1105.0).contains(&km), "{km}");
    // Kyiv is Ukraine's; Donetsk, Melitopol and Simferopol are held by Russia; Belgorod is
    // in Russia.
    for (lat, lon, party) in [
        (50.45, 30.52, "UA"),
        (48.00, 37.80, "RU"),
        (46.85, 35.37, "RU"),
        (44.95, 34.10, "RU"),
        (50.60, 36.59, "RU"),
        (48.46, 35.05, "UA"),
    ] {
        let place = a.place(&Position::new(lat, lon));
        assert_eq!(place.side.as_deref(), Some(party), "{lat},{lon}: {place:?}");
    }
    let p = a
        .party_probabilities(&Located {
            location: Position::new(48.00, 37.80),
            covariance_m2: [[1.0e6, 0.0], [0.0, 1.0e6]],
        })
        .unwrap();
    assert!(p["RU"] > 0.999, "{p:?}");
}

#[test]
fn the_sample_sectors_cover_the_line_in_order() {
    let a = sample();
    let ids: Vec<&str> = a.sectors.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "kherson",
            "zaporizhzhia",
            "dnipropetrovsk",
            "donetsk",
            "luhansk",
            "kharkiv"
        ]
    );
    let length: f64 = a.sectors.iter().map(|s| s.length_m()).sum();
    assert!((length - a.line.length_m(&a.earth)).abs() < 1e-6);
    assert!(a.sectors.iter().all(|s| s.length_m() > 10_000.0));
    // Kherson, Enerhodar, Huliaipole, Donetsk, Kramatorsk and Kupiansk: each in the sector
    // named after its oblast.
    for (lat, lon, sector) in [
        (46.64, 32.61, "kherson"),
        (47.50, 34.66, "zaporizhzhia"),
        (47.66, 36.26, "zaporizhzhia"),
        (48.00, 37.80, "donetsk"),
        (48.72, 37.56, "donetsk"),
        (49.71, 37.61, "kharkiv"),
    ] {
        let place = a.place(&Position::new(lat, lon));
        assert_eq!(place.sector.as_deref(), Some(sector), "{lat},{lon}");
    }
}
