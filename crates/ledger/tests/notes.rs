//! C2SP signed notes, including the Go note package example vector
//! (tests/vectors/signed-note.md).

use truce_ledger::{NoteError, NoteSigner, NoteVerifier, key_id};

struct Vector {
    skey: String,
    vkey: String,
    text: String,
    signature_line: String,
}

/// Pull the vector out of the markdown file: the indented lines hold the keys and the note.
fn vector() -> Vector {
    let md = include_str!("vectors/signed-note.md");
    let indented: Vec<&str> = md.lines().filter_map(|l| l.strip_prefix("    ")).collect();
    let find = |prefix: &str| {
        indented
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap()
            .to_string()
    };
    let skey = find("PRIVATE+KEY+");
    let vkey = find("PeterNeumann+");
    let sig = find("\u{2014} ");
    let text_start = indented
        .iter()
        .position(|l| l.starts_with("If you think"))
        .unwrap();
    let text = format!("{}\n{}\n", indented[text_start], indented[text_start + 1]);
    Vector {
        skey,
        vkey,
        text,
        signature_line: format!("{sig}\n"),
    }
}

#[test]
fn go_note_vector_byte_for_byte() {
    let v = vector();
    let signer = NoteSigner::from_skey(&v.skey).unwrap();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(hex::encode(signer.key_id()), "c74f20a3");
    assert_eq!(
        key_id("PeterNeumann", &signer.public_key()),
        signer.key_id()
    );
    assert_eq!(signer.skey(), v.skey);
    assert_eq!(signer.vkey(), v.vkey);
    assert_eq!(signer.signature_line(&v.text).unwrap(), v.signature_line);
    let note = signer.sign(&v.text).unwrap();
    assert_eq!(note, format!("{}\n{}", v.text, v.signature_line));

    let verifier = NoteVerifier::from_vkey(&v.vkey).unwrap();
    assert_eq!(verifier.name(), "PeterNeumann");
    assert_eq!(verifier.key_id(), signer.key_id());
    assert_eq!(verifier.verify(&note).unwrap(), v.text);
}

#[test]
fn other_signatures_are_ignored() {
    let v = vector();
    let log = NoteSigner::from_skey(&v.skey).unwrap();
    let witness = NoteSigner::new("witness.example/w1", [9; 32]).unwrap();
    let note = format!(
        "{}\n{}{}",
        v.text,
        witness.signature_line(&v.text).unwrap(),
        log.signature_line(&v.text).unwrap()
    );
    let verifier = NoteVerifier::from_vkey(&log.vkey()).unwrap();
    assert_eq!(verifier.verify(&note).unwrap(), v.text);
    // Same name, different key (so different ID): ignored, hence no signature by our key.
    let impostor = NoteSigner::new("PeterNeumann", [1; 32]).unwrap();
    let forged = impostor.sign(&v.text).unwrap();
    assert!(matches!(
        verifier.verify(&forged),
        Err(NoteError::NoSignature { .. })
    ));
    // A signature with our name and ID that does not verify rejects the note.
    let mut parts: Vec<&str> = v.signature_line.trim_end().split(' ').collect();
    let good_sig = parts[2].to_owned();
    let mut raw = base64_decode(&good_sig);
    raw[10] ^= 1;
    let bad_sig = base64_encode(&raw);
    parts[2] = &bad_sig;
    let tampered = format!("{}\n{}\n", v.text, parts.join(" "));
    assert!(matches!(
        verifier.verify(&tampered),
        Err(NoteError::BadSignature { .. })
    ));
    // Changed text.
    let changed = note.replacen("cryptography", "Cryptography", 1);
    assert!(matches!(
        verifier.verify(&changed),
        Err(NoteError::BadSignature { .. })
    ));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn malformed_notes() {
    let v = vector();
    let verifier = NoteVerifier::from_vkey(&v.vkey).unwrap();
    let good = format!("{}\n{}", v.text, v.signature_line);
    let sig = v.signature_line.trim_end();
    for bad in [
        String::new(),
        v.text.clone(),
        format!("{}{}", v.text, v.signature_line), // no blank line
        format!("{}\n{sig}", v.text),              // no final newline
        format!("{}\n\n", v.text),                 // no signatures
        format!("{}\n{}", v.text, sig.replacen('\u{2014}', "-", 1) + "\n"),
        format!("{}\n{}\n", v.text, sig.replacen(' ', "  ", 1)),
        format!("{}\n{}\n", v.text, sig.replacen("PeterNeumann ", "", 1)),
        format!("{}\n{}x\n", v.text, sig), // bad base64
        format!("{}\n\u{2014} PeterNeumann AAAA\n", v.text), // too short
        good.replacen("problem,", "problem,\r", 1), // control character
        format!("{good}\n"),               // trailing blank line
    ] {
        assert!(
            matches!(verifier.verify(&bad), Err(NoteError::MalformedNote(_))),
            "{bad:?}: {:?}",
            verifier.verify(&bad)
        );
    }
    // Too many signatures.
    let other = NoteSigner::new("other", [3; 32]).unwrap();
    let many = format!(
        "{}\n{}{}",
        v.text,
        other.signature_line(&v.text).unwrap().repeat(200),
        v.signature_line
    );
    assert!(matches!(
        verifier.verify(&many),
        Err(NoteError::MalformedNote(_))
    ));
    // Sixteen signatures are fine.
    let sixteen = format!(
        "{}\n{}{}",
        v.text,
        other.signature_line(&v.text).unwrap().repeat(15),
        v.signature_line
    );
    assert_eq!(verifier.verify(&sixteen).unwrap(), v.text);
}

#[test]
fn malformed_keys() {
    let v = vector();
    let bad_id = v.vkey.replace("c74f20a3", "c74f20a4");
    assert_eq!(
        NoteVerifier::from_vkey(&bad_id).unwrap_err(),
        NoteError::KeyIdMismatch
    );
    let bad_id = v.skey.replace("c74f20a3", "c74f20a4");
    assert_eq!(
        NoteSigner::from_skey(&bad_id).unwrap_err(),
        NoteError::KeyIdMismatch
    );
    for bad in [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+x",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(NoteVerifier::from_vkey(bad).is_err(), "{bad:?}");
    }
    assert!(NoteSigner::from_skey(&v.vkey).is_err());
    assert!(NoteSigner::from_skey(&v.skey.replacen("PRIVATE+KEY+", "PRIVATE+KEY+x", 1)).is_err());
    assert!(matches!(
        NoteSigner::new("bad name", [0; 32]),
        Err(NoteError::InvalidKeyName(_))
    ));
}
