//! The example scenarios give the same bytes as before the fault model existed: the
//! SHA-256 of each file `truce sim` writes (sensors, keys, truth, observations), recorded
//! from the simulator as it was before any fault field was added.

use sha2::{Digest, Sha256};

use super::repo;
use crate::{Scenario, Simulation, simulate};

/// Pretty JSON with a final newline, as `truce sim` writes it.
fn pretty(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap();
    bytes.push(b'\n');
    bytes
}

/// The SHA-256 of the four files of a run: sensors.json, keys.json, truth.json and
/// observations.ndjson, written as the CLI writes them.
pub(super) fn digests(sim: &Simulation) -> [String; 4] {
    let registrations: Vec<_> = sim.sensors.iter().map(|s| &s.registration).collect();
    let mut ndjson = Vec::new();
    for envelope in &sim.observations {
        ndjson.extend_from_slice(envelope);
        ndjson.push(b'\n');
    }
    [
        pretty(&registrations),
        pretty(&sim.keys()),
        pretty(&sim.truth),
        ndjson,
    ]
    .map(|bytes| hex::encode(Sha256::digest(&bytes)))
}

/// (scenario, seed, [sensors, keys, truth, observations]).
const RECORDED: [(&str, u64, [&str; 4]); 8] = [
    (
        "sparse",
        1,
        [
            "42b2c53325d22899698e7ae4c9d5d08fc47332b6aff93686b61081dc64305d48",
            "40838199c0d0c8cc5a5d002f551f171906e319345db98f0c7787c964b58a7286",
            "7010dc5135190dea9d5973af436ab8440a7498f1a14c7a0e97feabb6469c9740",
            "16ce0147e1801989e4f80b2de0c33efe4b9f3f6b301c12a02311032fe5676773",
        ],
    ),
    (
        "sparse",
        42,
        [
            "8f9a6e537f63523ca25ce846a2a6e4c73126fa8e8b2da2f43abb22f2bde59494",
            "f19ed2e2cc8d9c1dd7ccd3ea1b6a3a31fc5156aa03ef0d9609f1193705e1d840",
            "a036dd318de3029b4c58cd98a57e0f8d20883f5516aa76edec49b56ea8620704",
            "2e78d40a1e96a2a546252fd5f43f03a2c5d6a579aa278598e4cb4bef05b45e74",
        ],
    ),
    (
        "barrage",
        1,
        [
            "42b2c53325d22899698e7ae4c9d5d08fc47332b6aff93686b61081dc64305d48",
            "40838199c0d0c8cc5a5d002f551f171906e319345db98f0c7787c964b58a7286",
            "2ff02da639576634163a251617adf3608b28ae4b5f1c624b1d85a5e42f782784",
            "ca685d53fa185111ce64e37c91f5d07a470e3c3448bb3eda85546accc23b0874",
        ],
    ),
    (
        "barrage",
        42,
        [
            "8f9a6e537f63523ca25ce846a2a6e4c73126fa8e8b2da2f43abb22f2bde59494",
            "f19ed2e2cc8d9c1dd7ccd3ea1b6a3a31fc5156aa03ef0d9609f1193705e1d840",
            "ea8964a464d86e524b082a8ea9821eb54cdb7d4838c6b266ef2fd69bfceb7e19",
            "6e7373654bcd17b50bd55a35e4ca5db012749123de9d1bd789d9cdbbd80b06d7",
        ],
    ),
    (
        "wind",
        1,
        [
            "42b2c53325d22899698e7ae4c9d5d08fc47332b6aff93686b61081dc64305d48",
            "40838199c0d0c8cc5a5d002f551f171906e319345db98f0c7787c964b58a7286",
            "d11a1227e35d1a4abb7003967139f772d4db39fbbc380c86ef0f57fe76995017",
            "14e7b85c106cd5dd07b862f431fc9fad416a5bf7ce47fdc3176ecb00392d064d",
        ],
    ),
    (
        "wind",
        42,
        [
            "8f9a6e537f63523ca25ce846a2a6e4c73126fa8e8b2da2f43abb22f2bde59494",
            "f19ed2e2cc8d9c1dd7ccd3ea1b6a3a31fc5156aa03ef0d9609f1193705e1d840",
            "e92ff8c4e36efba9edec4a361a12ce981fa45f33cff9035bb374c33d26d999fb",
            "f328039abaa2b3d1545d5ecb4ccfb631893a0cb9e23e3cfc4d33536a187b1d47",
        ],
    ),
    (
        "day",
        1,
        [
            "48b78135ee19b0f28ab13bb169c4baa36c43a9bd616498fb742b22c5e521e18e",
            "75b7f498c846046d1185184d58aff696915cbf74e60db82f68ede2aba7b1c8ca",
            "d692b17dce79a1c3caba57cf0ebf2c4ffe908968ffc67c35f541a2a57c3c07c5",
            "c199334840dec184f0ddea6831fda689c38bb0ffe30e5480543b38ee92a2ae71",
        ],
    ),
    (
        "day",
        42,
        [
            "d54756893bf3ddc0bef02780e6233751f27e5d6554fe870c5f8c3992871c6075",
            "665ef8b4fd76cc3b0ec46bd101d8a56065afcbc167a657a643aa3fe36d58bbba",
            "2d58f615f4c9a051b4d08e90ff7e8fde9f9e799a0b5d529d3d31d18ad1e93389",
            "13897865d1e6d8097acdfd422c8cdf4dfb6a29b2abbbdc8f0c829750a84df502",
        ],
    ),
];

