//! C2SP tlog-checkpoint text.

use proptest::prelude::*;
use truce_ledger::{Checkpoint, CheckpointError, NoteSigner, NoteVerifier};

#[test]
fn spec_example() {
    let text =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let c = Checkpoint::parse(text).unwrap();
    assert_eq!(c.origin, "example.com/behind-the-sofa");
    assert_eq!(c.size, 20852163);
    assert_eq!(
        hex::encode(c.root),
        "0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62"
    );
    assert!(c.extensions.is_empty());
    assert_eq!(c.to_text(), text);
}

#[test]
fn extensions_and_zero() {
    let text = "log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nfoo bar\nbaz\n";
    let c = Checkpoint::parse(text).unwrap();
    assert_eq!(c.size, 0);
    assert_eq!(c.root, truce_ledger::empty_root());
    assert_eq!(c.extensions, ["foo bar", "baz"]);
    assert_eq!(c.to_text(), text);
}

type ErrorCheck = fn(&CheckpointError) -> bool;

#[test]
fn rejects_malformed() {
    let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let cases: Vec<(String, ErrorCheck)> = vec![
        (format!("log\n1\n{root}"), |e| {
            matches!(e, CheckpointError::MissingNewline)
        }),
        (String::new(), |e| {
            matches!(e, CheckpointError::MissingNewline)
        }),
        ("log\n1\n".into(), |e| {
            matches!(e, CheckpointError::TooFewLines)
        }),
        (format!("\n1\n{root}\n"), |e| {
            matches!(e, CheckpointError::EmptyOrigin)
        }),
        (format!("log\n01\n{root}\n"), |e| {
            matches!(e, CheckpointError::BadSize(_))
        }),
        (format!("log\n00\n{root}\n"), |e| {
            matches!(e, CheckpointError::BadSize(_))
        }),
        (format!("log\n+1\n{root}\n"), |e| {
            matches!(e, CheckpointError::BadSize(_))
        }),
        (format!("log\n-1\n{root}\n"), |e| {
            matches!(e, CheckpointError::BadSize(_))
        }),
        (format!("log\n\n{root}\n"), |e| {
            matches!(e, CheckpointError::BadSize(_))
        }),
        (format!("log\n1 \n{root}\n"), |e| {
            matches!(e, CheckpointError::BadSize(_))
        }),
        (format!("log\n18446744073709551616\n{root}\n"), |e| {
            matches!(e, CheckpointError::BadSize(_))
        }),
        ("log\n1\nnot base64!\n".into(), |e| {
            matches!(e, CheckpointError::BadRootHash(_))
        }),
        ("log\n1\nAAAA\n".into(), |e| {
            matches!(e, CheckpointError::BadRootHash(_))
        }),
        (format!("log\n1\n{}\n", &root[..43]), |e| {
            matches!(e, CheckpointError::BadRootHash(_))
        }),
        // Non-canonical trailing bits in the last base64 character.
        (
            "log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n".into(),
            |e| matches!(e, CheckpointError::BadRootHash(_)),
        ),
        (format!("log\n1\n{root}\n\n"), |e| {
            matches!(e, CheckpointError::EmptyExtension)
        }),
        (format!("log\n1\n{root}\next\n\nmore\n"), |e| {
            matches!(e, CheckpointError::EmptyExtension)
        }),
        (format!("log\r\n1\n{root}\n"), |e| {
            matches!(e, CheckpointError::ControlCharacter)
        }),
    ];
    for (text, expected) in cases {
        let got = Checkpoint::parse(&text);
        assert!(
            matches!(&got, Err(e) if expected(e)),
            "{text:?} gave {got:?}"
        );
    }
    assert_eq!(
        Checkpoint::parse(&format!("log\n18446744073709551615\n{root}\n"))
            .unwrap()
            .size,
        u64::MAX
    );
}

#[test]
fn signed_checkpoint() {
    let signer = NoteSigner::new("example.com/log", [5; 32]).unwrap();
    let c = Checkpoint {
        origin: "example.com/log".into(),
        size: 42,
        root: [7; 32],
        extensions: vec![],
    };
    let note = c.sign(&signer).unwrap();
    let verifier = NoteVerifier::from_vkey(&signer.vkey()).unwrap();
    assert_eq!(Checkpoint::open(&note, &verifier).unwrap(), c);
    let other = NoteVerifier::from_vkey(&NoteSigner::new("x", [6; 32]).unwrap().vkey()).unwrap();
    assert!(matches!(
        Checkpoint::open(&note, &other),
        Err(CheckpointError::Note(_))
    ));
}

proptest! {
    #[test]
    fn round_trip(
        origin in "[a-z0-9./_-]{1,40}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in prop::collection::vec("[ -~]{1,30}", 0..4),
    ) {
        let c = Checkpoint { origin, size, root, extensions };
        prop_assert_eq!(Checkpoint::parse(&c.to_text()).unwrap(), c);
    }
}
