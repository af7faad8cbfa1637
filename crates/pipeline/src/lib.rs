//! Gleaner's engine.
//!
//! # Layout
//!
//! * [`config`]: the TOML configuration and its errors (with line and column).
//! * [`document`]: the document model; one typed slot per stage.
//! * [`stage`]: the [`Stage`] and [`OrderedStage`] traits, and the [`History`]
//!   handle ordered stages keep their memory in.
//! * [`registry`]: stage names to builders; the engine knows no stage by name.
//! * [`decode`]: reading a file and turning bytes into text (BOM, UTF-8,
//!   UTF-16, legacy encodings), with failure reason codes.
//! * [`watcher`]: notify events + start-up scan + periodic reconcile, taking a
//!   file only when it is complete.
//! * [`runner`]: the [`Engine`]: bounded queue, parallel workers, `run_daemon`
//!   and `run_ingest`.
//! * [`committer`]: the single writer: arrival order, ordered stages, one
//!   SQLite transaction per batch, then NDJSON.
//! * [`store`]: SQLite schema and migrations.
//! * [`event`]: the shape of NDJSON events.
//! * [`ndjson`]: the exactly-once NDJSON writer.
#![deny(missing_docs)]

pub mod committer;
pub mod config;
pub mod decode;
pub mod document;
pub mod event;
pub mod history_index;
pub mod ndjson;
pub mod registry;
pub mod runner;
pub mod stage;
pub mod store;
pub mod watcher;

pub use committer::{Committed, Summary};
pub use config::{Config, ConfigError};
pub use document::Document;
pub use registry::{parse_options, BuiltStage, Registry, Stages};
pub use runner::{Engine, EngineError};
pub use stage::{DocNumber, History, HistoryError, MemoryHistory, OrderedStage, Stage, StageError};
pub use store::Store;

/// Re-exported so stage crates implement the traits with the same version.
pub use async_trait::async_trait;
