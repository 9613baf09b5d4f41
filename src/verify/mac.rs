//! Computes HMACs and compares them with offered signatures in constant time, and decodes the
//! offered signatures from hex or base64. The only file that touches the crypto crates, so every
//! scheme compares the same careful way.
//!
//! Signatures are compared as decoded bytes with `subtle`, never as strings with `==`, so the
//! time taken does not reveal how many leading bytes of a forgery were right.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// The hash under the HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    /// Twilio (and GitHub's legacy header), and configurable schemes that ask for it.
    Sha1,
    /// Configurable schemes only.
    Sha512,
}

impl Algorithm {
    /// Every algorithm by its config name, for parsing and for messages.
    pub const ALL: [(&'static str, Algorithm); 3] = [
        ("sha1", Algorithm::Sha1),
        ("sha256", Algorithm::Sha256),
        ("sha512", Algorithm::Sha512),
    ];

    /// Parses a config name (`sha1`, `sha256`, `sha512`).
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| a)
    }

    /// Length of the MAC in bytes; an offered signature of another length cannot match.
    pub(super) fn output_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha1 => 20,
            Algorithm::Sha512 => 64,
        }
    }
}

/// HMAC of the concatenation of `message` parts, keyed with `key`. The parts let callers sign
/// `"{t}.{body}"` without copying a large body. `None` only if the key is refused, which HMAC
/// never does (it accepts keys of any length).
pub(super) fn tag(algorithm: Algorithm, key: &[u8], message: &[&[u8]]) -> Option<Vec<u8>> {
    match algorithm {
        Algorithm::Sha256 => compute::<Hmac<Sha256>>(key, message),
        Algorithm::Sha1 => compute::<Hmac<Sha1>>(key, message),
        Algorithm::Sha512 => compute::<Hmac<Sha512>>(key, message),
    }
}

/// Whether two byte strings are equal, in time that depends only on their lengths (for
/// credentials compared as they are, not as MACs).
pub(super) fn equal(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

fn compute<M: Mac + KeyInit>(key: &[u8], message: &[&[u8]]) -> Option<Vec<u8>> {
    let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
    for part in message {
        mac.update(part);
    }
    Some(mac.finalize().into_bytes().to_vec())
}

/// Whether the HMAC under any of `keys` equals any of the `offered` signatures.
///
/// One HMAC per key (the body is hashed once per secret, however many signatures are offered),
/// then a constant-time comparison with each offered signature.
pub(super) fn any_matches<'k>(
    algorithm: Algorithm,
    keys: impl IntoIterator<Item = &'k [u8]>,
    message: &[&[u8]],
    offered: &[Vec<u8>],
) -> bool {
    keys.into_iter().any(|key| {
        tag(algorithm, key, message)
            .is_some_and(|want| offered.iter().any(|sig| bool::from(want.ct_eq(sig))))
    })
}

/// Decodes a hex signature of exactly `len` bytes (either case); `None` for anything else. The
/// length is checked first, so a huge value is refused without being decoded.
pub(super) fn decode_hex(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() != len * 2 {
        return None;
    }
    let mut out = vec![0; len];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Decodes a padded standard-alphabet base64 signature of exactly `len` bytes; `None` for
/// anything else. The length is checked first, so a huge value is refused without decoding.
pub(super) fn decode_base64(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() != len.div_ceil(3) * 4 {
        return None;
    }
    STANDARD
        .decode(text)
        .ok()
        .filter(|bytes| bytes.len() == len)
}

/// Test helpers that sign the way senders do, for the schemes' unit tests.
#[cfg(test)]
pub(super) mod sign {
    use super::*;

    pub(in crate::verify) fn hex(algorithm: Algorithm, key: &[u8], message: &[&[u8]]) -> String {
        hex::encode(tag(algorithm, key, message).unwrap_or_default())
    }

    pub(in crate::verify) fn base64(algorithm: Algorithm, key: &[u8], message: &[&[u8]]) -> String {
        STANDARD.encode(tag(algorithm, key, message).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hmac_matches_githubs_published_example() {
        let key = b"It's a Secret to Everybody";
        let want = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            sign::hex(Algorithm::Sha256, key, &[b"Hello, ", b"World!"]),
            want
        );
    }

    #[test]
    fn any_secret_may_match_any_offered_signature() {
        let message: &[&[u8]] = &[b"body"];
        let good = tag(Algorithm::Sha1, b"new", message).unwrap_or_default();
        let offered = vec![vec![0; 20], good];
        let keys: [&[u8]; 2] = [b"old", b"new"];
        assert!(any_matches(Algorithm::Sha1, keys, message, &offered));
        assert!(!any_matches(
            Algorithm::Sha1,
            [b"other".as_slice()],
            message,
            &offered
        ));
        assert!(!any_matches(Algorithm::Sha1, [], message, &offered));
    }

    #[test]
    fn a_signature_of_the_wrong_length_is_not_decoded() {
        assert_eq!(decode_hex("abcd", 2), Some(vec![0xab, 0xcd]));
        assert_eq!(decode_hex("ABCD", 2), Some(vec![0xab, 0xcd]));
        assert_eq!(decode_hex("abc", 2), None);
        assert_eq!(decode_hex("zzzz", 2), None);
        assert_eq!(decode_hex("éé", 2), None);
        assert_eq!(decode_base64("AAAA", 3), Some(vec![0, 0, 0]));
        assert_eq!(decode_base64("AAA=", 3), None);
        assert_eq!(decode_base64("AA==", 1), Some(vec![0]));
        assert_eq!(decode_base64("AAAAAAAA", 3), None);
    }
}
