//! The committer: one thread that puts results in arrival order, runs the
//! ordered stages (dedup), writes each batch in one SQLite transaction with
//! its outbox events, then appends those events to the NDJSON file.
//!
//! It is a plain thread, not a task: every step is blocking IO or CPU, and a
//! single writer is what makes "earlier report" and `seq` well defined.

use crate::decode::Failure;
use crate::document::{Document, Source};
use crate::event;
use crate::history_index::HistoryIndex;
use crate::ndjson::NdjsonWriter;
use crate::registry::Stages;
use crate::stage::StageError;
use crate::store::{self, SqlHistory, Store};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// What processing one file produced.
#[derive(Debug)]
pub enum Outcome {
    /// Read, decoded and through the parallel stages.
    Document(Box<Document>),
    /// Could not become a document.
    Failed {
        /// What is known of the file (size, mtime, hash), if it could be read.
        source: Option<Source>,
        /// Size and mtime from stat, when the file could not be read.
        stamp: Option<(u64, i64)>,
        /// Why.
        failure: Failure,
    },
    /// Same bytes as already committed under this path (only its mtime
    /// changed): remember the new mtime, emit nothing.
    Unchanged(Source),
}

/// A message to the committer.
pub struct Job {
    /// Arrival number: the committer commits in this order, gap-free from 0.
    pub n: u64,
    /// The file.
    pub path: PathBuf,
    /// What came of it.
    pub outcome: Outcome,
}

/// What happened to one file, for progress bars and exit codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// `document.processed`.
    Processed(PathBuf),
    /// `document.duplicate`.
    Duplicate(PathBuf),
    /// `document.failed` with its reason code.
    Failed(PathBuf, String),
    /// Already committed with the same content; nothing emitted.
    Unchanged(PathBuf),
}

/// Counts of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Documents committed as processed.
    pub processed: u64,
    /// Documents committed as duplicates.
    pub duplicates: u64,
    /// Files that failed.
    pub failed: u64,
    /// Files skipped as unchanged.
    pub unchanged: u64,
}

impl Summary {
    /// Counts one result.
    pub fn add(&mut self, c: &Committed) {
        match c {
            Committed::Processed(_) => self.processed += 1,
            Committed::Duplicate(_) => self.duplicates += 1,
            Committed::Failed(..) => self.failed += 1,
            Committed::Unchanged(_) => self.unchanged += 1,
        }
    }
}

/// Everything the committer thread owns.
pub struct Committer {
    /// The only write connection.
    pub store: Store,
    /// Appends committed events to the NDJSON file.
    pub ndjson: NdjsonWriter,
    /// Ordered stages (dedup).
    pub stages: Stages,
    /// Paths dispatched and not yet committed; the committer removes them.
    pub in_flight: Arc<Mutex<HashSet<PathBuf>>>,
    /// Where to report each committed file (ingest progress), if anyone listens.
    pub progress: Option<mpsc::Sender<Committed>>,
    /// Most documents per transaction.
    pub batch_size: usize,
    /// Longest wait for more results before committing what is there.
    pub batch_delay: Duration,
    /// Keep the decoded raw text in `documents.raw_text`.
    pub store_raw_text: bool,
    /// Details for `daemon.started` / `daemon.stopped`; None for `ingest`.
    pub daemon: Option<serde_json::Value>,
    /// Forget stage history older than this (`data.history_days`); None = never.
    pub history_window: Option<chrono::Duration>,
}

/// How often the history window is enforced: pruning sweeps the key table
/// in slices, cheap, but not worth doing per batch.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

