//! A local DNS server for the tests (UDP, one thread): TXT answers for the DMARC and SPF records below,
//! NXDOMAIN for everything else, so no test query ever reaches the real DNS.

use std::{
    collections::HashMap,
    net::{SocketAddr, UdpSocket},
    sync::{Mutex, OnceLock},
};

/// Records added by tests at run time (name → TXT value).
static PUBLISHED: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// Publishes a TXT record on the test DNS server.
pub fn publish(name: &str, value: &str) {
    PUBLISHED
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(name.trim_end_matches('.').to_lowercase(), value.to_string());
}

/// (name, TXT value)
const RECORDS: &[(&str, &str)] = &[
    ("_dmarc.strict.example", "v=DMARC1; p=reject"),
    // strict.example's own mail passes DMARC: its SPF record authorises the loopback.
    ("strict.example", "v=spf1 ip4:127.0.0.1 -all"),
    // forged.example publishes p=reject and authorises no one: every post "from" it fails.
    ("_dmarc.forged.example", "v=DMARC1; p=reject"),
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
    let published = PUBLISHED
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(&name).cloned()));
    let txt = RECORDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
        .or(published)
        .filter(|_| qtype == 16);
    let mut r = Vec::with_capacity(512);
    r.extend_from_slice(&q[0..2]);
    let rcode = if txt.is_some() { 0 } else { 3 };
    r.extend_from_slice(&[0x81, 0x80 | rcode]);
    r.extend_from_slice(&[0, 1, 0, txt.is_some() as u8, 0, 0, 0, 0]);
    r.extend_from_slice(&q[12..question_end]);
    if let Some(t) = txt {
        // TXT data: character-strings of at most 255 bytes each.
        let mut rdata = Vec::new();
        for chunk in t.as_bytes().chunks(255) {
            rdata.push(chunk.len() as u8);
            rdata.extend_from_slice(chunk);
        }
        r.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 60]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(&rdata);
    }
    Some(r)
}
