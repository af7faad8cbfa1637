//! The document model: what a file becomes as it moves through the stages.
//!
//! A [`Document`] starts with its [`Source`] and the decoded raw text. Each
//! stage fills its own typed slot; no stage reads or rewrites another stage's
//! slot except the cleaned `text` and `title`, which the cleaning stage sets and
//! every later stage reads.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where a document came from, as found on disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Source {
    /// The path as the watcher or `ingest` found it.
    pub path: PathBuf,
    /// Size in bytes of the content that was read.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 if unknown).
    pub mtime_ns: i64,
    /// Hex SHA-256 of the bytes that were read.
    pub sha256: String,
}

/// How the raw bytes were turned into text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Decoding {
    /// Encoding label, e.g. `UTF-8`, `UTF-16LE`, `windows-1252`.
    pub encoding: String,
    /// True when the encoding was guessed rather than declared by a BOM or valid UTF-8.
    pub detected: bool,
}

/// Detected language of the document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Language {
    /// ISO 639-1 code (`en`), or ISO 639-3 where 639-1 has none.
    pub code: String,
    /// Confidence of the detector in `[0, 1]`.
    pub confidence: f64,
    /// Runner-up languages when the detector was unsure, best first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub alternatives: Vec<(String, f64)>,
    /// Language of each paragraph long enough to tell.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub blocks: Vec<BlockLanguage>,
    /// Paragraphs in more than one language (a report with a foreign-language
    /// aggregator footer, a bilingual page).
    #[serde(default)]
    pub mixed: bool,
}

/// The language of one paragraph of the cleaned text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlockLanguage {
    /// Byte offset of the paragraph in the cleaned text.
    pub start: usize,
    /// End of the paragraph (exclusive).
    pub end: usize,
    /// ISO 639-1 code.
    pub code: String,
}

/// One date expression found in the cleaned text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DateMention {
    /// The expression as written.
    pub text: String,
    /// Normalised ISO 8601 value: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    pub value: String,
    /// Byte span in the cleaned text.
    pub start: usize,
    /// End of the byte span (exclusive).
    pub end: usize,
}

/// The publication date chosen for the document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Published {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Where it came from: `dateline`, `byline`, `inferred`.
    pub source: String,
    /// Confidence in `[0, 1]`.
    pub confidence: f64,
}

/// Output of the dates stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Dates {
    /// The publication date, when the text states one.
    pub published: Option<Published>,
    /// When `published` is null: the latest full date the text mentions.
    pub published_after: Option<String>,
    /// Every date expression, in text order.
    pub mentions: Vec<DateMention>,
}

/// One entity mention in the cleaned text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntityMention {
    /// The name exactly as written in the cleaned text.
    pub text: String,
    /// `PERSON`, `ORG` or `LOCATION`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The canonical name this mention resolves to.
    pub canonical: String,
    /// Where the span points: `text` (the cleaned text) or `title`.
    #[serde(default = "text_field")]
    pub field: String,
    /// Byte span in the cleaned text (or the title, see `field`).
    pub start: usize,
    /// End of the byte span (exclusive).
    pub end: usize,
}

fn text_field() -> String {
    "text".into()
}

/// The decision of the dedup stage when the document repeats an earlier one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Duplicate {
    /// `doc_id` of the earlier document.
    pub doc_id: String,
    /// Path of the earlier document.
    pub path: String,
    /// `exact` or `near`.
    pub kind: String,
    /// Estimated Jaccard similarity of the two cleaned texts.
    pub similarity: f64,
}

/// An earlier document that shares a large part of this one without being
/// a copy (wire copy with a local intro, a piece quoting whole paragraphs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Related {
    /// `doc_id` of the earlier document.
    pub doc_id: String,
    /// Its path.
    pub path: String,
    /// Share of this document's shingles found in the other.
    pub this_in_other: f64,
    /// Share of the other document's shingles found in this one.
    pub other_in_this: f64,
}

/// A block the cleaning stage removed (or marked), with why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RemovedBlock {
    /// Zero-based line number in the raw text where the block starts.
    pub line: usize,
    /// The reason code: `paywall`, `share`, `footer`, `navigation`, ...
    pub reason: String,
    /// The block's text.
    pub text: String,
}

/// A non-fatal remark from a stage ("no date found").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Warning {
    /// The stage that raised it.
    pub stage: String,
    /// What a person should know.
    pub message: String,
}

