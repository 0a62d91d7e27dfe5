//! A local DNS server for the tests (UDP, one thread): TXT answers for the DMARC records below,
//! NXDOMAIN for everything else, so no test query ever reaches the real DNS.

use std::{net::SocketAddr, net::UdpSocket, sync::OnceLock};

/// (name, TXT value)
const RECORDS: &[(&str, &str)] = &[
    ("_dmarc.strict.example", "v=DMARC1; p=reject"),
    (
        "_dmarc.quarantine.example",
        "v=DMARC1; p=quarantine; sp=none",
    ),
    ("_dmarc.relaxed.example", "v=DMARC1; p=none"),
];

/// The address of the test DNS server (started on first use).
pub fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind test DNS");
        let addr = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                if let Some(reply) = answer(&buf[..n]) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        addr
    })
}

fn answer(q: &[u8]) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    while *q.get(i)? != 0 {
        let len = q[i] as usize;
        labels.push(String::from_utf8_lossy(q.get(i + 1..i + 1 + len)?).to_ascii_lowercase());
        i += 1 + len;
    }
    let qtype = u16::from_be_bytes([*q.get(i + 1)?, *q.get(i + 2)?]);
    let question_end = i + 5;
    let name = labels.join(".");
    let txt = RECORDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .filter(|_| qtype == 16);
    let mut r = Vec::with_capacity(128);
    r.extend_from_slice(&q[0..2]);
    let rcode = if txt.is_some() || RECORDS.iter().any(|(n, _)| *n == name) {
        0
    } else {
        3
    };
    r.extend_from_slice(&[0x81, 0x80 | rcode]);
    r.extend_from_slice(&[0, 1, 0, txt.is_some() as u8, 0, 0, 0, 0]);
    r.extend_from_slice(&q[12..question_end]);
    if let Some(t) = txt {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 60]);
        r.extend_from_slice(&((t.len() + 1) as u16).to_be_bytes());
        r.push(t.len() as u8);
        r.extend_from_slice(t.as_bytes());
    }
    Some(r)
}
