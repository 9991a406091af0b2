//! A sieve of Eratosthenes.

/// The primes below n, in increasing order.
pub fn below(n: u64) -> Vec<u64> {
    let n = n as usize;
    if n < 3 {
        return Vec::new();
    }
    let mut composite = vec![false; n];
    let mut out = Vec::new();
    for i in 2..n {
        if composite[i] {
            continue;
        }
        out.push(i as u64);
        let mut j = i * i;
        while j < n {
            composite[j] = true;
            j += i;
        }
    }
    out
}

/// How many primes are below n.
pub fn count_below(n: u64) -> usize {
    below(n).len()
}
