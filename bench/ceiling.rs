//! The signing ceiling: how many copies per second this machine can DKIM-sign with full
//! `sign()` calls (canonicalise and hash the whole message, then the key operation), shared by
//! the signing and fan-out benchmarks.

use std::time::{Duration, Instant};

use circlemail::signing::Signers;

/// Signatures per second with `threads` threads signing `message` for about 1.5 s.
pub fn signing_rate(signers: &Signers, domain: &str, message: &[u8], threads: usize) -> f64 {
    let run_for = Duration::from_millis(1500);
    let start = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0;
                    while start.elapsed() < run_for {
                        std::hint::black_box(signers.sign(domain, message));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}
