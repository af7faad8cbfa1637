//! Configuration: one TOML file. The default (`config/gleaner.toml`) is
//! embedded in the binary; `--config FILE` replaces it.
//!
//! Relative paths (`watch.dir`, `data.dir`) are taken relative to the working
//! directory the daemon starts in, so `gleaner run` in a checkout watches
//! `./watch` and writes `./data`.

use serde::Deserialize;
use std::path::PathBuf;

/// A configuration error, with the file and position it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid TOML or a field has the wrong type.
    #[error("{origin}:{line}:{column}: {message}\n  fix the file and run `gleaner config check`")]
    Invalid {
        /// File name (or `<embedded default>`).
        origin: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The path given.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The drop folder and how files are taken from it.
    #[serde(default)]
    pub watch: WatchConfig,
    /// Where SQLite and NDJSON go.
    #[serde(default)]
    pub data: DataConfig,
    /// Concurrency and batching.
    #[serde(default)]
    pub runner: RunnerConfig,
    /// The stage list, in order. Each table has `type` (the registry name)
    /// and that stage's own options.
    #[serde(default)]
    pub stages: Vec<toml::Spanned<toml::Table>>,
    /// Where the config came from, for error messages. Not read from TOML.
    #[serde(skip)]
    pub origin: String,
    /// The text it was parsed from, to turn byte offsets into lines.
    #[serde(skip)]
    pub text: String,
}

/// The drop folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// Folder to watch (recursively).
    pub dir: PathBuf,
    /// A file whose size and mtime have not changed for this long is taken as
    /// complete, when no close-after-write or rename event said so earlier.
    pub settle_ms: u64,
    /// A file still open for writing (no close event yet) is taken only
    /// after this long without change: writers that pause are waited for.
    pub write_idle_secs: u64,
    /// Full rescan interval: catches events the OS dropped (inotify overflow,
    /// network filesystems).
    pub reconcile_secs: u64,
    /// Files larger than this fail with reason `too_large` without being read.
    pub max_file_bytes: u64,
    /// Only files whose name ends with one of these are taken (case
    /// ignored); empty = every file not named like a temporary one.
    pub extensions: Vec<String>,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            dir: PathBuf::from("watch"),
            settle_ms: 1000,
            write_idle_secs: 60,
            reconcile_secs: 30,
            max_file_bytes: 20 * 1024 * 1024,
            extensions: vec![".txt".into()],
        }
    }
}

/// Output folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Holds `gleaner.db` and `events.ndjson`.
    pub dir: PathBuf,
    /// Put the full decoded raw text in the `documents.raw_text` column.
    pub store_raw_text: bool,
    /// Days of history the ordered stages compare with (dedup's index,
    /// recurring_blocks' paragraph keys); older entries are forgotten, the
    /// documents stay. 0 = forever. The window is held in memory (about
    /// 250 bytes per report), so this bounds the daemon's RSS too.
    pub history_days: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig { dir: PathBuf::from("data"), store_raw_text: true, history_days: 0 }
    }
}

/// Concurrency and batching.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Documents processed at once; 0 = number of CPUs.
    pub workers: usize,
    /// Files waiting to be processed before the watcher is made to wait.
    pub queue: usize,
    /// Most documents per SQLite transaction.
    pub batch_size: usize,
    /// Longest wait (ms) for more documents before a transaction commits:
    /// trades a little latency for far fewer fsyncs under load.
    pub batch_delay_ms: u64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig { workers: 0, queue: 256, batch_size: 64, batch_delay_ms: 20 }
    }
}

impl RunnerConfig {
    /// `workers` with 0 resolved to the number of CPUs.
    pub fn effective_workers(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
        } else {
            self.workers
        }
    }
}

impl Config {
    /// Parses TOML text. `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = line_col(text, offset);
            ConfigError::Invalid { origin: origin.to_string(), line, column, message: e.message().to_string() }
        })?;
        config.origin = origin.to_string();
        config.text = text.to_string();
        if config.runner.queue == 0 || config.runner.batch_size == 0 {
            return Err(config.error_at(0, "runner.queue and runner.batch_size must be at least 1"));
        }
        Ok(config)
    }

    /// Reads and parses a file.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// An error pointing at a byte offset of the config text.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let (line, column) = line_col(&self.text, offset);
        ConfigError::Invalid { origin: self.origin.clone(), line, column, message: message.into() }
    }

    /// Path of the SQLite database.
    pub fn db_path(&self) -> PathBuf {
        self.data.dir.join("gleaner.db")
    }

    /// Path of the NDJSON event file.
    pub fn events_path(&self) -> PathBuf {
        self.data.dir.join("events.ndjson")
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map(|i| offset - i).unwrap_or(offset + 1);
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = Config::parse("[watch]\nsettle_ms = \"soon\"\n", "x.toml").unwrap_err();
        match err {
            ConfigError::Invalid { line, origin, .. } => {
                assert_eq!(line, 2);
                assert_eq!(origin, "x.toml");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_sections_are_rejected() {
        assert!(Config::parse("[wach]\ndir = \"w\"\n", "x.toml").is_err());
    }

    #[test]
    fn defaults_fill_missing_sections() {
        let c = Config::parse("", "x").unwrap();
        assert_eq!(c.watch.dir, PathBuf::from("watch"));
        assert_eq!(c.db_path(), PathBuf::from("data/gleaner.db"));
    }
}
