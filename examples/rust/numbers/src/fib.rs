//! Fibonacci numbers modulo m, by 2x2 matrix powers.

type M = [[u64; 2]; 2];

fn mul(a: &M, b: &M, m: u64) -> M {
    let mut c = [[0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            for k in 0..2 {
                c[i][j] = (c[i][j] + a[i][k] * b[k][j] % m) % m;
            }
        }
    }
    c
}

/// fib(n) mod m, with fib(0) = 0 and fib(1) = 1; m < 2^32.
pub fn fib_mod(mut n: u64, m: u64) -> u64 {
    let mut result: M = [[1, 0], [0, 1]];
    let mut base: M = [[1, 1], [1, 0]];
    while n > 0 {
        if n & 1 == 1 {
            result = mul(&result, &base, m);
        }
        base = mul(&base, &base, m);
        n >>= 1;
    }
    result[0][1]
}
