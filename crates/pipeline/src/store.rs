//! The SQLite store: schema, migrations, and the writes of one committed batch.
//!
//! Only this module and the committer touch the database for writing. Readers
//! (`sqlite3`, Datasette, pandas) never block the daemon for long: WAL mode
//! lets them read while it writes, and `busy_timeout` makes the daemon wait
//! out a reader's brief lock instead of failing.

use crate::document::{Document, Source};
use crate::history_index::{Doc, HistoryIndex};
use crate::stage::{DocNumber, History, HistoryError};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// What every write helper takes: the committer's open transaction or a
/// savepoint inside it (both deref to a connection).
pub type Tx = Connection;
use std::path::{Path, PathBuf};

/// A database error, with the database path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening, migrating or writing failed.
    #[error("database {path}: {source}\n  check that the data folder is writable and not on a network filesystem; if another gleaner uses it, stop that one")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer gleaner.
    #[error("database {path} has schema version {found}, newer than this gleaner knows ({known}); upgrade gleaner or use another --data folder")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Latest version this build knows.
        known: i64,
    },
}

/// Migrations, applied in order; `PRAGMA user_version` counts those applied.
/// Never edit a released migration: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE documents (
        doc_id      TEXT PRIMARY KEY,
        path        TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        mtime       TEXT,
        ingested_at TEXT NOT NULL,
        encoding    TEXT NOT NULL,
        title       TEXT,
        raw_text    TEXT,
        text        TEXT NOT NULL,
        language    TEXT,
        language_confidence REAL,
        published   TEXT,
        published_source TEXT,
        published_after TEXT,
        duplicate_of TEXT REFERENCES documents(doc_id),
        duplicate_kind TEXT,
        similarity  REAL,
        boilerplate_json TEXT NOT NULL DEFAULT '[]',
        extra_json  TEXT,
        -- The story a report belongs to: its first report (duplicates point
        -- at their group's first, so this groups every copy of a story).
        story_id    TEXT GENERATED ALWAYS AS (coalesce(duplicate_of, doc_id)) VIRTUAL,
        status      TEXT NOT NULL CHECK (status IN ('processed', 'duplicate')),
        seq         INTEGER NOT NULL
    );
    CREATE INDEX documents_published ON documents(published);
    CREATE INDEX documents_sha256 ON documents(sha256);
    CREATE INDEX documents_duplicate_of ON documents(duplicate_of);
    CREATE INDEX documents_story ON documents(story_id);

    -- The last state of every file taken from the watch folder or ingested:
    -- what makes a restart skip unchanged files.
    CREATE TABLE files (
        path       TEXT PRIMARY KEY,
        size       INTEGER,
        mtime_ns   INTEGER,
        sha256     TEXT,
        doc_id     TEXT REFERENCES documents(doc_id),
        status     TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE entities (
        id        INTEGER PRIMARY KEY,
        canonical TEXT NOT NULL,
        type      TEXT NOT NULL,
        mentions  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (canonical, type)
    );
    CREATE TABLE entity_aliases (
        entity INTEGER NOT NULL REFERENCES entities(id),
        alias  TEXT NOT NULL,
        count  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (entity, alias)
    );
    CREATE TABLE mentions (
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        entity INTEGER NOT NULL REFERENCES entities(id),
        text   TEXT NOT NULL,
        field  TEXT NOT NULL DEFAULT 'text' CHECK (field IN ('text', 'title')),
        start  INTEGER NOT NULL,
        end    INTEGER NOT NULL
    );
    CREATE INDEX mentions_entity ON mentions(entity);
    CREATE INDEX mentions_doc ON mentions(doc_id);

    CREATE TABLE dates (
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        text   TEXT NOT NULL,
        value  TEXT NOT NULL,
        start  INTEGER NOT NULL,
        end    INTEGER NOT NULL
    );
    CREATE INDEX dates_doc ON dates(doc_id);

    -- What cleaning cut, one row per block. Kept as one JSON array per
    -- document (documents.boilerplate_json): a page can shed hundreds of
    -- blocks, and a row each was the committer's largest cost.
    CREATE VIEW boilerplate AS
        SELECT d.doc_id AS doc_id, j.value ->> 'line' AS line, j.value ->> 'reason' AS reason, j.value ->> 'text' AS text
        FROM documents d, json_each(d.boilerplate_json) j;

    -- Earlier reports sharing a large part of a report (not copies).
    CREATE TABLE related (
        doc_id        TEXT NOT NULL REFERENCES documents(doc_id),
        other_doc_id  TEXT NOT NULL REFERENCES documents(doc_id),
        this_in_other REAL NOT NULL,
        other_in_this REAL NOT NULL
    );
    CREATE INDEX related_doc ON related(doc_id);
    CREATE INDEX related_other ON related(other_doc_id);

    CREATE TABLE failures (
        id      INTEGER PRIMARY KEY,
        path    TEXT NOT NULL,
        sha256  TEXT,
        size    INTEGER,
        reason  TEXT NOT NULL,
        message TEXT NOT NULL,
        at      TEXT NOT NULL,
        seq     INTEGER NOT NULL
    );

    -- The outbox: every event, in sequence order. The NDJSON file is a copy
    -- of this table, written after the transaction that adds the row commits.
    CREATE TABLE events (
        seq      INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        type     TEXT NOT NULL,
        doc_id   TEXT,
        at       TEXT NOT NULL,
        body     TEXT NOT NULL
    );

    -- The last event written to the NDJSON file, for when that file was
    -- rotated away (the file's own last line wins when it has one).
    CREATE TABLE ndjson_cursor (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
    );

    -- Memory of ordered stages (dedup fingerprints), see stage::History.
    CREATE TABLE stage_index (
        namespace TEXT NOT NULL,
        key       BLOB NOT NULL,
        value     BLOB NOT NULL,
        doc_id    TEXT NOT NULL
    );
    CREATE INDEX stage_index_key ON stage_index(namespace, key);
    CREATE INDEX stage_index_doc ON stage_index(doc_id);

    CREATE VIRTUAL TABLE documents_fts USING fts5(doc_id UNINDEXED, title, text, tokenize = 'unicode61 remove_diacritics 2');

    CREATE VIEW entity_counts AS
        SELECT e.canonical, e.type, count(DISTINCT m.doc_id) AS documents, count(*) AS mentions
        FROM entities e JOIN mentions m ON m.entity = e.id
        GROUP BY e.id ORDER BY documents DESC;
    CREATE VIEW reports_per_day AS
        SELECT published AS day, count(*) AS reports
        FROM documents WHERE published IS NOT NULL AND status = 'processed'
        GROUP BY published ORDER BY published;
    CREATE VIEW cooccurrence AS
        SELECT a.canonical AS entity_a, b.canonical AS entity_b, count(DISTINCT ma.doc_id) AS documents
        FROM mentions ma JOIN mentions mb ON ma.doc_id = mb.doc_id AND ma.entity < mb.entity
        JOIN entities a ON a.id = ma.entity JOIN entities b ON b.id = mb.entity
        GROUP BY ma.entity, mb.entity ORDER BY documents DESC;
    "#,
    // 2: a compact history for ordered stages. The generic multimap of
    // migration 1 took about 8 KB per report for dedup; these take under
    // 300 bytes. Its memory is not carried over: dedup compares new reports
    // with those stored from this version on.
    r#"
    DROP TABLE stage_index;
    CREATE TABLE history_stages (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    -- key -> documents (dedup: LSH bucket -> reports), one short row each.
    -- `doc` is the document's seq (arrival order).
    CREATE TABLE history_keys (
        stage INTEGER NOT NULL,
        key   INTEGER NOT NULL,
        doc   INTEGER NOT NULL,
        PRIMARY KEY (stage, key, doc)
    ) WITHOUT ROWID;
    -- One record per document (dedup: its signature).
    CREATE TABLE history_records (
        stage INTEGER NOT NULL,
        doc   INTEGER NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (stage, doc)
    ) WITHOUT ROWID;
    CREATE INDEX documents_seq ON documents(seq);
    "#,
    // 3: keys filed per document, appended in arrival order, instead of a
    // key -> document table: inserting into a key-ordered table of millions
    // of rows touched a cold page per key, and lookups slowed as the archive
    // grew. Lookups now go to the in-memory `HistoryIndex` built from this table.
    // `history_keys` is converted after this script (see `convert_history_keys`).
    r#"
    CREATE TABLE history_doc_keys (
        stage INTEGER NOT NULL,
        doc   INTEGER NOT NULL,
        keys  BLOB NOT NULL,        -- little-endian u32 keys
        PRIMARY KEY (stage, doc)
    ) WITHOUT ROWID;
    "#,
];

/// Migration 3's data step: every document's rows of `history_keys` become
/// one row of `history_doc_keys`.
fn convert_history_keys(tx: &Tx) -> rusqlite::Result<()> {
    let mut read = tx.prepare("SELECT stage, doc, key FROM history_keys ORDER BY stage, doc")?;
    let mut write = tx.prepare("INSERT INTO history_doc_keys (stage, doc, keys) VALUES (?1, ?2, ?3)")?;
    let mut current: Option<(i64, i64)> = None;
    let mut keys: Vec<u8> = Vec::new();
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let at = (row.get::<_, i64>(0)?, row.get::<_, i64>(1)?);
        if current.is_some_and(|c| c != at) {
            let (stage, doc) = current.expect("checked");
            write.execute(params![stage, doc, keys])?;
            keys.clear();
        }
        current = Some(at);
        keys.extend_from_slice(&(row.get::<_, i64>(2)? as i32 as u32).to_le_bytes());
    }
    if let Some((stage, doc)) = current {
        write.execute(params![stage, doc, keys])?;
    }
    drop(rows);
    tx.execute_batch("DROP TABLE history_keys;")
}

/// Starts a write transaction. IMMEDIATE: take the write lock now rather
/// than fail halfway when a reader holds it.
fn begin_immediate<'c>(conn: &'c mut Connection, path: &Path) -> Result<Transaction<'c>, StoreError> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|source| StoreError::Sqlite { path: path.to_path_buf(), source })
}

