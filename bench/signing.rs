//! DKIM signing rate: signatures per second for RSA-2048 and Ed25519 on a 5 KB list message, on
//! one core and on all cores. This is the ceiling for personalised fan-out (one signature per copy).
//!
//!     cargo bench --bench signing

#[path = "ceiling.rs"]
mod ceiling;

use circlemail::{
    config::DkimKeyConfig,
    signing::{Signers, keys},
};

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let message = list_message();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("message: {} bytes; {cores} cores", message.len());
    for kind in ["rsa", "ed25519"] {
        let path = dir.path().join(format!("{kind}.pem"));
        std::fs::write(&path, keys::generate(kind).expect("key")).expect("write key");
        let signers = Signers::load(&[DkimKeyConfig {
            domain: "lists.test".into(),
            selector: "s".into(),
            private_key: path,
            arc: false,
        }])
        .expect("load");
        let one = ceiling::signing_rate(&signers, "lists.test", &message, 1);
        let all = ceiling::signing_rate(&signers, "lists.test", &message, cores);
        println!(
            "{kind:>8}: {one:>8.0} signatures/s on one core, {all:>8.0} on {cores} cores ({:.2}x)",
            all / one
        );
    }
}

fn list_message() -> Vec<u8> {
    let mut m = String::from(
        "From: Anna <anna@x.org>\r\nTo: board@lists.test\r\nSubject: [Board] Minutes\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@x.org>\r\nList-Id: \"Board\" <board.lists.test>\r\nList-Post: <mailto:board@lists.test>\r\nPrecedence: list\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    while m.len() < 5 * 1024 {
        m.push_str("The board met on Thursday and agreed on the budget for next year.\r\n");
    }
    m.into_bytes()
}