const FILES: [&str; 4] = [
    "sensors.json",
    "keys.json",
    "truth.json",
    "observations.ndjson",
];

/// The day gained an array registered 300 m off (for the demo's sensor health) after its
/// bytes were recorded: the scenario without its `[[sensor_faults]]`, which must give the
/// bytes as before (a copy in a temporary directory, its files named by absolute path).
fn without_faults(path: &std::path::Path) -> Scenario {
    let dir = path.parent().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let start = text
        .find("[[sensor_faults]]")
        .expect("the day's sensor fault");
    let end = start + text[start..].find("\n\n").unwrap();
    let text = format!("{}{}", &text[..start], &text[end + 2..])
        .replace(
            "agreement = \"../agreement/agreement.toml\"",
            &format!("agreement = {:?}", dir.join("../agreement/agreement.toml")),
        )
        .replace(
            "network = \"donetsk-network.toml\"",
            &format!("network = {:?}", dir.join("donetsk-network.toml")),
        );
    assert!(!text.contains("sensor_faults"));
    let tmp = std::env::temp_dir().join(format!("truce-golden-day-{}.toml", std::process::id()));
    std::fs::write(&tmp, text).unwrap();
    let s = Scenario::load(&tmp).unwrap_or_else(|e| panic!("day without faults: {e}"));
    std::fs::remove_file(&tmp).ok();
    s
}

#[test]
fn the_example_scenarios_give_the_recorded_bytes() {
    for (name, seed, expected) in RECORDED {
        let path = repo().join(format!("examples/scenarios/{name}.toml"));
        let s = if name == "day" {
            without_faults(&path)
        } else {
            Scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let got = digests(&simulate(&s, seed));
        for (k, file) in FILES.iter().enumerate() {
            assert_eq!(got[k], expected[k], "{name} seed {seed}: {file} changed");
        }
    }
}

#[test]
fn the_unit_scenario_gives_the_recorded_bytes() {
    // The unit network with a westerly, a random-class false fraction, every script type.
    let weather = "temperature_c = 5.0\nwind_speed_mps = 8.0\nwind_from_deg = 270.0";
    let s = super::scenario(weather, 0.25, super::EVENTS);
    let got = digests(&simulate(&s, 3));
    let expected = [
        "27f61542122fc2332a04ee3fedca2b24acb8ea39203f4e37e53bc69b140e51ff",
        "9f872fc263600f440f3472efe11a7f1edebb1317c0fafe70f9564a7f67d71ea1",
        "6672ba7906562ecc9185725631d1b4ccaa2f282e8413e70faa004683b5ec65e9",
        "ef9cb3773ef09d869c8e7d1cf886aed2a4b39725142c6ac99e6e8b78c414a192",
    ];
    for (k, file) in FILES.iter().enumerate() {
        assert_eq!(got[k], expected[k], "unit scenario: {file} changed");
    }
}