/// Every ordered stage's keys, from `history_doc_keys`, sorted for lookups.
fn load_keys(conn: &Connection) -> rusqlite::Result<HistoryIndex> {
    let mut index = HistoryIndex::default();
    let mut st = conn.prepare("SELECT stage, doc, keys FROM history_doc_keys ORDER BY stage, doc")?;
    let mut rows = st.query([])?;
    while let Some(row) = rows.next()? {
        let (stage, doc) = (row.get::<_, i64>(0)?, row.get::<_, i64>(1)? as Doc);
        let keys = row.get_ref(2)?.as_blob()?;
        index.load_keys(stage, doc, keys.chunks_exact(4).map(|k| u32::from_le_bytes([k[0], k[1], k[2], k[3]])));
    }
    index.finish_load();
    Ok(index)
}

/// Every ordered stage's records, from `history_records`.
fn load_records(conn: &Connection) -> rusqlite::Result<HistoryIndex> {
    let mut index = HistoryIndex::default();
    let mut st = conn.prepare("SELECT stage, doc, value FROM history_records ORDER BY stage, doc")?;
    let mut rows = st.query([])?;
    while let Some(row) = rows.next()? {
        let (stage, doc) = (row.get::<_, i64>(0)?, row.get::<_, i64>(1)? as Doc);
        index.load_record(stage, doc, row.get_ref(2)?.as_blob()?);
    }
    Ok(index)
}

