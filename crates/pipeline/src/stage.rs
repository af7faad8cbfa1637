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

/// A persistent multimap an ordered stage keeps its memory in. Keys and values
/// are opaque bytes; `namespace` keeps stages apart (use the stage name as prefix).
pub trait History {
    /// All values stored under `key`, oldest first.
    fn get(&mut self, namespace: &str, key: &[u8]) -> Result<Vec<Vec<u8>>, HistoryError>;
    /// Adds a value under `key`; `doc_id` records which document it belongs to.
    fn put(&mut self, namespace: &str, key: &[u8], value: &[u8], doc_id: &str) -> Result<(), HistoryError>;
    /// The path a document was found at, if it is known.
    fn path_of(&mut self, doc_id: &str) -> Result<Option<String>, HistoryError>;
}

/// An in-memory [`History`] for tests and benchmarks of ordered stages.
#[derive(Debug, Default)]
pub struct MemoryHistory {
    map: HashMap<(String, Vec<u8>), Vec<Vec<u8>>>,
    paths: HashMap<String, String>,
}

impl MemoryHistory {
    /// Remembers the path of a document, as the committer does when it stores one.
    pub fn record_path(&mut self, doc_id: &str, path: &str) {
        self.paths.insert(doc_id.to_string(), path.to_string());
    }
}

impl History for MemoryHistory {
    fn get(&mut self, namespace: &str, key: &[u8]) -> Result<Vec<Vec<u8>>, HistoryError> {
        Ok(self.map.get(&(namespace.to_string(), key.to_vec())).cloned().unwrap_or_default())
    }
    fn put(&mut self, namespace: &str, key: &[u8], value: &[u8], _doc_id: &str) -> Result<(), HistoryError> {
        self.map.entry((namespace.to_string(), key.to_vec())).or_default().push(value.to_vec());
        Ok(())
    }
    fn path_of(&mut self, doc_id: &str) -> Result<Option<String>, HistoryError> {
        Ok(self.paths.get(doc_id).cloned())
    }
}
