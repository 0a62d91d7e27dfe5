//! Running an independent verifier written in Python (dkimpy, installed by `scripts/test`).

/// Runs `python3 -c SCRIPT ARG` with `input` on standard input, off the async runtime; whether
/// it exited 0, and what it printed.
pub async fn run(script: &'static str, input: Vec<u8>, arg: String) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("python3")
            .args(["-c", script, &arg])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 with dkimpy (scripts/test installs it)");
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    })
    .await
    .unwrap()
}
