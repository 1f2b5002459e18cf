//! Tenant tokens: what a client presents, and the digest the server keeps.
//!
//! A token is `wgt_<id>_<secret>`: a public id (16 hex digits) that finds
//! the tenant without comparing secrets one by one, and a 256-bit secret
//! (base64url). Only the secret's SHA-256 is stored, so the tenant database
//! leaks no working token; a fast hash is enough because the secret is
//! random, not a password. The id says nothing about the tenant's name.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "wgt_";
const ID_LEN: usize = 16;
const SECRET_BYTES: usize = 32;

/// A new token, as handed to the operator once.
pub struct Issued {
    /// The whole token: `wgt_<id>_<secret>`.
    pub token: String,
    /// Its public id.
    pub id: String,
    /// The secret's digest, which is all that is stored.
    pub digest: [u8; 32],
}

/// Makes a new token.
pub fn issue() -> Issued {
    let id: String = (0..ID_LEN / 2).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; SECRET_BYTES]>());
    let digest = digest(&secret);
    Issued { token: format!("{PREFIX}{id}_{secret}"), id, digest }
}

/// The id and secret of something shaped like a token.
pub fn parse(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = (rest.get(..ID_LEN)?, rest.get(ID_LEN..)?.strip_prefix('_')?);
    (id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty()).then_some((id, secret))
}

/// The digest stored for `secret`.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` is the one `expected` was made from, in time that does
/// not depend on where they differ.
pub fn matches(secret: &str, expected: &[u8; 32]) -> bool {
    digest(secret).ct_eq(expected).into()
}

/// Hex, for the database.
pub fn to_hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Back from hex; `None` for anything else.
pub fn from_hex(text: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_only_its_own_secret_matches() {
        let issued = issue();
        let (id, secret) = parse(&issued.token).expect("a token parses");
        assert_eq!(id, issued.id);
        assert!(matches(secret, &issued.digest));
        assert!(!matches(&format!("{secret}x"), &issued.digest));
        assert_eq!(from_hex(&to_hex(&issued.digest)), Some(issued.digest));
        assert_ne!(issue().token, issued.token);
        assert!(issued.token.len() > 60, "{}", issued.token);
    }

    #[test]
    fn what_is_not_a_token() {
        for text in ["", "wgt_", "wgt_0123456789abcdef", "wgt_0123456789abcdef_", "wgt_0123456789abcdeg_x", "secret"] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
