//! Server time of the operations pages (filled in below).
fn main() {}
