//! The runner: takes paths (from the watcher or from `ingest`), reads and
//! decodes each file, runs the parallel stages on several documents at once,
//! and hands results to the committer numbered in arrival order.
//!
//! Backpressure: the queue in front of the dispatcher is bounded and the
//! dispatcher holds a semaphore permit per document in flight, so a flood of
//! files makes the watcher wait instead of filling memory.

use crate::committer::{Committed, Committer, Job, Outcome, Summary};
use crate::config::Config;
use crate::decode::{self, Failure};
use crate::document::Document;
use crate::ndjson::{NdjsonError, NdjsonWriter};
use crate::registry::Stages;
use crate::store::{Store, StoreError};
use crate::watcher::{self, WatchError};
use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, watch, Semaphore};

/// An error that stops the engine before or while it runs.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The data folder could not be created.
    #[error("cannot create data folder {path}: {source}\n  pass a writable folder with --data")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The NDJSON file.
    #[error(transparent)]
    Ndjson(#[from] NdjsonError),
    /// The watcher.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// An internal task died.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// Shared, read-only context of the workers.
struct Context {
    stages: Stages,
    /// Files outside this folder (symlinks out) fail; None for `ingest`.
    root: Option<PathBuf>,
    max_bytes: u64,
}

/// The engine of one configuration.
pub struct Engine {
    config: Config,
    stages: Stages,
}

impl Engine {
    /// An engine over built stages.
    pub fn new(config: Config, stages: Stages) -> Engine {
        Engine { config, stages }
    }

    /// Runs the daemon until `shutdown` resolves, then drains the documents in
    /// flight and returns. Files still queued are left for the next start-up.
    pub async fn run_daemon(self, shutdown: impl Future<Output = ()>) -> Result<Summary, EngineError> {
        let details = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
            "watch": self.config.watch.dir.to_string_lossy(),
            "data": self.config.data.dir.to_string_lossy(),
        });
        let (queue_tx, queue_rx) = mpsc::channel(self.config.runner.queue);
        let (stop_tx, stop_rx) = watch::channel(false);
        let root = Some(self.config.watch.dir.clone());
        let running = self.start(queue_rx, root, Some(details), None, stop_rx.clone())?;
        let mut watcher = tokio::spawn(watcher::watch(self.config.watch.clone(), queue_tx, stop_rx));
        tracing::info!(watch = %self.config.watch.dir.display(), data = %self.config.data.dir.display(), "gleaner is running");

        let watch_result = tokio::select! {
            _ = shutdown => None,
            r = &mut watcher => Some(r),
        };
        tracing::info!("shutting down: finishing documents in flight");
        let _ = stop_tx.send(true);
        let watch_result = match watch_result {
            Some(r) => r,
            None => watcher.await,
        };
        let summary = running.finish().await?;
        match watch_result {
            Ok(Ok(())) => Ok(summary),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(EngineError::Task(e.to_string())),
        }
    }

    /// Processes `files` in the order given, through the same pipeline, and
    /// returns when all are committed. Each committed file is reported to
    /// `progress`.
    pub async fn run_ingest(self, files: Vec<PathBuf>, progress: std_mpsc::Sender<Committed>) -> Result<Summary, EngineError> {
        let (queue_tx, queue_rx) = mpsc::channel(self.config.runner.queue);
        let (_stop_tx, stop_rx) = watch::channel(false);
        let running = self.start(queue_rx, None, None, Some(progress), stop_rx)?;
        for f in files {
            if queue_tx.send(f).await.is_err() {
                break;
            }
        }
        drop(queue_tx);
        running.finish().await
    }

    /// Opens the outputs and starts the committer thread and the dispatcher.
    fn start(
        &self,
        queue: mpsc::Receiver<PathBuf>,
        root: Option<PathBuf>,
        daemon: Option<serde_json::Value>,
        progress: Option<std_mpsc::Sender<Committed>>,
        stop: watch::Receiver<bool>,
    ) -> Result<Running, EngineError> {
        let data = &self.config.data.dir;
        std::fs::create_dir_all(data).map_err(|source| EngineError::DataDir { path: data.clone(), source })?;
        let store = Store::open(&self.config.db_path())?;
        let ndjson = NdjsonWriter::open(&self.config.events_path(), &store)?;
        let lookup = Store::open(&self.config.db_path())?;
        let in_flight = Arc::new(Mutex::new(HashSet::new()));
        // A std channel: the committer is a thread and waits with a timeout.
        let (jobs_tx, jobs_rx) = std_mpsc::channel();
        let committer = Committer {
            store,
            ndjson,
            stages: self.stages.clone(),
            in_flight: in_flight.clone(),
            progress: progress.clone(),
            batch_size: self.config.runner.batch_size,
            batch_delay: std::time::Duration::from_millis(self.config.runner.batch_delay_ms),
            store_raw_text: self.config.data.store_raw_text,
            daemon,
            history_window: (self.config.data.history_days > 0)
                .then(|| chrono::Duration::days(self.config.data.history_days.min(365_000) as i64)),
        };
        let committer = std::thread::Builder::new()
            .name("gleaner-committer".into())
            .spawn(move || committer.run(jobs_rx))
            .map_err(|e| EngineError::Task(e.to_string()))?;
        let ctx = Arc::new(Context { stages: self.stages.clone(), root, max_bytes: self.config.watch.max_file_bytes });
        let workers = self.config.runner.effective_workers();
        let (work_tx, work_rx) = std_mpsc::channel::<Work>();
        let work_rx = Arc::new(Mutex::new(work_rx));
        let handle = tokio::runtime::Handle::current();
        for i in 0..workers {
            let (ctx, jobs, work, handle) = (ctx.clone(), jobs_tx.clone(), work_rx.clone(), handle.clone());
            std::thread::Builder::new()
                .name(format!("gleaner-worker-{i}"))
                .spawn(move || work_loop(&work, &ctx, &jobs, &handle))
                .map_err(|e| EngineError::Task(format!("cannot start worker thread: {e}")))?;
        }
        drop(jobs_tx);
        let dispatcher = tokio::spawn(dispatch(queue, lookup, in_flight, work_tx, progress, workers, stop));
        Ok(Running { dispatcher, committer })
    }
}

