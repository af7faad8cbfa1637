//! The NDJSON writer: copies outbox events (table `events`) to
//! `events.ndjson`, in sequence order, each exactly once.
//!
//! Exactly once across crashes: an event is in the outbox before it is in the
//! file (the committer writes the file only after the transaction commits).
//! At start-up the writer cuts a torn last line (a crash mid-write), reads the
//! `seq` of the last whole line, and appends every outbox event after it.

use crate::store::{Store, StoreError};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An error of the NDJSON file.
#[derive(Debug, thiserror::Error)]
pub enum NdjsonError {
    /// Reading, repairing or appending failed.
    #[error("events file {path}: {source}\n  check free space and permissions of the data folder; events stay in the database and are written when this is fixed")]
    Io {
        /// The NDJSON file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The outbox could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Appends events to the NDJSON file.
pub struct NdjsonWriter {
    file: File,
    path: PathBuf,
    /// Seq of the last event known to be in the file.
    last_seq: i64,
}

impl NdjsonWriter {
    /// Opens the file, repairs a torn last line and catches up with the outbox.
    pub fn open(path: &Path, store: &Store) -> Result<NdjsonWriter, NdjsonError> {
        let io = |source| NdjsonError::Io { path: path.to_path_buf(), source };
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io)?;
        let last_line = repair_and_read_last_line(&mut file, path).map_err(io)?;
        let last_seq = match last_line.as_deref().and_then(seq_of_line) {
            Some(seq) => seq,
            // Empty (new or rotated) file: continue after what was last written.
            None => store.ndjson_cursor()?,
        };
        let mut writer = NdjsonWriter { file, path: path.to_path_buf(), last_seq };
        writer.catch_up(store)?;
        Ok(writer)
    }

    /// Seq of the last event in the file.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Appends every outbox event after the last one written.
    pub fn catch_up(&mut self, store: &Store) -> Result<(), NdjsonError> {
        loop {
            let batch = store.events_after(self.last_seq, 1000)?;
            if batch.is_empty() {
                return Ok(());
            }
            self.write(&batch, store)?;
        }
    }

    /// Appends events just committed. Falls back to the outbox when they do
    /// not follow the last written one (an earlier write failed).
    pub fn append(&mut self, events: &[(i64, String)], store: &Store) -> Result<(), NdjsonError> {
        match events.first() {
            None => Ok(()),
            Some((first, _)) if *first == self.last_seq + 1 => self.write(events, store),
            Some(_) => self.catch_up(store),
        }
    }

    fn write(&mut self, events: &[(i64, String)], store: &Store) -> Result<(), NdjsonError> {
        let mut buf = Vec::with_capacity(events.iter().map(|(_, b)| b.len() + 1).sum());
        let mut last = self.last_seq;
        for (seq, body) in events {
            if *seq <= last {
                continue;
            }
            buf.extend_from_slice(body.as_bytes());
            buf.push(b'\n');
            last = *seq;
        }
        let io = |source| NdjsonError::Io { path: self.path.clone(), source };
        // One write_all of whole lines; a crash inside it leaves at most one
        // torn line, which the next start-up cuts off and writes again.
        self.file.write_all(&buf).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.last_seq = last;
        store.set_ndjson_cursor(last)?;
        Ok(())
    }
}

/// Cuts a partial last line off and returns the last whole line, if any.
fn repair_and_read_last_line(file: &mut File, path: &Path) -> std::io::Result<Option<String>> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    let end = if last[0] == b'\n' {
        len
    } else {
        let cut = find_newline_before(file, len)?.map(|p| p + 1).unwrap_or(0);
        tracing::warn!(file = %path.display(), bytes = len - cut, "cutting a torn last line left by a crash");
        file.set_len(cut)?;
        cut
    };
    if end == 0 {
        return Ok(None);
    }
    let start = find_newline_before(file, end - 1)?.map(|p| p + 1).unwrap_or(0);
    let mut line = vec![0u8; (end - 1 - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut line)?;
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Position of the last `\n` strictly before byte `before`.
fn find_newline_before(file: &mut File, before: u64) -> std::io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = before;
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

fn seq_of_line(line: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(line).ok()?.get("seq")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_events(dir: &Path, n: i64) -> Store {
        let mut store = Store::open(&dir.join("db")).unwrap();
        let tx = store.transaction().unwrap();
        for seq in 1..=n {
            let body = format!("{{\"seq\":{seq}}}");
            crate::store::insert_event(&tx, seq, &format!("e{seq}"), "t", None, "now", &body).unwrap();
        }
        tx.commit().unwrap();
        store
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
    }

    #[test]
    fn torn_line_is_cut_and_rewritten_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_events(dir.path(), 3);
        let path = dir.path().join("events.ndjson");
        std::fs::write(&path, "{\"seq\":1}\n{\"seq\":2}\n{\"se").unwrap();
        let w = NdjsonWriter::open(&path, &store).unwrap();
        assert_eq!(w.last_seq(), 3);
        assert_eq!(lines(&path), vec!["{\"seq\":1}", "{\"seq\":2}", "{\"seq\":3}"]);
    }

    #[test]
    fn rotated_file_continues_after_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_events(dir.path(), 2);
        let path = dir.path().join("events.ndjson");
        drop(NdjsonWriter::open(&path, &store).unwrap());
        std::fs::remove_file(&path).unwrap();
        let w = NdjsonWriter::open(&path, &store).unwrap();
        assert_eq!(w.last_seq(), 2);
        assert!(lines(&path).is_empty());
    }
}
