//! The two kinds of stage and the history handle ordered stages use.
//!
//! * [`Stage`]: stateless, async, runs on many documents at once. Cleaning,
//!   language, dates and entities are stages of this kind.
//! * [`OrderedStage`]: needs what came before (dedup: "an earlier report").
//!   The committer runs it on one document at a time, in arrival order, inside
//!   the SQLite transaction that stores the document, with a [`History`]
//!   handle. The stage never sees SQLite; tests give it a [`MemoryHistory`].

use crate::document::Document;
use async_trait::async_trait;
use std::collections::HashMap;

/// Why a stage could not process a document. The document is then reported
/// as `document.failed` with reason `stage_error`.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The stage hit a condition it cannot work around for this document.
    #[error("stage `{stage}` failed: {message}")]
    Failed {
        /// Stage name.
        stage: String,
        /// What went wrong, for a person.
        message: String,
    },
    /// The history handle failed (the database is unreachable or full).
    #[error("stage `{stage}` could not read or write its history: {source}")]
    History {
        /// Stage name.
        stage: String,
        /// The underlying error.
        #[source]
        source: HistoryError,
    },
}

/// A stage that looks at one document at a time and keeps no state between
/// documents. Runs concurrently on several documents.
#[async_trait]
pub trait Stage: Send + Sync {
    /// The name from the registry (`clean`, `language`, ...).
    fn name(&self) -> &str;

    /// Adds this stage's annotations to the document. CPU-heavy work is fine
    /// here: the runner calls stages off the async reactor.
    async fn process(&self, doc: &mut Document) -> Result<(), StageError>;
}

/// A stage that needs history. Runs in the committer, in arrival order.
pub trait OrderedStage: Send + Sync {
    /// The name from the registry.
    fn name(&self) -> &str;

    /// Annotates the document and records what later documents must know.
    /// Writes through `history` land in the same transaction as the document.
    fn process(&self, doc: &mut Document, history: &mut dyn History) -> Result<(), StageError>;
}

/// Error of a [`History`] implementation.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HistoryError(pub String);

/// Number of a document in arrival order (the seq of its event): what an
/// ordered stage files its memory under. Small integers keep the index compact.
pub type DocNumber = u64;

/// The memory an ordered stage keeps, shaped for a compact on-disk index:
///
/// * keys: a multimap from 32-bit keys to document numbers (an LSH bucket
///   to the reports in it), one small row per pair;
/// * records: one opaque byte string per document (its signature).
///
/// Every stage has its own keys and records. Documents leave the history in
/// arrival order when the engine's window (`data.history_days`) passes them.
pub trait History {
    /// The number of the document being processed.
    fn current(&self) -> DocNumber;
    /// Documents filed under `key`, newest first, at most `limit`.
    fn lookup(&mut self, key: u32, limit: usize) -> Result<Vec<DocNumber>, HistoryError>;
    /// Files the current document under `key`.
    fn file(&mut self, key: u32) -> Result<(), HistoryError>;
    /// The record kept for a document, if it is still in the history.
    fn record(&mut self, doc: DocNumber) -> Result<Option<Vec<u8>>, HistoryError>;
    /// Sets the current document's record.
    fn set_record(&mut self, value: &[u8]) -> Result<(), HistoryError>;
    /// The id and path of an earlier document, for the event that names it.
    fn describe(&mut self, doc: DocNumber) -> Result<Option<(String, String)>, HistoryError>;
}

/// An in-memory [`History`] for tests and benchmarks of ordered stages. Call
/// [`MemoryHistory::begin`] before each document.
#[derive(Debug, Default)]
pub struct MemoryHistory {
    keys: HashMap<u32, Vec<DocNumber>>,
    records: HashMap<DocNumber, Vec<u8>>,
    described: HashMap<DocNumber, (String, String)>,
    current: DocNumber,
}

impl MemoryHistory {
    /// Starts the next document, as the committer does when it stores one.
    pub fn begin(&mut self, doc_id: &str, path: &str) -> DocNumber {
        self.current += 1;
        self.described.insert(self.current, (doc_id.to_string(), path.to_string()));
        self.current
    }

    /// Forgets documents up to and including `last`, as the window does.
    pub fn forget_through(&mut self, last: DocNumber) {
        self.records.retain(|d, _| *d > last);
        for docs in self.keys.values_mut() {
            docs.retain(|d| *d > last);
        }
    }
}

impl History for MemoryHistory {
    fn current(&self) -> DocNumber {
        self.current
    }
    fn lookup(&mut self, key: u32, limit: usize) -> Result<Vec<DocNumber>, HistoryError> {
        let docs = self.keys.get(&key).map(|d| d.iter().rev().take(limit).copied().collect()).unwrap_or_default();
        Ok(docs)
    }
    fn file(&mut self, key: u32) -> Result<(), HistoryError> {
        let docs = self.keys.entry(key).or_default();
        if docs.last() != Some(&self.current) {
            docs.push(self.current);
        }
        Ok(())
    }
    fn record(&mut self, doc: DocNumber) -> Result<Option<Vec<u8>>, HistoryError> {
        Ok(self.records.get(&doc).cloned())
    }
    fn set_record(&mut self, value: &[u8]) -> Result<(), HistoryError> {
        self.records.insert(self.current, value.to_vec());
        Ok(())
    }
    fn describe(&mut self, doc: DocNumber) -> Result<Option<(String, String)>, HistoryError> {
        Ok(self.described.get(&doc).cloned())
    }
}
