//! The broker-session fuzz check (crates/bridge/fuzz) over its seeds and
//! every input it has found a problem with (crates/bridge/fuzz/regressions),
//! so a fixed finding stays fixed.

#[path = "common/fuzz_session.rs"]
mod fuzz_session;

use std::path::Path;

fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).expect("readable"))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn seeds_and_past_findings_run_clean() {
    let seeds = inputs("fuzz/seeds");
    assert!(seeds.len() >= 3, "the seeds are there");
    for (name, data) in &seeds {
        // The seeds are real conversations: both clients get answers (a
        // CONNACK at least, and the messages the other published).
        let received = fuzz_session::check_broker(data);
        assert!(received.iter().all(|n| *n >= 4), "{name}: {received:?}");
    }
    let pubsub = &seeds
        .iter()
        .find(|(n, _)| n == "v311_pubsub")
        .expect("seed")
        .1;
    assert!(
        fuzz_session::check_broker(pubsub)[0] > 4 + 5 + 20,
        "the subscriber got CONNACK, SUBACK and the messages"
    );
    for (name, data) in seeds.iter().chain(&inputs("fuzz/regressions")) {
        eprintln!("{name}");
        fuzz_session::check_broker(data);
        // Every prefix too: each is a client that stopped mid-way.
        for cut in (1..data.len()).step_by(7) {
            fuzz_session::check_broker(&data[..cut]);
        }
    }
}
