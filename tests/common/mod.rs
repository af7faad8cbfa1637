//! Helpers of the end-to-end tests: start the real `gleaner` binary on a
//! temp folder, drop files, read NDJSON and SQLite back. Waits are on
//! conditions with a deadline, never fixed sleeps.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(90);

/// A temp workspace: watch/, data/, and a config pointing at them.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace::with_limits(100_000)
    }

    /// `max_file_bytes` small enough to test the too-large failure cheaply.
    pub fn with_limits(max_file_bytes: u64) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("watch")).unwrap();
        let config = format!(
            r#"
[watch]
dir = "{watch}"
settle_ms = 300
write_idle_secs = 5
reconcile_secs = 2
max_file_bytes = {max_file_bytes}

[data]
dir = "{data}"

[runner]
workers = 2
batch_size = 16

[[stages]]
type = "clean"
[[stages]]
type = "language"
[[stages]]
type = "dates"
[[stages]]
type = "entities"
[[stages]]
type = "dedup"
[[stages]]
type = "recurring_blocks"
"#,
            watch = dir.path().join("watch").display(),
            data = dir.path().join("data").display(),
        );
        std::fs::write(dir.path().join("gleaner.toml"), config).unwrap();
        Workspace { dir }
    }

    pub fn watch(&self) -> PathBuf {
        self.dir.path().join("watch")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("gleaner.toml")
    }

    pub fn events_path(&self) -> PathBuf {
        self.data().join("events.ndjson")
    }

    /// Starts `gleaner run`; its stderr goes to `daemon-N.log` in the workspace.
    pub fn start(&self) -> Daemon {
        let n = std::fs::read_dir(self.dir.path()).unwrap().count();
        let log = std::fs::File::create(self.dir.path().join(format!("daemon-{n}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .arg("--config")
            .arg(self.config())
            .arg("run")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start gleaner");
        Daemon { child: Some(child) }
    }

    /// Every event in the NDJSON file (a torn last line is skipped).
    pub fn events(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(self.events_path()) else { return Vec::new() };
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Document events (`document.*`).
    pub fn document_events(&self) -> Vec<Value> {
        self.events().into_iter().filter(|e| e["type"].as_str().unwrap_or("").starts_with("document.")).collect()
    }

    /// Waits until `cond` holds on the events, or panics at the deadline.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let events = self.events();
            if cond(&events) {
                return events;
            }
            if start.elapsed() > DEADLINE {
                panic!("timed out waiting for {what}; {} events so far; logs:\n{}", events.len(), self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the `n`th `daemon.started` event: a (re)started daemon is
    /// up and has its signal handlers.
    pub fn wait_for_start(&self, n: usize) {
        self.wait_for(&format!("daemon.started #{n}"), |ev| ev.iter().filter(|e| e["type"] == "daemon.started").count() >= n);
    }

    /// A folder `input/` holding the five samples, for `ingest`.
    pub fn samples_folder(&self) -> PathBuf {
        let input = self.dir.path().join("input");
        std::fs::create_dir_all(&input).unwrap();
        for (name, bytes) in samples() {
            std::fs::write(input.join(&name), bytes).unwrap();
        }
        input
    }

    /// Drops the five samples into the watch folder.
    pub fn drop_samples(&self) {
        for (name, bytes) in samples() {
            self.drop_file(&name, &bytes);
        }
    }

    /// Waits for `n` document events.
    pub fn wait_for_documents(&self, n: usize) -> Vec<Value> {
        self.wait_for(&format!("{n} document events"), |ev| {
            ev.iter().filter(|e| e["type"].as_str().unwrap_or("").starts_with("document.")).count() >= n
        })
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(self.data().join("gleaner.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn logs(&self) -> String {
        let mut logs: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        logs.sort();
        logs.iter().map(|p| format!("== {}\n{}", p.display(), std::fs::read_to_string(p).unwrap_or_default())).collect()
    }

    /// Writes a file into the watch folder via a temporary name and a
    /// rename, as a careful producer does.
    pub fn drop_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let tmp = self.watch().join(format!(".{name}.part"));
        std::fs::write(&tmp, bytes).unwrap();
        let path = self.watch().join(name);
        std::fs::rename(&tmp, &path).unwrap();
        path
    }
}

/// A running daemon; killed if the test forgets.
pub struct Daemon {
    child: Option<Child>,
}

impl Daemon {
    /// Wraps a daemon started by hand (other arguments, other folder).
    pub fn from_child(child: Child) -> Daemon {
        Daemon { child: Some(child) }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// SIGTERM, then waits for exit (panics at the deadline).
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.pid();
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.wait()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        let pid = self.pid();
        unsafe { libc::kill(pid, libc::SIGKILL) };
        self.wait();
    }

    fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                panic!("gleaner did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The five sample reports shipped as fixtures.
pub fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samples");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

/// Base name of an event's source path.
pub fn base(e: &Value) -> String {
    Path::new(e["source"]["path"].as_str().unwrap_or(""))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A distinct synthetic report, long enough to be cleaned as body text:
/// sentences drawn by a seeded generator, so no two reports share much.
pub fn report(i: usize) -> String {
    const SUBJECTS: &[&str] = &[
        "The minister",
        "A spokesman for the army",
        "The opposition leader",
        "Local officials",
        "The central bank",
        "Aid workers",
        "The mayor of the city",
        "Two diplomats",
        "The court",
        "Farmers in the north",
        "The union",
        "Police officers",
    ];
    const VERBS: &[&str] = &[
        "said that",
        "warned that",
        "denied that",
        "confirmed that",
        "argued that",
        "reported that",
        "told reporters that",
        "insisted that",
    ];
    const CLAUSES: &[&str] = &[
        "the talks would resume in the spring",
        "prices of fuel had doubled since the summer",
        "the border crossing was closed again",
        "nobody had been arrested for the attack",
        "the new law would be challenged in court",
        "the harvest was the worst in a decade",
        "the ceasefire was holding in most areas",
        "the budget would be cut by a third",
        "schools in the region would reopen on Monday",
        "the strike would go on until the end of the month",
        "the water supply of the city was at risk",
        "a report on the incident would be published soon",
    ];
    let mut state = (i as u64).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut pick = |n: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n
    };
    let mut s = format!("Report {i}: {} {}\n\n", SUBJECTS[pick(SUBJECTS.len())], CLAUSES[pick(CLAUSES.len())]);
    for _ in 0..4 {
        let mut para = Vec::new();
        for _ in 0..4 {
            para.push(format!(
                "{} {} {}, and {} {} {}.",
                SUBJECTS[pick(SUBJECTS.len())],
                VERBS[pick(VERBS.len())],
                CLAUSES[pick(CLAUSES.len())],
                SUBJECTS[pick(SUBJECTS.len())].to_lowercase(),
                VERBS[pick(VERBS.len())],
                CLAUSES[pick(CLAUSES.len())]
            ));
        }
        s += &para.join(" ");
        s += "\n\n";
    }
    s += &format!("Reference number {i}.\n");
    s
}
