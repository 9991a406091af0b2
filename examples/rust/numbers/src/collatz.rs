//! Collatz chains, with a cache of the lengths already known.

use std::collections::HashMap;

/// The length of the Collatz chain from n down to 1 (1 for n = 1).
pub fn chain_len(n: u64, known: &mut HashMap<u64, u32>) -> u32 {
    if n == 1 {
        return 1;
    }
    if let Some(&l) = known.get(&n) {
        return l;
    }
    let next = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
    let l = 1 + chain_len(next, known);
    known.insert(n, l);
    l
}

/// The start below n (n > 1) of the longest chain, and its length.
pub fn longest_below(n: u64) -> (u64, u32) {
    let mut known = HashMap::new();
    let mut best = (1, 1);
    for start in 1..n {
        let l = chain_len(start, &mut known);
        if l > best.1 {
            best = (start, l);
        }
    }
    best
}
