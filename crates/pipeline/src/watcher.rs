//! The watcher: turns a folder into a stream of paths of complete files.
//!
//! Three sources of truth, because each alone loses files:
//! * `notify` events, for low latency;
//! * a full scan at start-up, for files dropped while the daemon was down;
//! * a periodic reconcile scan, for events the OS dropped (inotify queue
//!   overflow, network filesystems).
//!
//! A file is complete when its writer closed it (close-after-write), when it
//! was renamed into the folder, or when its size and mtime have not changed
//! for the settle window. A file a writer opened and has not closed (we saw
//! its create/modify events but no close) must be idle for the longer
//! `write_idle_secs`: a slow download that pauses is not taken half-written.
//! Temporary names are never taken until renamed.

use crate::config::WatchConfig;
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher as _};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Error starting the watcher.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The folder could not be created or watched.
    #[error("cannot watch {path}: {message}\n  check that the folder exists and is readable, or pass another one with --watch")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// True for names a downloader or editor uses while writing.
pub fn is_temporary_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return true };
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.ends_with('~')
        || [".part", ".tmp", ".crdownload", ".swp", ".partial", ".download"].iter().any(|s| lower.ends_with(s))
}

/// True when the name passes the temporary-name and extension filters.
pub fn is_candidate(path: &Path, extensions: &[String]) -> bool {
    if is_temporary_name(path) {
        return false;
    }
    if extensions.is_empty() {
        return true;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    extensions.iter().any(|e| name.ends_with(&e.to_ascii_lowercase()))
}

/// Every candidate file under `dir`, recursively, sorted by path.
pub fn scan(dir: &Path, extensions: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                if !is_temporary_name(&path) {
                    stack.push(path);
                }
            } else if is_candidate(&path, extensions) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Size and mtime: what "unchanged" means for a file.
type Stamp = (u64, i64);

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then(|| (meta.len(), crate::decode::mtime_ns(&meta)))
}

/// A file seen changing, waiting for its settle window to pass.
struct Pending {
    stamp: Option<Stamp>,
    since: Instant,
    /// A writer opened it (create/modify events) and has not closed it: wait
    /// for the close, or for the longer idle window if it never comes.
    writing: bool,
}

