//! The NDJSON events: one JSON object per line, described by
//! `schema/events.schema.json`. Only this module decides their shape.

use crate::document::{DateMention, Document, Language, Published, Related, RemovedBlock, Source, Warning};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Version of the event shape. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Nanoseconds since the epoch as RFC 3339 UTC (None for 0 = unknown).
pub fn rfc3339_from_ns(ns: i64) -> Option<String> {
    (ns != 0).then(|| chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A unique id for event `seq` of this database.
pub fn event_id(seq: i64, kind: &str, subject: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(kind.as_bytes());
    h.update(subject.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn envelope(kind: &str, seq: i64, at: &str, subject: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("schema".into(), json!(SCHEMA_VERSION));
    m.insert("type".into(), json!(kind));
    m.insert("seq".into(), json!(seq));
    m.insert("event_id".into(), json!(event_id(seq, kind, subject)));
    m.insert("at".into(), json!(at));
    m
}

fn source_json(source: &Source) -> Value {
    serde_json::to_value(SourceJson::of(source)).expect("a source serializes")
}

/// `document.processed` or `document.duplicate`, as its NDJSON line.
///
/// Serialized straight from borrowed fields instead of through a
/// `serde_json::Value` tree: a report's event carries its whole text, every
/// removed block and every mention, and building the tree first was an
/// eighth of the committer's time (perf). Field order is the schema's.
pub fn document_event(doc: &Document, seq: i64, at: &str) -> String {
    #[derive(Serialize)]
    struct DocumentEvent<'a> {
        schema: u32,
        #[serde(rename = "type")]
        kind: &'a str,
        seq: i64,
        event_id: String,
        at: &'a str,
        doc_id: &'a str,
        source: SourceJson<'a>,
        encoding: &'a str,
        title: &'a Option<String>,
        text: &'a str,
        language: &'a Option<Language>,
        published: Option<&'a Published>,
        published_after: Option<&'a str>,
        dates: &'a [DateMention],
        entities: Vec<EntityEntry<'a>>,
        duplicate_of: Option<DuplicateOf<'a>>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        related: &'a [Related],
        story_id: &'a str,
        boilerplate_removed: &'a [RemovedBlock],
        warnings: &'a [Warning],
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        extra: &'a BTreeMap<String, Value>,
        timings_ms: Timings<'a>,
    }
    #[derive(Serialize)]
    struct DuplicateOf<'a> {
        doc_id: &'a str,
        path: &'a str,
        kind: &'a str,
        similarity: f64,
    }
    struct Timings<'a>(&'a [(String, f64)]);
    impl Serialize for Timings<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, (v * 1000.0).round() / 1000.0)))
        }
    }
    let kind = if doc.duplicate.is_some() { "document.duplicate" } else { "document.processed" };
    let dates = doc.dates.as_ref();
    let event = DocumentEvent {
        schema: SCHEMA_VERSION,
        kind,
        seq,
        event_id: event_id(seq, kind, &doc.doc_id),
        at,
        doc_id: &doc.doc_id,
        source: SourceJson::of(&doc.source),
        encoding: &doc.decoding.encoding,
        title: &doc.title,
        text: &doc.text,
        language: &doc.language,
        published: dates.and_then(|d| d.published.as_ref()),
        published_after: dates.and_then(|d| d.published_after.as_deref()),
        dates: dates.map(|d| d.mentions.as_slice()).unwrap_or_default(),
        entities: entity_entries(doc),
        duplicate_of: doc.duplicate.as_ref().map(|d| DuplicateOf {
            doc_id: &d.doc_id,
            path: &d.path,
            kind: &d.kind,
            similarity: d.similarity,
        }),
        related: &doc.related,
        story_id: doc.duplicate.as_ref().map(|d| d.doc_id.as_str()).unwrap_or(&doc.doc_id),
        boilerplate_removed: &doc.boilerplate_removed,
        warnings: &doc.warnings,
        extra: &doc.extra,
        timings_ms: Timings(&doc.timings),
    };
    serde_json::to_string(&event).expect("a document event serializes")
}

/// `source` of a document event.
#[derive(Serialize)]
struct SourceJson<'a> {
    path: std::borrow::Cow<'a, str>,
    size: u64,
    sha256: &'a str,
    mtime: Option<String>,
}

impl<'a> SourceJson<'a> {
    fn of(source: &'a Source) -> SourceJson<'a> {
        SourceJson {
            path: source.path.to_string_lossy(),
            size: source.size,
            sha256: &source.sha256,
            mtime: rfc3339_from_ns(source.mtime_ns),
        }
    }
}

/// One entry of `entities`: a distinct (text, type) with its canonical name
/// and every span (`spans` into `text`, `title_spans` into `title`).
#[derive(Serialize)]
struct EntityEntry<'a> {
    text: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    canonical: &'a str,
    spans: Vec<[usize; 2]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    title_spans: Vec<[usize; 2]>,
}

/// The entries in order of first mention.
fn entity_entries(doc: &Document) -> Vec<EntityEntry<'_>> {
    let mut entries: Vec<EntityEntry> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for m in &doc.entities {
        let i = *index.entry((m.text.as_str(), m.kind.as_str())).or_insert_with(|| {
            entries.push(EntityEntry {
                text: &m.text,
                kind: &m.kind,
                canonical: &m.canonical,
                spans: Vec::new(),
                title_spans: Vec::new(),
            });
            entries.len() - 1
        });
        let spans = if m.field == "title" { &mut entries[i].title_spans } else { &mut entries[i].spans };
        spans.push([m.start, m.end]);
    }
    entries
}

/// `document.failed`.
pub fn failed_event(path: &Path, source: Option<&Source>, reason: &str, message: &str, seq: i64, at: &str) -> Value {
    let mut m = envelope("document.failed", seq, at, &path.to_string_lossy());
    let src = match source {
        Some(s) => source_json(s),
        None => json!({"path": path.to_string_lossy()}),
    };
    m.insert("source".into(), src);
    m.insert("reason".into(), json!(reason));
    m.insert("message".into(), json!(message));
    Value::Object(m)
}

/// `daemon.started` / `daemon.stopped`, with free-form details.
pub fn daemon_event(kind: &str, seq: i64, at: &str, details: Value) -> Value {
    let mut m = envelope(kind, seq, at, at);
    if let Value::Object(d) = details {
        m.extend(d);
    }
    Value::Object(m)
}
