//! Ed25519 verification, single and batched, with ZIP-215 validity rules.

use ed25519_consensus::{Signature, VerificationKey, VerificationKeyBytes, batch};

/// One signature to check: the public key, the signature and the signed message.
#[derive(Clone, Debug)]
pub struct SignatureCheck<'a> {
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
    pub message: &'a [u8],
}

impl SignatureCheck<'_> {
    /// Checks this one signature on its own.
    pub fn verify(&self) -> bool {
        VerificationKey::try_from(self.public_key)
            .and_then(|key| key.verify(&Signature::from(self.signature), self.message))
            .is_ok()
    }
}

/// A signature ready for batch verification: its message already hashed into the
/// challenge, so the message itself need not be kept.
#[derive(Clone, Debug)]
pub(crate) struct Prepared(batch::Item);

impl SignatureCheck<'_> {
    /// Hashes the message with the key and the signature's `R` (what batch verification
    /// needs of the message).
    pub(crate) fn prepare(&self) -> Prepared {
        Prepared(batch::Item::from((
            VerificationKeyBytes::from(self.public_key),
            Signature::from(self.signature),
            self.message,
        )))
    }
}

/// Verifies every check; returns one verdict per check, in order.
///
/// The whole set is first verified as one batch; if the batch fails, each signature is
/// verified alone to find the bad ones. ZIP-215 makes batch and single verification agree.
pub fn verify_all(checks: &[SignatureCheck<'_>]) -> Vec<bool> {
    match checks {
        [] => Vec::new(),
        [one] => vec![one.verify()],
        _ => verify_prepared(checks.iter().map(SignatureCheck::prepare).collect()),
    }
}

/// [`verify_all`] for signatures already prepared.
pub(crate) fn verify_prepared(items: Vec<Prepared>) -> Vec<bool> {
    let single = |item: Prepared| item.0.verify_single().is_ok();
    if items.len() < 2 {
        return items.into_iter().map(single).collect();
    }
    let mut verifier = batch::Verifier::new();
    for item in &items {
        verifier.queue(item.0.clone());
    }
    if verifier.verify(rand_core::OsRng).is_ok() {
        vec![true; items.len()]
    } else {
        items.into_iter().map(single).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_consensus::SigningKey;

    fn signed(seed: u8, message: &[u8]) -> ([u8; 32], [u8; 64]) {
        let key = SigningKey::from([seed; 32]);
        (
            key.verification_key().to_bytes(),
            key.sign(message).to_bytes(),
        )
    }

    #[test]
    fn batch_finds_the_bad_signature() {
        let messages: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 40]).collect();
        let mut checks: Vec<SignatureCheck<'_>> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let (public_key, signature) = signed(i as u8 + 1, m);
                SignatureCheck {
                    public_key,
                    signature,
                    message: m,
                }
            })
            .collect();
        assert_eq!(verify_all(&checks), vec![true; 10]);
        checks[3].signature[0] ^= 1;
        checks[7].message = b"tampered";
        let verdicts = verify_all(&checks);
        let bad: Vec<_> = (0..10).filter(|i| !verdicts[*i]).collect();
        assert_eq!(bad, [3, 7]);
        let prepared = checks.iter().map(SignatureCheck::prepare).collect();
        assert_eq!(verify_prepared(prepared), verdicts);
    }

    #[test]
    fn a_non_canonical_key_is_rejected_not_panicking() {
        let check = SignatureCheck {
            public_key: [0xff; 32],
            signature: [0; 64],
            message: b"x",
        };
        assert!(!check.verify());
        assert_eq!(
            verify_all(&[check.clone(), check.clone()]),
            vec![false, false]
        );
        assert_eq!(verify_prepared(vec![check.prepare()]), vec![false]);
    }
}
