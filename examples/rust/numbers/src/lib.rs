//! Small number-theory and hashing routines, one module each.

pub mod checksum;
pub mod collatz;
pub mod fib;
pub mod primes;

/// A one-line summary of what the modules compute for n.
pub fn summary(n: u64) -> String {
    format!(
        "primes below {n}: {}; longest Collatz chain below {n} starts at {}; fib({n}) mod 1e9+7 = {}",
        primes::count_below(n),
        collatz::longest_below(n).0,
        fib::fib_mod(n, 1_000_000_007),
    )
}