/// What the store remembers of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// Size at the last commit.
    pub size: Option<u64>,
    /// Mtime at the last commit.
    pub mtime_ns: Option<i64>,
    /// Content hash at the last commit.
    pub sha256: Option<String>,
}

/// An open database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Ordered stages' keys, loaded on the first transaction that needs them.
    index: Option<HistoryIndex>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
        // Room for every statement the committer prepares (the default 16
        // made them re-prepare in turn).
        conn.set_prepared_statement_cache_capacity(64);
        // FULL: a committed batch survives power loss, so an event already in
        // the NDJSON file can never be re-created after a crash.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;").map_err(err)?;
        // 64 MB of page cache (the default is 2 MB): the documents' indexes
        // (doc_id, path, full text) are written at random places, and past a
        // few hundred thousand reports a small cache turns each into a read.
        conn.execute_batch("PRAGMA cache_size = -65536;").map_err(err)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(err)?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew { path: path.to_path_buf(), found: version, known: MIGRATIONS.len() as i64 });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            if i == 2 {
                convert_history_keys(&tx).map_err(err)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(Store { conn, path: path.to_path_buf(), index: None })
    }

    /// Wraps a SQLite error with this database's path.
    pub fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// The stored state of a file, if it was committed before.
    pub fn file_state(&self, path: &Path) -> Result<Option<FileState>, StoreError> {
        self.conn
            .prepare_cached("SELECT size, mtime_ns, sha256 FROM files WHERE path = ?1")
            .and_then(|mut st| {
                st.query_row([path.to_string_lossy()], |r| {
                    Ok(FileState { size: r.get::<_, Option<i64>>(0)?.map(|s| s as u64), mtime_ns: r.get(1)?, sha256: r.get(2)? })
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// The highest event sequence number stored (0 when none).
    pub fn last_seq(&self) -> Result<i64, StoreError> {
        self.conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Events with `seq > after`, in order, at most `limit`.
    pub fn events_after(&self, after: i64, limit: usize) -> Result<Vec<(i64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![after, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// A write transaction and the history index of ordered stages (read
    /// from `history_doc_keys` and `history_records` the first time). The
    /// index starts with nothing pending: pairs filed in a transaction that
    /// never committed are dropped here. Call [`Store::index_committed`]
    /// after the transaction commits.
    pub fn transaction_and_index(&mut self) -> Result<(Transaction<'_>, &mut HistoryIndex), StoreError> {
        if self.index.is_none() {
            let t0 = std::time::Instant::now();
            let index = self.load_index().map_err(|e| self.err(e))?;
            tracing::info!(
                key_pairs = index.len(),
                ms = t0.elapsed().as_millis() as u64,
                "loaded the ordered stages' history into memory"
            );
            self.index = Some(index);
        }
        let tx = begin_immediate(&mut self.conn, &self.path)?;
        let index = self.index.as_mut().expect("loaded above");
        index.rollback();
        Ok((tx, index))
    }

    /// The transaction of [`Store::transaction_and_index`] committed.
    pub fn index_committed(&mut self) {
        if let Some(index) = &mut self.index {
            index.commit();
        }
    }

    /// Reads the history into memory: keys on this connection, records on a
    /// second (read-only) one at the same time, which halves start-up on two
    /// cores.
    fn load_index(&self) -> rusqlite::Result<HistoryIndex> {
        let path = self.path.clone();
        let (keys, records) = std::thread::scope(|scope| {
            let reader = scope
                .spawn(move || load_records(&Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?));
            let keys = load_keys(&self.conn);
            // A reader that could not open (a read-only folder without the
            // WAL index, say) is no reason to fail: read on this connection.
            let records = match reader.join() {
                Ok(Ok(r)) => Ok(r),
                _ => load_records(&self.conn),
            };
            (keys, records)
        });
        let mut index = keys?;
        index.take_records(records?);
        Ok(index)
    }

    /// Starts a write transaction.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, StoreError> {
        begin_immediate(&mut self.conn, &self.path)
    }

    /// The last seq the NDJSON writer recorded as written.
    pub fn ndjson_cursor(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT coalesce((SELECT seq FROM ndjson_cursor WHERE id = 1), 0)", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Forgets the ordered stages' memory of documents ingested before
    /// `before` (RFC 3339 UTC): dedup then compares only with the window
    /// that is left. The documents themselves stay. Returns rows deleted.
    ///
    /// History rows carry only the document's seq, and seq grows with time,
    /// so the cut is the last seq committed before `before`, found by
    /// bisecting the outbox (its key is seq). History rows are clustered by
    /// (stage, seq), so the delete is one range at the start of each table;
    /// the in-memory index forgets the same documents.
    pub fn prune_history(&mut self, before: &str) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let cut = self.last_seq_before(before).map_err(err)?;
        let floor: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(min(m), 0) FROM (SELECT min(doc) AS m FROM history_records
                                                   UNION ALL SELECT min(doc) FROM history_doc_keys)",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if cut < floor {
            return Ok(0);
        }
        let tx = self.transaction()?;
        let mut deleted = tx
            .execute("DELETE FROM history_doc_keys WHERE stage IN (SELECT id FROM history_stages) AND doc <= ?1", params![cut])
            .map_err(err)?;
        deleted += tx
            .execute("DELETE FROM history_records WHERE stage IN (SELECT id FROM history_stages) AND doc <= ?1", params![cut])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        if let Some(index) = &mut self.index {
            index.forget_through(Doc::try_from(cut).unwrap_or(Doc::MAX));
        }
        Ok(deleted)
    }

    /// The highest event seq committed before `before`, 0 when none.
    fn last_seq_before(&self, before: &str) -> rusqlite::Result<i64> {
        let mut at = self.conn.prepare_cached("SELECT at FROM events WHERE seq >= ?1 ORDER BY seq LIMIT 1")?;
        let (mut lo, mut hi) = (0i64, self.conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?);
        // Invariant: every seq <= lo is before `before` (0 trivially); find
        // the largest such seq by bisection, O(log n) point reads.
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            let t: Option<String> = at.query_row([mid], |r| r.get(0)).optional()?;
            if t.is_some_and(|t| t.as_str() < before) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    /// Records the last seq written to the NDJSON file.
    pub fn set_ndjson_cursor(&self, seq: i64) -> Result<(), StoreError> {
        self.conn
            .execute("INSERT INTO ndjson_cursor (id, seq) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq", [seq])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

/// Inserts a processed (or duplicate) document with all its annotations.
pub fn insert_document(tx: &Tx, doc: &Document, seq: i64, at: &str, store_raw: bool) -> rusqlite::Result<()> {
    let status = if doc.duplicate.is_some() { "duplicate" } else { "processed" };
    let published = doc.dates.as_ref().and_then(|d| d.published.as_ref());
    tx.prepare_cached(
        "INSERT INTO documents (doc_id, path, sha256, size, mtime, ingested_at, encoding, title, raw_text, text,
            language, language_confidence, published, published_source, published_after,
            duplicate_of, duplicate_kind, similarity, status, seq, boilerplate_json, extra_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
         ON CONFLICT(doc_id) DO NOTHING",
    )?
    .execute(params![
        doc.doc_id,
        doc.source.path.to_string_lossy(),
        doc.source.sha256,
        doc.source.size as i64,
        crate::event::rfc3339_from_ns(doc.source.mtime_ns),
        at,
        doc.decoding.encoding,
        doc.title,
        if store_raw { Some(doc.raw.as_str()) } else { None },
        doc.text,
        doc.language.as_ref().map(|l| l.code.as_str()),
        doc.language.as_ref().map(|l| l.confidence),
        published.map(|p| p.date.as_str()),
        published.map(|p| p.source.as_str()),
        doc.dates.as_ref().and_then(|d| d.published_after.as_deref()),
        doc.duplicate.as_ref().map(|d| d.doc_id.as_str()),
        doc.duplicate.as_ref().map(|d| d.kind.as_str()),
        doc.duplicate.as_ref().map(|d| d.similarity),
        status,
        seq,
        serde_json::to_string(&doc.boilerplate_removed).unwrap_or_else(|_| "[]".into()),
        (!doc.extra.is_empty()).then(|| serde_json::to_string(&doc.extra).unwrap_or_default()),
    ])?;
    // One upsert per distinct entity (adding its mention count) and per
    // spelling, then one row per mention.
    let mut counts: Vec<((&str, &str), i64)> = Vec::new();
    for m in &doc.entities {
        let key = (m.canonical.as_str(), m.kind.as_str());
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => counts.push((key, 1)),
        }
    }
    let mut ids: std::collections::HashMap<(&str, &str), i64> = std::collections::HashMap::with_capacity(counts.len());
    for ((canonical, kind), n) in counts {
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO entities (canonical, type, mentions) VALUES (?1, ?2, ?3)
                 ON CONFLICT(canonical, type) DO UPDATE SET mentions = mentions + excluded.mentions RETURNING id",
            )?
            .query_row(params![canonical, kind, n], |r| r.get(0))?;
        ids.insert((canonical, kind), id);
    }
    let mut spellings: std::collections::HashMap<(i64, &str), i64> = std::collections::HashMap::new();
    for m in &doc.entities {
        let entity = ids[&(m.canonical.as_str(), m.kind.as_str())];
        *spellings.entry((entity, m.text.as_str())).or_default() += 1;
        tx.prepare_cached("INSERT INTO mentions (doc_id, entity, text, field, start, end) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![doc.doc_id, entity, m.text, m.field, m.start as i64, m.end as i64])?;
    }
    for ((entity, alias), n) in spellings {
        tx.prepare_cached(
            "INSERT INTO entity_aliases (entity, alias, count) VALUES (?1, ?2, ?3)
             ON CONFLICT(entity, alias) DO UPDATE SET count = count + excluded.count",
        )?
        .execute(params![entity, alias, n])?;
    }
    if let Some(dates) = &doc.dates {
        for d in &dates.mentions {
            tx.prepare_cached("INSERT INTO dates (doc_id, text, value, start, end) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![doc.doc_id, d.text, d.value, d.start as i64, d.end as i64])?;
        }
    }
    for r in &doc.related {
        tx.prepare_cached("INSERT INTO related (doc_id, other_doc_id, this_in_other, other_in_this) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![doc.doc_id, r.doc_id, r.this_in_other, r.other_in_this])?;
    }
    set_file_state(tx, &doc.source, Some(&doc.doc_id), status, at)
}

/// Adds a document to the full-text index. Called once per batch, after the
/// ordered stages: an FTS5 insert followed by a SAVEPOINT makes SQLite flush
/// the index to disk every time (6% of the committer's time under `perf`).
pub fn index_text(tx: &Tx, doc: &Document) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO documents_fts (doc_id, title, text) VALUES (?1, ?2, ?3)")?
        .execute(params![doc.doc_id, doc.title, doc.text])?;
    Ok(())
}

/// Records a failure.
pub fn insert_failure(
    tx: &Tx,
    path: &Path,
    source: Option<&Source>,
    reason: &str,
    message: &str,
    seq: i64,
    at: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO failures (path, sha256, size, reason, message, at, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
        .execute(params![
            path.to_string_lossy(),
            source.map(|s| s.sha256.as_str()),
            source.map(|s| s.size as i64),
            reason,
            message,
            at,
            seq
        ])?;
    Ok(())
}

/// Updates what the store remembers of a file.
pub fn set_file_state(tx: &Tx, source: &Source, doc_id: Option<&str>, status: &str, at: &str) -> rusqlite::Result<()> {
    set_file_state_raw(tx, &source.path, Some(source.size), Some(source.mtime_ns), Some(&source.sha256), doc_id, status, at)
}

/// Updates what the store remembers of a file, when parts are unknown (a
/// file that failed before it could be read).
#[allow(clippy::too_many_arguments)]
pub fn set_file_state_raw(
    tx: &Tx,
    path: &Path,
    size: Option<u64>,
    mtime_ns: Option<i64>,
    sha256: Option<&str>,
    doc_id: Option<&str>,
    status: &str,
    at: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO files (path, size, mtime_ns, sha256, doc_id, status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256,
            doc_id = coalesce(excluded.doc_id, files.doc_id), status = excluded.status, updated_at = excluded.updated_at",
    )?
    .execute(params![path.to_string_lossy(), size.map(|s| s as i64), mtime_ns, sha256, doc_id, status, at])?;
    Ok(())
}

/// Appends one event to the outbox.
pub fn insert_event(
    tx: &Tx,
    seq: i64,
    event_id: &str,
    kind: &str,
    doc_id: Option<&str>,
    at: &str,
    body: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO events (seq, event_id, type, doc_id, at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![seq, event_id, kind, doc_id, at, body])?;
    Ok(())
}

/// [`History`] over the committer's open transaction: what an ordered stage
/// writes commits (or rolls back) with the document. Keys are read from the
/// store's [`HistoryIndex`]; the document's own keys are written by [`SqlHistory::finish`].
pub struct SqlHistory<'a> {
    tx: &'a Tx,
    index: &'a mut HistoryIndex,
    stage: i64,
    current: DocNumber,
    /// Keys filed for the current document, written by `finish`.
    filed: Vec<u32>,
    /// The current document's record, written by `finish`.
    own_record: Option<Vec<u8>>,
}

impl<'a> SqlHistory<'a> {
    /// The history of stage `name` while it processes document `current`
    /// (the seq its event will get).
    pub fn new(tx: &'a Tx, index: &'a mut HistoryIndex, name: &str, current: DocNumber) -> rusqlite::Result<SqlHistory<'a>> {
        if Doc::try_from(current).is_err() {
            // Four billion events: far beyond what one database holds in practice.
            return Err(rusqlite::Error::IntegralValueOutOfRange(0, current as i64));
        }
        let id = |tx: &Tx| -> rusqlite::Result<Option<i64>> {
            tx.prepare_cached("SELECT id FROM history_stages WHERE name = ?1")?.query_row([name], |r| r.get(0)).optional()
        };
        let stage = match id(tx)? {
            Some(id) => id,
            None => {
                tx.execute("INSERT INTO history_stages (name) VALUES (?1)", [name])?;
                tx.last_insert_rowid()
            }
        };
        Ok(SqlHistory { tx, index, stage, current, filed: Vec::new(), own_record: None })
    }

    /// Writes the keys and the record the stage filed for this document:
    /// one row each, at the end of their tables. Returns what to file in the
    /// [`HistoryIndex`] once every ordered stage has succeeded.
    pub fn finish(self) -> rusqlite::Result<Filed> {
        if !self.filed.is_empty() {
            let blob: Vec<u8> = self.filed.iter().flat_map(|k| k.to_le_bytes()).collect();
            self.tx
                .prepare_cached("INSERT OR REPLACE INTO history_doc_keys (stage, doc, keys) VALUES (?1, ?2, ?3)")?
                .execute(params![self.stage, self.current as i64, blob])?;
        }
        if let Some(value) = &self.own_record {
            self.tx
                .prepare_cached("INSERT OR REPLACE INTO history_records (stage, doc, value) VALUES (?1, ?2, ?3)")?
                .execute(params![self.stage, self.current as i64, value])?;
        }
        Ok(Filed { stage: self.stage, doc: self.current as Doc, keys: self.filed, record: self.own_record })
    }
}

/// What an ordered stage filed for one document (see [`SqlHistory::finish`]).
#[derive(Debug)]
pub struct Filed {
    stage: i64,
    doc: Doc,
    keys: Vec<u32>,
    record: Option<Vec<u8>>,
}

impl Filed {
    /// Makes it visible to later documents of the open transaction.
    pub fn add_to(self, index: &mut HistoryIndex) {
        index.add_pending(self.stage, self.doc, &self.keys);
        if let Some(r) = self.record {
            index.add_pending_record(self.stage, self.doc, r);
        }
    }
}

fn history_err(e: rusqlite::Error) -> HistoryError {
    HistoryError(e.to_string())
}

impl History for SqlHistory<'_> {
    fn current(&self) -> DocNumber {
        self.current
    }

    fn lookup(&mut self, key: u32, limit: usize) -> Result<Vec<DocNumber>, HistoryError> {
        let own = self.filed.contains(&key).then_some(self.current);
        let earlier = self.index.lookup(self.stage, key, limit);
        Ok(own.into_iter().chain(earlier.into_iter().map(DocNumber::from)).take(limit).collect())
    }

    fn file(&mut self, key: u32) -> Result<(), HistoryError> {
        if !self.filed.contains(&key) {
            self.filed.push(key);
        }
        Ok(())
    }

    fn record(&mut self, doc: DocNumber) -> Result<Option<Vec<u8>>, HistoryError> {
        if doc == self.current {
            return Ok(self.own_record.clone());
        }
        Ok(Doc::try_from(doc).ok().and_then(|d| self.index.record(self.stage, d)).map(<[u8]>::to_vec))
    }

    fn set_record(&mut self, value: &[u8]) -> Result<(), HistoryError> {
        self.own_record = Some(value.to_vec());
        Ok(())
    }

    fn describe(&mut self, doc: DocNumber) -> Result<Option<(String, String)>, HistoryError> {
        self.tx
            .prepare_cached("SELECT doc_id, path FROM documents WHERE seq = ?1")
            .and_then(|mut st| st.query_row([doc as i64], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(history_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;

    /// Files `keys` (and a record) for document `seq` as the committer does.
    fn file(store: &mut Store, name: &str, seq: i64, keys: &[u32], record: Option<&[u8]>, doc: Option<(&Document, &str)>) {
        let (tx, index) = store.transaction_and_index().unwrap();
        if let Some((doc, at)) = doc {
            insert_document(&tx, doc, seq, at, false).unwrap();
            insert_event(&tx, seq, &format!("e{seq}"), "document.processed", Some(&doc.doc_id), at, "{}").unwrap();
        }
        let mut h = SqlHistory::new(&tx, index, name, seq as u64).unwrap();
        for k in keys {
            h.file(*k).unwrap();
        }
        if let Some(r) = record {
            h.set_record(r).unwrap();
        }
        h.finish().unwrap().add_to(index);
        tx.commit().unwrap();
        store.index_committed();
    }

    fn lookup(store: &mut Store, name: &str, key: u32) -> Vec<DocNumber> {
        let (tx, index) = store.transaction_and_index().unwrap();
        let mut h = SqlHistory::new(&tx, index, name, 1000).unwrap();
        h.lookup(key, 10).unwrap()
    }

    #[test]
    fn history_outside_the_window_is_forgotten_and_documents_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db")).unwrap();
        let (old, new) = (Document::from_text("old.txt", "old text"), Document::from_text("new.txt", "new text"));
        for (seq, doc, at) in [(1, &old, "2020-01-01T00:00:00.000Z"), (2, &new, "2026-01-01T00:00:00.000Z")] {
            file(&mut store, "dedup", seq, &[7, u32::MAX], Some(doc.doc_id.as_bytes()), Some((doc, at)));
        }
        assert_eq!(store.prune_history("2025-01-01T00:00:00.000Z").unwrap(), 2, "the old report's keys row and record");
        assert_eq!(store.prune_history("2025-01-01T00:00:00.000Z").unwrap(), 0, "nothing left to forget");
        assert_eq!(lookup(&mut store, "dedup", 7), vec![2]);
        assert_eq!(lookup(&mut store, "dedup", u32::MAX), vec![2]);
        let (tx, index) = store.transaction_and_index().unwrap();
        let mut h = SqlHistory::new(&tx, index, "dedup", 3).unwrap();
        assert_eq!(h.record(1).unwrap(), None);
        assert_eq!(h.record(2).unwrap(), Some(new.doc_id.as_bytes().to_vec()));
        assert_eq!(h.describe(2).unwrap(), Some((new.doc_id.clone(), "new.txt".to_string())));
        let docs: i64 = tx.query_row("SELECT count(*) FROM documents", [], |r| r.get(0)).unwrap();
        assert_eq!(docs, 2);
        drop(tx);
        // A fresh process builds the same index from disk.
        drop(store);
        let mut store = Store::open(&dir.path().join("db")).unwrap();
        assert_eq!(lookup(&mut store, "dedup", 7), vec![2]);
    }

    #[test]
    fn each_ordered_stage_has_its_own_history_and_it_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db")).unwrap();
        file(&mut store, "dedup", 1, &[5, 6], None, None);
        file(&mut store, "dedup", 2, &[5], None, None);
        assert!(lookup(&mut store, "other", 5).is_empty());
        assert_eq!(lookup(&mut store, "dedup", 5), vec![2, 1]);
        drop(store);
        let mut store = Store::open(&dir.path().join("db")).unwrap();
        assert_eq!(lookup(&mut store, "dedup", 5), vec![2, 1]);
        assert_eq!(lookup(&mut store, "dedup", 6), vec![1]);
    }

    #[test]
    fn a_failed_transaction_leaves_no_key_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db")).unwrap();
        {
            let (tx, index) = store.transaction_and_index().unwrap();
            let mut h = SqlHistory::new(&tx, index, "dedup", 1).unwrap();
            h.file(5).unwrap();
            h.finish().unwrap().add_to(index);
            // Dropped without commit: rolled back.
        }
        let (_tx, index) = store.transaction_and_index().unwrap();
        assert!(index.is_empty());
    }

    #[test]
    fn keys_of_a_version_2_database_are_carried_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO history_stages (id, name) VALUES (1, 'dedup');
                 INSERT INTO history_keys (stage, key, doc) VALUES (1, 5, 1), (1, -1, 1), (1, 5, 2);",
            )
            .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(lookup(&mut store, "dedup", 5), vec![2, 1]);
        assert_eq!(lookup(&mut store, "dedup", u32::MAX), vec![1], "keys stored as signed values come back whole");
    }
}