enum Item {
    Job(PathBuf, Outcome),
    Daemon(&'static str, serde_json::Value),
}

impl Committer {
    /// Runs until every sender of `jobs` is dropped and every job is committed.
    pub fn run(mut self, jobs: mpsc::Receiver<Job>) -> Summary {
        let mut summary = Summary::default();
        if let Some(details) = self.daemon.clone() {
            self.commit_with_retry(vec![Item::Daemon("daemon.started", details)], &mut summary);
        }
        let mut last_prune: Option<Instant> = None;
        // Results arrive in completion order; hold them until their turn.
        let mut waiting: BTreeMap<u64, (PathBuf, Outcome)> = BTreeMap::new();
        let mut next = 0u64;
        while let Ok(job) = jobs.recv() {
            waiting.insert(job.n, (job.path, job.outcome));
            // Group commit: under load, wait a moment for more results so one
            // transaction (and one fsync) carries many documents; when idle,
            // the first result is committed after at most `batch_delay`.
            let deadline = Instant::now() + self.batch_delay;
            while waiting.len() < self.batch_size {
                match jobs.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(job) => {
                        waiting.insert(job.n, (job.path, job.outcome));
                    }
                    Err(_) => break,
                }
            }
            loop {
                let mut batch = Vec::new();
                while batch.len() < self.batch_size {
                    match waiting.remove(&next) {
                        Some((path, outcome)) => {
                            batch.push(Item::Job(path, outcome));
                            next += 1;
                        }
                        None => break,
                    }
                }
                if batch.is_empty() {
                    break;
                }
                self.commit_with_retry(batch, &mut summary);
            }
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                self.prune_history();
                last_prune = Some(Instant::now());
            }
        }
        if !waiting.is_empty() {
            // Cannot happen while the dispatcher numbers jobs gap-free; if it
            // does, committing out of order beats losing files.
            tracing::error!(count = waiting.len(), "results left with a gap in arrival order; committing them anyway");
            let batch = std::mem::take(&mut waiting).into_values().map(|(p, o)| Item::Job(p, o)).collect();
            self.commit_with_retry(batch, &mut summary);
        }
        if let Some(mut details) = self.daemon.clone() {
            details["processed"] = summary.processed.into();
            details["duplicates"] = summary.duplicates.into();
            details["failed"] = summary.failed.into();
            self.commit_with_retry(vec![Item::Daemon("daemon.stopped", details)], &mut summary);
        }
        summary
    }

    fn prune_history(&mut self) {
        let Some(window) = self.history_window else { return };
        let before = (chrono::Utc::now() - window).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match self.store.prune_history(&before) {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, before = %before, "forgot stage history outside data.history_days"),
            Err(e) => tracing::warn!(error = %e, "cannot prune stage history; will try again"),
        }
    }

    /// A batch that cannot be written is retried, never dropped: the daemon
    /// keeps its results until the disk or database recovers.
    fn commit_with_retry(&mut self, batch: Vec<Item>, summary: &mut Summary) {
        let mut delay = Duration::from_millis(200);
        let mut batch = batch;
        loop {
            match self.commit(&mut batch) {
                Ok(results) => {
                    for c in results {
                        summary.add(&c);
                        if let Some(p) = &self.progress {
                            let _ = p.send(c);
                        }
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, retry_in_ms = delay.as_millis() as u64, "cannot commit a batch; will retry");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn commit(&mut self, batch: &mut [Item]) -> Result<Vec<Committed>, CommitError> {
        let at = event::now_rfc3339();
        let mut seq = self.store.last_seq()?;
        let mut events = Vec::with_capacity(batch.len());
        let mut results = Vec::with_capacity(batch.len());
        // Stored documents, indexed for full text after the loop (see index_text).
        let mut indexed = Vec::new();
        let (tx, index) = self.store.transaction_and_index()?;
        for (i, item) in batch.iter_mut().enumerate() {
            match item {
                Item::Daemon(kind, details) => {
                    seq += 1;
                    let body = event::daemon_event(kind, seq, &at, details.clone()).to_string();
                    store::insert_event(&tx, seq, &event::event_id(seq, kind, &at), kind, None, &at, &body)?;
                    events.push((seq, body));
                }
                Item::Job(path, Outcome::Document(doc)) => {
                    // A retry must not see the annotations of the failed attempt.
                    doc.timings.retain(|(s, _)| !self.stages.ordered.iter().any(|o| o.name() == s));
                    seq += 1;
                    let ordered = run_ordered(&self.stages, doc, &tx, index, seq as u64);
                    let (body, kind, result) = match ordered {
                        Ok(()) => {
                            store::insert_document(&tx, doc, seq, &at, self.store_raw_text)?;
                            indexed.push(i);
                            let kind = if doc.duplicate.is_some() { "document.duplicate" } else { "document.processed" };
                            let result = if doc.duplicate.is_some() {
                                Committed::Duplicate(path.clone())
                            } else {
                                Committed::Processed(path.clone())
                            };
                            (event::document_event(doc, seq, &at), kind, result)
                        }
                        Err(e) => {
                            let message =
                                format!("{}: {e}; the file is kept and will be retried when it changes", path.display());
                            store::insert_failure(&tx, path, Some(&doc.source), "stage_error", &message, seq, &at)?;
                            store::set_file_state(&tx, &doc.source, None, "failed", &at)?;
                            let body =
                                event::failed_event(path, Some(&doc.source), "stage_error", &message, seq, &at).to_string();
                            (body, "document.failed", Committed::Failed(path.clone(), "stage_error".into()))
                        }
                    };
                    store::insert_event(&tx, seq, &event::event_id(seq, kind, &doc.doc_id), kind, Some(&doc.doc_id), &at, &body)?;
                    events.push((seq, body));
                    results.push(result);
                }
                Item::Job(path, Outcome::Failed { source, stamp, failure }) => {
                    seq += 1;
                    store::insert_failure(&tx, path, source.as_ref(), failure.reason, &failure.message, seq, &at)?;
                    match (source.as_ref(), stamp) {
                        (Some(s), _) => store::set_file_state(&tx, s, None, "failed", &at)?,
                        (None, Some((size, mtime))) => {
                            store::set_file_state_raw(&tx, path, Some(*size), Some(*mtime), None, None, "failed", &at)?
                        }
                        (None, None) => {}
                    }
                    let body = event::failed_event(path, source.as_ref(), failure.reason, &failure.message, seq, &at).to_string();
                    let id = event::event_id(seq, "document.failed", &path.to_string_lossy());
                    store::insert_event(&tx, seq, &id, "document.failed", None, &at, &body)?;
                    events.push((seq, body));
                    results.push(Committed::Failed(path.clone(), failure.reason.to_string()));
                }
                Item::Job(path, Outcome::Unchanged(source)) => {
                    store::set_file_state(&tx, source, None, "unchanged", &at)?;
                    results.push(Committed::Unchanged(path.clone()));
                }
            }
        }
        for i in indexed {
            if let Item::Job(_, Outcome::Document(doc)) = &batch[i] {
                store::index_text(&tx, doc)?;
            }
        }
        // Crash window: before this commit nothing of the batch exists and the
        // files are picked up again at start-up; after it, the events are in
        // the outbox and the NDJSON writer copies them (now or at start-up).
        tx.commit().map_err(|e| self.store.err(e))?;
        self.store.index_committed();
        if let Err(e) = self.ndjson.append(&events, &self.store) {
            // The events are safe in the outbox; the next batch or restart retries.
            tracing::error!(error = %e, "cannot append to the events file");
        }
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for item in batch.iter() {
            if let Item::Job(path, _) = item {
                in_flight.remove(path);
            }
        }
        for r in &results {
            match r {
                Committed::Failed(p, reason) => tracing::warn!(file = %p.display(), reason = %reason, "document failed"),
                Committed::Duplicate(p) => tracing::info!(file = %p.display(), "duplicate"),
                Committed::Processed(p) => tracing::info!(file = %p.display(), "processed"),
                Committed::Unchanged(p) => tracing::debug!(file = %p.display(), "unchanged"),
            }
        }
        Ok(results)
    }
}

/// Runs the ordered stages inside a savepoint, so a stage that fails halfway
/// leaves none of its history writes behind (in SQLite or in the key index).
fn run_ordered(
    stages: &Stages,
    doc: &mut Document,
    tx: &rusqlite::Transaction<'_>,
    index: &mut HistoryIndex,
    number: u64,
) -> Result<(), StageError> {
    if stages.ordered.is_empty() {
        return Ok(());
    }
    let history_err = |stage: &str, e: rusqlite::Error| StageError::History {
        stage: stage.to_string(),
        source: crate::stage::HistoryError(e.to_string()),
    };
    tx.execute_batch("SAVEPOINT ordered_stages").map_err(|e| history_err("committer", e))?;
    let mut result = Ok(());
    let mut filed = Vec::new();
    for stage in &stages.ordered {
        let t0 = Instant::now();
        let mut history = match SqlHistory::new(tx, index, stage.name(), number) {
            Ok(h) => h,
            Err(e) => {
                result = Err(history_err(stage.name(), e));
                break;
            }
        };
        if let Err(e) = stage.process(doc, &mut history) {
            result = Err(e);
            break;
        }
        match history.finish() {
            Ok(keys) => filed.push(keys),
            Err(e) => {
                result = Err(history_err(stage.name(), e));
                break;
            }
        }
        doc.timings.push((stage.name().to_string(), t0.elapsed().as_secs_f64() * 1000.0));
    }
    let end = if result.is_ok() { "RELEASE ordered_stages" } else { "ROLLBACK TO ordered_stages; RELEASE ordered_stages" };
    tx.execute_batch(end).map_err(|e| history_err("committer", e))?;
    if result.is_ok() {
        for f in filed {
            f.add_to(index);
        }
    }
    result
}

#[derive(Debug, thiserror::Error)]
enum CommitError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("database write failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
