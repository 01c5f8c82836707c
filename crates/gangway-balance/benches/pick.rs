//! Criterion benchmarks of `ServerSet::pick` (filled in below).
fn main() {}