/// Watches `config.dir` and sends paths of complete files to `out` until
/// `out` is closed or `shutdown` fires.
pub async fn watch(
    config: WatchConfig,
    out: mpsc::Sender<PathBuf>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), WatchError> {
    let werr = |message: String| WatchError::Watch { path: config.dir.clone(), message };
    std::fs::create_dir_all(&config.dir).map_err(|e| werr(e.to_string()))?;
    // Absolute, so a file has one path whether the scan or an OS event
    // (always absolute) found it: the path is the file's identity.
    let dir = std::path::absolute(&config.dir).map_err(|e| werr(e.to_string()))?;

    // notify calls back on its own thread; an unbounded channel keeps that
    // thread from ever blocking while we wait on a full queue downstream.
    let (tx, mut events) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let _ = tx.send(res);
    })
    .map_err(|e| werr(e.to_string()))?;
    watcher.watch(&dir, RecursiveMode::Recursive).map_err(|e| werr(e.to_string()))?;

    let settle = Duration::from_millis(config.settle_ms);
    let write_idle = Duration::from_secs(config.write_idle_secs).max(settle);
    let mut state = WatchState {
        pending: HashMap::new(),
        emitted: HashMap::new(),
        settle,
        write_idle,
        extensions: config.extensions.clone(),
    };
    // Start-up scan after the watch is in place, so nothing falls in between.
    let mut ready = state.reconcile(&dir);
    let mut tick = tokio::time::interval(Duration::from_millis((config.settle_ms / 4).clamp(20, 250)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reconcile = tokio::time::interval(Duration::from_secs(config.reconcile_secs.max(1)));
    reconcile.reset();

    loop {
        for path in ready.drain(..) {
            tokio::select! {
                sent = out.send(path) => if sent.is_err() { return Ok(()) },
                _ = shutdown.changed() => return Ok(()),
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            Some(res) = events.recv() => match res {
                Ok(event) => ready.extend(state.on_event(event)),
                Err(e) => {
                    // Typically an inotify overflow: rescan now rather than wait.
                    tracing::warn!(error = %e, "file watcher error; rescanning the folder");
                    ready.extend(state.reconcile(&dir));
                }
            },
            _ = tick.tick() => ready.extend(state.settled()),
            _ = reconcile.tick() => ready.extend(state.reconcile(&dir)),
        }
    }
}

struct WatchState {
    pending: HashMap<PathBuf, Pending>,
    /// What was last sent per path, so a rescan does not send it again.
    emitted: HashMap<PathBuf, Stamp>,
    settle: Duration,
    /// How long a file a writer still holds open must sit idle to be taken.
    write_idle: Duration,
    extensions: Vec<String>,
}

impl WatchState {
    fn on_event(&mut self, event: notify::Event) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        let complete = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To))
                | EventKind::Modify(ModifyKind::Name(RenameMode::Both))
        );
        for (i, path) in event.paths.iter().enumerate() {
            // RenameMode::Both carries [from, to]: only `to` is new.
            if matches!(event.kind, EventKind::Modify(ModifyKind::Name(RenameMode::Both))) && i == 0 {
                continue;
            }
            if path.is_dir() {
                // A folder moved in arrives whole, with no events for its files.
                for f in scan(path, &self.extensions) {
                    self.note(f, false);
                }
                continue;
            }
            if !is_candidate(path, &self.extensions) {
                continue;
            }
            if complete {
                ready.extend(self.take_now(path.clone()));
            } else if matches!(event.kind, EventKind::Access(_)) {
                // Opens and reads (ours among them) change nothing.
                continue;
            } else {
                let writing = matches!(
                    event.kind,
                    EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_)) | EventKind::Modify(ModifyKind::Any)
                );
                self.note(path.clone(), writing);
            }
        }
        ready
    }

    fn note(&mut self, path: PathBuf, writing: bool) {
        let now = Instant::now();
        let p = self.pending.entry(path).or_insert(Pending { stamp: None, since: now, writing });
        p.writing |= writing;
    }

    fn take_now(&mut self, path: PathBuf) -> Option<PathBuf> {
        self.pending.remove(&path);
        let s = stamp(&path)?;
        if self.emitted.get(&path) == Some(&s) {
            return None;
        }
        self.emitted.insert(path.clone(), s);
        Some(path)
    }

    /// Pending files whose size and mtime held still for the settle window.
    fn settled(&mut self) -> Vec<PathBuf> {
        let now = Instant::now();
        let mut ready = Vec::new();
        let mut gone = Vec::new();
        for (path, p) in self.pending.iter_mut() {
            match stamp(path) {
                None => gone.push(path.clone()),
                Some(s) if p.stamp != Some(s) => {
                    p.stamp = Some(s);
                    p.since = now;
                }
                Some(_) if now.duration_since(p.since) >= if p.writing { self.write_idle } else { self.settle } => {
                    ready.push(path.clone())
                }
                Some(_) => {}
            }
        }
        for path in gone {
            self.pending.remove(&path);
        }
        ready.sort();
        ready.into_iter().filter_map(|p| self.take_now(p)).collect()
    }

    /// Full scan: files not sent in their current state. Those untouched for
    /// a settle window are ready now; the others wait.
    fn reconcile(&mut self, dir: &Path) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        for path in scan(dir, &self.extensions) {
            let Some(s) = stamp(&path) else {
                // A dangling or outward symlink still deserves a verdict.
                if std::fs::symlink_metadata(&path).is_ok() && !self.emitted.contains_key(&path) {
                    self.emitted.insert(path.clone(), (0, 0));
                    ready.push(path);
                }
                continue;
            };
            if self.emitted.get(&path) == Some(&s) || self.pending.contains_key(&path) {
                continue;
            }
            if now_ns.saturating_sub(s.1) >= self.settle.as_nanos() as i64 {
                self.emitted.insert(path.clone(), s);
                ready.push(path);
            } else {
                self.note(path, false);
            }
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_ignored() {
        for name in [".hidden.txt", "a.txt.part", "a.tmp", "report.txt.crdownload", "a.txt~"] {
            assert!(is_temporary_name(Path::new(name)), "{name}");
        }
        assert!(!is_temporary_name(Path::new("watch/report.txt")));
    }

    #[test]
    fn extension_filter() {
        let exts = vec![".txt".to_string()];
        assert!(is_candidate(Path::new("a.TXT"), &exts));
        assert!(!is_candidate(Path::new("a.pdf"), &exts));
        assert!(is_candidate(Path::new("a.pdf"), &[]));
    }

    #[test]
    fn scan_is_recursive_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for p in ["b.txt", "a.txt", "sub/c.txt", ".x.txt", "d.part"] {
            std::fs::write(dir.path().join(p), "x").unwrap();
        }
        let names: Vec<_> = scan(dir.path(), &[]).iter().map(|p| p.strip_prefix(dir.path()).unwrap().to_path_buf()).collect();
        assert_eq!(names, vec![PathBuf::from("a.txt"), PathBuf::from("b.txt"), PathBuf::from("sub/c.txt")]);
    }
}
