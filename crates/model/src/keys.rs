//! Which Ed25519 public keys truce accepts. Signatures are verified under ZIP-215
//! (ed25519-consensus), which accepts every encoding of every point, so a key must be
//! refused before it is trusted when:
//! - it is of small order (one of the eight points of the 8-torsion, the identity among
//!   them): with such a key, a fixed signature verifies for every message, so anyone could
//!   sign for the sensor or account;
//! - it is not the canonical encoding of its point (a y coordinate of p or more, or a sign
//!   bit on x = 0): two spellings of one key would let one key pass for two.

use curve25519_dalek_ng::edwards::CompressedEdwardsY;

/// `Ok` for a key fit to register: a point of the curve, canonically encoded, not of small
/// order; else why not.
pub fn check_public_key(bytes: &[u8; 32]) -> Result<(), String> {
    let point = CompressedEdwardsY(*bytes)
        .decompress()
        .ok_or_else(|| "is not a point of the curve".to_string())?;
    if point.compress().to_bytes() != *bytes {
        return Err("is not the canonical encoding of its point".into());
    }
    if point.is_small_order() {
        return Err("is of small order: a fixed signature would verify for every message".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek_ng::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek_ng::scalar::Scalar;

    /// The edge cases of ZIP-215's test set for public keys: the encodings of the eight
    /// small-order points, canonical and not (y + p where it fits in 255 bits, and the
    /// sign bit set on x = 0), each of which ZIP-215 verification accepts as a key.
    fn small_order_encodings() -> Vec<[u8; 32]> {
        let mut all = Vec::new();
        for p in EIGHT_TORSION.iter() {
            let canonical = p.compress().to_bytes();
            all.push(canonical);
            // The sign bit flipped: non-canonical when x = 0 (y = ±1), another point (or
            // none) otherwise.
            let mut flipped = canonical;
            flipped[31] ^= 0x80;
            all.push(flipped);
            // y + p, for the y that leave it under 2^255 (y < 19: here y = 0 and y = 1).
            let mut y = canonical;
            y[31] &= 0x7f;
            if y[1..].iter().all(|&b| b == 0) && y[0] < 19 {
                // p = 2^255 - 19: y + p = 2^255 - 19 + y, its low byte 0xed + y.
                let mut plus_p = [0xff; 32];
                plus_p[31] = 0x7f;
                plus_p[0] = 0xed + y[0];
                plus_p[31] |= canonical[31] & 0x80;
                all.push(plus_p);
                let mut signed = plus_p;
                signed[31] ^= 0x80;
                all.push(signed);
            }
        }
        all.sort_unstable();
        all.dedup();
        all
    }

    #[test]
    fn every_small_order_or_non_canonical_encoding_is_refused() {
        let cases = small_order_encodings();
        // 8 canonical and 6 not: the sign bit set on x = 0 (y = 1 and y = -1), and y = 0
        // and y = 1 spelled y + p, each with both sign bits.
        assert_eq!(cases.len(), 14);
        for bytes in &cases {
            assert!(check_public_key(bytes).is_err(), "accepted {}", hex(bytes));
        }
        // The identity (y = 1) and its non-canonical spellings among them.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(cases.contains(&identity));
        assert!(check_public_key(&identity).is_err());
    }

    #[test]
    fn a_real_key_is_accepted_and_its_non_canonical_spelling_is_not() {
        let point = ED25519_BASEPOINT_POINT * Scalar::from(123_456_789u64);
        let bytes = point.compress().to_bytes();
        assert_eq!(check_public_key(&bytes), Ok(()));
        // A point of large order plus a small-order one is neither small nor the same key.
        let mixed = (point + EIGHT_TORSION[1]).compress().to_bytes();
        assert_eq!(check_public_key(&mixed), Ok(()));
        // Not on the curve.
        let mut off = [0u8; 32];
        off[0] = 2;
        assert!(check_public_key(&off).is_err());
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