struct Running {
    dispatcher: tokio::task::JoinHandle<()>,
    committer: std::thread::JoinHandle<Summary>,
}

impl Running {
    /// Waits for the dispatcher (which ends when its queue closes) and then
    /// for the committer (which ends when the last job sender drops).
    async fn finish(self) -> Result<Summary, EngineError> {
        self.dispatcher.await.map_err(|e| EngineError::Task(e.to_string()))?;
        let committer = self.committer;
        tokio::task::spawn_blocking(move || committer.join())
            .await
            .map_err(|e| EngineError::Task(e.to_string()))?
            .map_err(|_| EngineError::Task("the committer thread panicked".into()))
    }
}

/// One document for a worker thread. The permit bounds the documents in
/// flight; the worker drops it once the committer has the result.
struct Work {
    n: u64,
    path: PathBuf,
    known_sha: Option<String>,
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// Takes paths off the queue, skips those unchanged or in flight, numbers the
/// rest in arrival order and hands them to the `workers` worker threads.
async fn dispatch(
    mut queue: mpsc::Receiver<PathBuf>,
    lookup: Store,
    in_flight: Arc<Mutex<HashSet<PathBuf>>>,
    work: std_mpsc::Sender<Work>,
    progress: Option<std_mpsc::Sender<Committed>>,
    workers: usize,
    stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(workers));
    let mut n = 0u64;
    while let Some(path) = queue.recv().await {
        if *stop.borrow() {
            // Queued but not started: left for the start-up scan of the next run.
            continue;
        }
        if !in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(path.clone()) {
            continue;
        }
        let known_sha = match lookup.file_state(&path) {
            Ok(Some(state)) => {
                let stamp = std::fs::metadata(&path).ok().map(|m| (m.len(), decode::mtime_ns(&m)));
                if stamp.is_some() && stamp == state.size.zip(state.mtime_ns) {
                    in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&path);
                    if let Some(p) = &progress {
                        let _ = p.send(Committed::Unchanged(path));
                    }
                    continue;
                }
                state.sha256
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot look up file state; processing it");
                None
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        if work.send(Work { n, path, known_sha, permit }).is_err() {
            tracing::error!("all worker threads have stopped; no more files can be processed");
            break;
        }
        n += 1;
    }
    // Dropping `work` lets the workers finish what they hold and stop.
}

/// A worker thread: runs documents until the dispatcher is gone.
///
/// The workers are a fixed set of threads, not tokio's blocking pool: that
/// pool starts a new thread whenever none is idle at the moment a document
/// arrives, and every new thread warmed its own regex and tagger caches
/// again (the lazy DFAs' state building was 7% of all CPU in `ingest`).
fn work_loop(work: &Mutex<std_mpsc::Receiver<Work>>, ctx: &Context, jobs: &std_mpsc::Sender<Job>, handle: &tokio::runtime::Handle) {
    loop {
        // The lock is held only while waiting for the next document.
        let next = work.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(Work { n, path, known_sha, permit }) = next else { return };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            process_file(&path, known_sha.as_deref(), ctx, handle)
        }))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Outcome::Failed {
                source: None,
                stamp: None,
                failure: Failure { reason: "stage_error", message: format!("{}: a stage panicked: {what}", path.display()) },
            }
        });
        let _ = jobs.send(Job { n, path, outcome });
        drop(permit);
    }
}

