//! A local DNS server for the tests (UDP, one thread): TXT answers for the DMARC and SPF records below,
//! and MX / A records tests publish at run time (null MX included, SERVFAIL on request);
//! NXDOMAIN for everything else, so no test query ever reaches the real DNS.

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    sync::{Mutex, OnceLock},
};

#[derive(Default)]
struct Zone {
    txt: HashMap<String, String>,
    /// name → (preference, exchange); an exchange of "." is a null MX (RFC 7505).
    mx: HashMap<String, Vec<(u16, String)>>,
    a: HashMap<String, Vec<Ipv4Addr>>,
    servfail: Vec<String>,
}

/// Records added by tests at run time.
static ZONE: Mutex<Option<Zone>> = Mutex::new(None);

fn with_zone<T>(f: impl FnOnce(&mut Zone) -> T) -> T {
    f(ZONE.lock().unwrap().get_or_insert_with(Zone::default))
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_lowercase()
}

/// Publishes a TXT record on the test DNS server.
pub fn publish(name: &str, value: &str) {
    with_zone(|z| z.txt.insert(key(name), value.to_string()));
}

/// Publishes the MX records of `domain`: (preference, exchange).
pub fn publish_mx(domain: &str, records: &[(u16, &str)]) {
    with_zone(|z| {
        z.mx.insert(
            key(domain),
            records.iter().map(|(p, e)| (*p, key(e))).collect(),
        )
    });
}

/// Publishes the A records of `host`.
pub fn publish_a(host: &str, addrs: &[Ipv4Addr]) {
    with_zone(|z| z.a.insert(key(host), addrs.to_vec()));
}

/// Makes every query for `name` fail with SERVFAIL.
pub fn servfail(name: &str) {
    with_zone(|z| z.servfail.push(key(name)));
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

/// A domain name in wire format (no compression).
fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
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

    // (type, rdata) answers; whether the name exists at all; SERVFAIL.
    let (answers, exists, servfail): (Vec<(u16, Vec<u8>)>, bool, bool) = with_zone(|z| {
        let txt = RECORDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
            .or_else(|| z.txt.get(&name).cloned());
        let mx = z.mx.get(&name);
        let a = z.a.get(&name);
        let exists = txt.is_some() || mx.is_some() || a.is_some();
        let mut answers = Vec::new();
        match qtype {
            16 => {
                if let Some(t) = txt {
                    // TXT data: character-strings of at most 255 bytes each.
                    let mut rdata = Vec::new();
                    for chunk in t.as_bytes().chunks(255) {
                        rdata.push(chunk.len() as u8);
                        rdata.extend_from_slice(chunk);
                    }
                    answers.push((16, rdata));
                }
            }
            15 => {
                for (pref, exchange) in mx.into_iter().flatten() {
                    let mut rdata = pref.to_be_bytes().to_vec();
                    rdata.extend_from_slice(&encode_name(exchange));
                    answers.push((15, rdata));
                }
            }
            1 => {
                for ip in a.into_iter().flatten() {
                    answers.push((1, ip.octets().to_vec()));
                }
            }
            _ => {}
        }
        (answers, exists, z.servfail.contains(&name))
    });

    let mut r = Vec::with_capacity(512);
    r.extend_from_slice(&q[0..2]);
    let rcode = if servfail {
        2
    } else if exists {
        0
    } else {
        3
    };
    let answers = if servfail { Vec::new() } else { answers };
    r.extend_from_slice(&[0x81, 0x80 | rcode]);
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&q[12..question_end]);
    for (rtype, rdata) in answers {
        r.extend_from_slice(&[0xc0, 0x0c]);
        r.extend_from_slice(&rtype.to_be_bytes());
        // TTL 0: tests change records at run time.
        r.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(&rdata);
    }
    Some(r)
}
