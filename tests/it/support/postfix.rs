//! A private Postfix instance (Debian's `postfix` package, installed by `scripts/test`): its own
//! configuration directory, queue directory and ports chosen free at run time, started with
//! `postfix -c DIR start` and stopped when dropped. It never reads or touches /etc/postfix's
//! main.cf or the system instance. Postfix starts only as root (its master drops privileges to
//! the `postfix` user); elsewhere [`Postfix::available`] says why it cannot run.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

pub const POSTFIX: &str = "/usr/sbin/postfix";

/// What circlemail offers the instance: its LMTP listener and its socketmap listener.
pub struct Wiring {
    pub socketmap: SocketAddr,
    /// Where Postfix relays everything that is not for the list domain (the test sink).
    pub relayhost: SocketAddr,
}

pub struct Postfix {
    pub dir: tempfile::TempDir,
    /// The instance's SMTP server (smtpd).
    pub smtp: SocketAddr,
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap()
}

impl Postfix {
    /// `Err(why)` when this machine cannot run a private Postfix (the test then says SKIPPED).
    pub fn available() -> Result<(), String> {
        if !Path::new(POSTFIX).exists() {
            return Err(format!(
                "{POSTFIX} is missing: install Debian's postfix (scripts/test does)"
            ));
        }
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("Postfix's master must be started as root".into());
        }
        Ok(())
    }

    /// Writes main.cf and master.cf for an instance listening on `smtp` and starts it.
    pub fn start(smtp: SocketAddr, wiring: &Wiring) -> Postfix {
        let dir = tempfile::Builder::new()
            .prefix("circlemail-postfix-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        // The postfix user's processes must reach the queue below the temp dir.
        chmod(root, "755");
        for sub in ["conf", "queue", "data"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        let run = |args: &[&str]| {
            let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        };
        run(&["chown", "postfix", root.join("data").to_str().unwrap()]);
        let sm = wiring.socketmap;
        let main_cf = format!(
            "# A private Postfix for circlemail's tests (tests/it/support/postfix.rs).
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix.test
mydomain = postfix.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtputf8_enable = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [{relay_ip}]:{relay_port}
smtp_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# What docs/postfix.md tells users to write: circlemail answers these lookups.
recipient_delimiter = +
relay_domains = socketmap:inet:{sm}:domains
relay_recipient_maps = socketmap:inet:{sm}:recipients
transport_maps = socketmap:inet:{sm}:transport
",
            root = root.display(),
            relay_ip = wiring.relayhost.ip(),
            relay_port = wiring.relayhost.port(),
        );
        std::fs::write(root.join("conf/main.cf"), main_cf).unwrap();
        let master_cf = format!(
            "{smtp} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
        );
        std::fs::write(root.join("conf/master.cf"), master_cf).unwrap();
        let postfix = Postfix { dir, smtp };
        let out = postfix.command("start");
        assert!(
            out.status.success(),
            "postfix start failed: {out:?}\n{}",
            postfix.log()
        );
        postfix.wait_listening();
        postfix
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    fn command(&self, what: &str) -> std::process::Output {
        Command::new(POSTFIX)
            .arg("-c")
            .arg(self.conf())
            .arg(what)
            .output()
            .expect("run postfix")
    }

    /// The instance's log (maillog_file).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    fn wait_listening(&self) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(self.smtp).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Postfix does not listen on {}:\n{}", self.smtp, self.log());
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = self.command("stop");
        // `stop` returns once master is told; wait until it is gone.
        for _ in 0..50 {
            if !self.command("status").status.success() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn chmod(path: &Path, mode: &str) {
    let out = Command::new("chmod").arg(mode).arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "chmod {mode} {}: {out:?}",
        path.display()
    );
}
