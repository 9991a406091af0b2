//! Prints what the numbers crate computes for n (default 100000), and a
//! checksum of that text.

use numbers::checksum::fnv1a;

fn main() {
    let n = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("n must be a number"))
        .unwrap_or(100_000);
    let text = numbers::summary(n);
    println!("{text}");
    println!("checksum {:016x}", fnv1a(text.as_bytes()));
}