/// A document in flight.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    /// Stable id: derived from the path and the content hash.
    pub doc_id: String,
    /// Where the bytes came from.
    pub source: Source,
    /// How the bytes were decoded.
    pub decoding: Decoding,
    /// The text as decoded, untouched.
    pub raw: String,
    /// The cleaned text. Starts as a copy of `raw`; the cleaning stage replaces it.
    pub text: String,
    /// The headline, when one was found.
    pub title: Option<String>,
    /// Slot of the language stage.
    pub language: Option<Language>,
    /// Slot of the dates stage.
    pub dates: Option<Dates>,
    /// Slot of the entities stage.
    pub entities: Vec<EntityMention>,
    /// Slot of the dedup stage.
    pub duplicate: Option<Duplicate>,
    /// Also the dedup stage's: earlier documents with a large overlap.
    pub related: Vec<Related>,
    /// Slot of the cleaning stage: what was removed and why.
    pub boilerplate_removed: Vec<RemovedBlock>,
    /// Non-fatal remarks from any stage.
    pub warnings: Vec<Warning>,
    /// Milliseconds per stage, in run order.
    pub timings: Vec<(String, f64)>,
    /// Annotations of external programs (`exec` stages), by stage name.
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Document {
    /// Builds a document from decoded text. The id is a function of path and
    /// content, so the same bytes under another name get another id (and the
    /// dedup stage reports them as an exact duplicate).
    pub fn new(source: Source, decoding: Decoding, raw: String) -> Document {
        let doc_id = doc_id_for(&source.path, &source.sha256);
        Document {
            doc_id,
            source,
            decoding,
            text: raw.clone(),
            raw,
            title: None,
            language: None,
            dates: None,
            entities: Vec::new(),
            duplicate: None,
            related: Vec::new(),
            boilerplate_removed: Vec::new(),
            warnings: Vec::new(),
            timings: Vec::new(),
            extra: Default::default(),
        }
    }

    /// A document from a string, for tests and benchmarks of stages.
    pub fn from_text(path: &str, text: &str) -> Document {
        let sha256 = crate::decode::sha256_hex(text.as_bytes());
        let source = Source { path: PathBuf::from(path), size: text.len() as u64, mtime_ns: 0, sha256 };
        let decoding = Decoding { encoding: "UTF-8".into(), detected: false };
        Document::new(source, decoding, text.to_string())
    }

    /// Records a non-fatal remark.
    pub fn warn(&mut self, stage: &str, message: impl Into<String>) {
        self.warnings.push(Warning { stage: stage.to_string(), message: message.into() });
    }

    /// Removes byte ranges from the cleaned text after other stages have
    /// annotated it (a stage that runs late, with history, finds more
    /// boilerplate). Spans into the text stay true: annotations inside a cut
    /// are dropped, later ones move back. Ranges must lie on char boundaries;
    /// they may come in any order and overlap.
    pub fn cut_text(&mut self, ranges: &[std::ops::Range<usize>]) {
        let mut cuts: Vec<std::ops::Range<usize>> =
            ranges.iter().filter(|r| r.start < r.end && r.end <= self.text.len()).cloned().collect();
        if cuts.is_empty() {
            return;
        }
        cuts.sort_by_key(|r| r.start);
        let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(cuts.len());
        for r in cuts {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        // A span survives when it touches no cut; it moves back by the bytes cut before it.
        let moved = |start: usize, end: usize| -> Option<(usize, usize)> {
            let mut shift = 0;
            for c in &merged {
                if c.end <= start {
                    shift += c.end - c.start;
                } else if c.start < end {
                    return None;
                }
            }
            Some((start - shift, end - shift))
        };
        if let Some(lang) = &mut self.language {
            lang.blocks.retain_mut(|b| moved(b.start, b.end).map(|(s, e)| (b.start, b.end) = (s, e)).is_some());
        }
        if let Some(dates) = &mut self.dates {
            dates.mentions.retain_mut(|m| moved(m.start, m.end).map(|(s, e)| (m.start, m.end) = (s, e)).is_some());
        }
        self.entities
            .retain_mut(|m| m.field != "text" || moved(m.start, m.end).map(|(s, e)| (m.start, m.end) = (s, e)).is_some());
        let mut text = String::with_capacity(self.text.len());
        let mut at = 0;
        for c in &merged {
            text.push_str(&self.text[at..c.start]);
            at = c.end;
        }
        text.push_str(&self.text[at..]);
        self.text = text;
    }
}

/// `doc_id` = first 16 bytes of SHA-256 over path and content hash, in hex.
pub fn doc_id_for(path: &std::path::Path, sha256: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(path.to_string_lossy().as_bytes());
    h.update([0u8]);
    h.update(sha256.as_bytes());
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(text: &str, doc: &str) -> EntityMention {
        let start = doc.find(text).unwrap();
        EntityMention {
            text: text.into(),
            kind: "PERSON".into(),
            canonical: text.into(),
            field: "text".into(),
            start,
            end: start + text.len(),
        }
    }

    #[test]
    fn cutting_text_keeps_every_span_true() {
        let text = "Sign up now.\n\nAnna Lind spoke on 3 May.\n\nÄnne Müller agreed.\n\nShare this.";
        let mut doc = Document::from_text("a.txt", text);
        doc.entities = vec![mention("Anna Lind", text), mention("Änne Müller", text), mention("Sign", text)];
        let at = text.find("3 May").unwrap();
        doc.dates = Some(Dates {
            mentions: vec![DateMention { text: "3 May".into(), value: "2024-05-03".into(), start: at, end: at + 5 }],
            ..Dates::default()
        });
        let head = 0..text.find("Anna").unwrap();
        let tail = text.find("\n\nShare").unwrap()..text.len();
        doc.cut_text(&[tail, head.clone(), head]);
        assert_eq!(doc.text, "Anna Lind spoke on 3 May.\n\nÄnne Müller agreed.");
        let names: Vec<&str> = doc.entities.iter().map(|m| &doc.text[m.start..m.end]).collect();
        assert_eq!(
            names,
            ["Anna Lind", "Änne Müller"],
            "the mention inside the cut is gone, the others still point at their text"
        );
        let d = &doc.dates.as_ref().unwrap().mentions[0];
        assert_eq!(&doc.text[d.start..d.end], "3 May");
    }
}