/// Reads, decodes and runs the parallel stages on one file.
fn process_file(path: &Path, known_sha: Option<&str>, ctx: &Context, handle: &tokio::runtime::Handle) -> Outcome {
    let stamp = std::fs::metadata(path).ok().map(|m| (m.len(), decode::mtime_ns(&m)));
    let (source, decoding, raw) = match decode::read_document(path, ctx.root.as_deref(), ctx.max_bytes) {
        Ok(r) => r,
        Err(failure) => return Outcome::Failed { source: None, stamp, failure },
    };
    if known_sha == Some(source.sha256.as_str()) {
        return Outcome::Unchanged(source);
    }
    let mut doc = Document::new(source, decoding, raw);
    let result = handle.block_on(async {
        for stage in &ctx.stages.parallel {
            let t0 = Instant::now();
            stage.process(&mut doc).await?;
            doc.timings.push((stage.name().to_string(), t0.elapsed().as_secs_f64() * 1000.0));
        }
        Ok::<(), crate::stage::StageError>(())
    });
    match result {
        Ok(()) => Outcome::Document(Box::new(doc)),
        Err(e) => Outcome::Failed {
            source: Some(doc.source.clone()),
            stamp,
            failure: Failure { reason: "stage_error", message: format!("{}: {e}", path.display()) },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::{Stage, StageError};

    /// Panics on a document that asks for it.
    struct PanicsOnRequest;

    #[async_trait::async_trait]
    impl Stage for PanicsOnRequest {
        fn name(&self) -> &str {
            "panics_on_request"
        }
        async fn process(&self, doc: &mut Document) -> Result<(), StageError> {
            if doc.raw.contains("PANIC") {
                panic!("asked to");
            }
            doc.text = doc.raw.clone();
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_stage_fails_its_document_and_the_workers_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (i, text) in ["first report", "PANIC here", "third report", "fourth report"].iter().enumerate() {
            let p = dir.path().join(format!("{i}.txt"));
            std::fs::write(&p, text).unwrap();
            files.push(p);
        }
        let toml = format!("[data]\ndir = {:?}\n[runner]\nworkers = 2\n", dir.path().join("data"));
        let config = Config::parse(&toml, "test").unwrap();
        let stages = Stages { parallel: vec![Arc::new(PanicsOnRequest)], ordered: Vec::new() };
        let (tx, rx) = std_mpsc::channel();
        let summary = Engine::new(config, stages).run_ingest(files, tx).await.unwrap();
        assert_eq!((summary.processed, summary.failed), (3, 1));
        let failed: Vec<_> = rx.try_iter().filter(|c| matches!(c, Committed::Failed(..))).collect();
        assert!(
            matches!(&failed[..], [Committed::Failed(p, reason)] if p.ends_with("1.txt") && reason == "stage_error"),
            "{failed:?}"
        );
        let events = std::fs::read_to_string(dir.path().join("data").join("events.ndjson")).unwrap();
        assert!(events.contains("a stage panicked: asked to"), "{events}");
    }
}
