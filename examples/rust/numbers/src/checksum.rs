//! 64-bit FNV-1a, for a stable fingerprint of text.

const OFFSET: u64 = 0xcbf29ce484222325;
const PRIME: u64 = 0x100000001b3;

/// The FNV-1a hash of data.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(OFFSET, |h, &b| (h ^ b as u64).wrapping_mul(PRIME))
}
