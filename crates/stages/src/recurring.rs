//! `recurring_blocks`: the [`RecurringBlockStripper`]. Cuts paragraphs at
//! the head or tail of the cleaned text that earlier reports also carried:
//! a site's own footer, standfirst or appeal that no lexicon names yet. The
//! `clean` stage judges each report alone; this stage learns from the archive
//! and gets better as it grows.
//!
//! An ordered stage: it runs in the committer after `dedup`, in arrival
//! order, so "earlier" is well defined and `gleaner ingest` of a folder cuts
//! the same blocks every run. Its memory is the engine's [`History`]: a key
//! per edge paragraph (a hash of the paragraph with case, punctuation,
//! numbers and month names masked), filed under the report's number.
//!
//! Evidence it asks for before cutting, because a wrongly cut paragraph is
//! lost text:
//!
//! * the paragraph sits in an unbroken run from the first or last paragraph:
//!   recurring text in the middle of an article is a quotation or a stock
//!   phrase, not page furniture;
//! * it recurs in `min_reports` earlier reports that are neither copies of
//!   this one nor linked to it as `related`; copies are never filed, so a
//!   story reposted ten times does not make its own paragraphs "recurring";
//! * it is at most `max_words` words long and has at least `min_words`
//!   words that are not numbers or dates: "LONDON 1996-08-30" or
//!   "Attendance: 1,445" recur in every wire feed and are content.

use gleaner_pipeline::document::RemovedBlock;
use gleaner_pipeline::{parse_options, BuiltStage, Document, History, HistoryError, OrderedStage, StageError};
use serde::Deserialize;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Options of the `recurring_blocks` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecurringBlocksConfig {
    /// A paragraph is boilerplate once this many earlier, unrelated reports
    /// had it at their head or tail.
    pub min_reports: usize,
    /// Paragraphs from each end that are remembered and may be cut.
    pub edge_blocks: usize,
    /// Longer paragraphs are never cut (nor remembered).
    pub max_words: usize,
    /// Paragraphs with fewer words, not counting numbers and dates, are
    /// never cut (a dateline, a score line).
    pub min_words: usize,
    /// Keep the text; only report what would be cut.
    pub mark_only: bool,
}

impl Default for RecurringBlocksConfig {
    fn default() -> Self {
        // Three unrelated reports: two could share a paragraph by chance (a
        // correction notice copied between two stories); a site's furniture
        // is on every page. Four paragraphs per end covers a footer of
        // newsletter line, copyright line, contact line and disclaimer.
        RecurringBlocksConfig { min_reports: 3, edge_blocks: 4, max_words: 80, min_words: 4, mark_only: false }
    }
}

/// Builds the stage from its TOML table.
pub fn build(table: toml::Table) -> Result<BuiltStage, String> {
    let config: RecurringBlocksConfig = parse_options(table)?;
    Ok(BuiltStage::Ordered(Arc::new(RecurringBlockStripper::new(config)?)))
}

/// The recurring-blocks stage.
pub struct RecurringBlockStripper {
    config: RecurringBlocksConfig,
    /// Month and weekday names, masked like numbers: "Updated Monday, 3 May"
    /// and "Updated Friday, 9 June" are the same line.
    date_words: HashSet<&'static str>,
}

/// One paragraph of the cleaned text near an edge.
struct Edge {
    /// Its position among all paragraphs.
    index: usize,
    range: Range<usize>,
    /// None when the paragraph is too long or too short to be judged.
    key: Option<u32>,
}

impl RecurringBlockStripper {
    /// Checks the options.
    pub fn new(config: RecurringBlocksConfig) -> Result<RecurringBlockStripper, String> {
        if config.min_reports == 0 {
            return Err("min_reports must be at least 1".into());
        }
        let date_words = crate::dates::month_and_weekday_names().collect();
        Ok(RecurringBlockStripper { config, date_words })
    }

    /// The paragraph's key: its words, lowercased, with numbers and date
    /// names masked and punctuation dropped.
    fn key(&self, paragraph: &str) -> Option<u32> {
        let (mut words, mut plain) = (0, 0);
        let mut norm = String::with_capacity(paragraph.len());
        for raw in paragraph.split_whitespace() {
            words += 1;
            if words > self.config.max_words {
                return None;
            }
            let w: String = raw.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
            if w.is_empty() {
                continue;
            }
            if w.chars().any(|c| c.is_numeric()) {
                norm.push('#');
            } else if self.date_words.contains(w.as_str()) {
                norm.push('@');
            } else {
                norm.push_str(&w);
                plain += 1;
            }
            norm.push(' ');
        }
        if plain < self.config.min_words {
            return None;
        }
        Some(xxh3_64(norm.as_bytes()) as u32)
    }

    /// The first and last `edge_blocks` paragraphs, in text order, and the
    /// spans of all paragraphs.
    fn edges(&self, text: &str) -> (Vec<Edge>, Vec<Range<usize>>) {
        let mut paragraphs = Vec::new();
        let mut at = 0;
        for part in text.split("\n\n") {
            let lead = part.len() - part.trim_start().len();
            let body = part.trim();
            if !body.is_empty() {
                paragraphs.push(at + lead..at + lead + body.len());
            }
            at += part.len() + 2;
        }
        let n = paragraphs.len();
        let k = self.config.edge_blocks;
        let edges = paragraphs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < k || *i + k >= n)
            .map(|(index, range)| Edge { index, key: self.key(&text[range.clone()]), range: range.clone() })
            .collect();
        (edges, paragraphs)
    }

    fn strip(&self, doc: &mut Document, history: &mut dyn History) -> Result<(), HistoryError> {
        let (edges, paragraphs) = self.edges(&doc.text);
        // Earlier reports that share text with this one for a reason other
        // than page furniture.
        let kin: HashSet<String> =
            doc.duplicate.iter().map(|d| d.doc_id.clone()).chain(doc.related.iter().map(|r| r.doc_id.clone())).collect();
        let mut recurring = Vec::with_capacity(edges.len());
        for edge in &edges {
            let Some(key) = edge.key else {
                recurring.push(false);
                continue;
            };
            let docs = history.lookup(key, self.config.min_reports + kin.len())?;
            let mut count = docs.len();
            if !kin.is_empty() {
                for d in docs {
                    if history.describe(d)?.is_some_and(|(id, _)| kin.contains(&id)) {
                        count -= 1;
                    }
                }
            }
            recurring.push(count >= self.config.min_reports);
        }
        // Copies are not filed: their paragraphs recur because the story does.
        if doc.duplicate.is_none() {
            for key in edges.iter().filter_map(|e| e.key) {
                history.file(key)?;
            }
        }

        // Runs from each edge: paragraphs 0, 1, 2... and n-1, n-2... while
        // they recur, never past the paragraphs looked at (between the two
        // groups of edges lies text that was not judged).
        let k = self.config.edge_blocks;
        let head = edges.iter().zip(&recurring).enumerate().take_while(|(i, (e, r))| **r && e.index == *i && *i < k).count();
        let tail = edges
            .iter()
            .zip(&recurring)
            .rev()
            .enumerate()
            .take_while(|(j, (e, r))| **r && e.index + 1 + j == paragraphs.len() && *j < k && e.index >= head)
            .count();
        if head + tail >= paragraphs.len() || head + tail == 0 {
            // Nothing recurs, or everything does: a report made only of
            // furniture is kept whole rather than emptied.
            return Ok(());
        }
        let mut cut = Vec::new();
        if head > 0 {
            cut.push(0..paragraphs[head].start);
        }
        if tail > 0 {
            cut.push(paragraphs[paragraphs.len() - tail - 1].end..doc.text.len());
        }
        let mut removed: Vec<RemovedBlock> = edges[..head]
            .iter()
            .chain(&edges[edges.len() - tail..])
            .map(|e| {
                let text = doc.text[e.range.clone()].to_string();
                RemovedBlock { line: raw_line(&doc.raw, &text), reason: "recurring".into(), text }
            })
            .collect();
        if !self.config.mark_only {
            doc.cut_text(&cut);
        }
        doc.boilerplate_removed.append(&mut removed);
        doc.boilerplate_removed.sort_by_key(|b| b.line);
        Ok(())
    }
}

/// Zero-based line of the raw text where a paragraph of the cleaned text
/// starts (cleaning may have joined broken lines: its first line is found).
fn raw_line(raw: &str, paragraph: &str) -> usize {
    let first = paragraph.lines().next().unwrap_or(paragraph);
    let mut end = first.len().min(60);
    while !first.is_char_boundary(end) {
        end -= 1;
    }
    let probe = &first[..end];
    raw.find(probe).map(|at| raw[..at].matches('\n').count()).unwrap_or(0)
}

impl OrderedStage for RecurringBlockStripper {
    fn name(&self) -> &str {
        "recurring_blocks"
    }

    fn process(&self, doc: &mut Document, history: &mut dyn History) -> Result<(), StageError> {
        self.strip(doc, history).map_err(|source| StageError::History { stage: self.name().into(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gleaner_pipeline::document::{Duplicate, Related};
    use gleaner_pipeline::MemoryHistory;

    const FOOTER: &str = "Tips? Call the desk on 555 0100 or write to tips@example.org any day.";

    fn story(n: usize) -> String {
        let topics = ["harbour", "election", "drought", "vaccine", "railway", "budget", "flood", "strike"];
        let t = topics[n % topics.len()];
        format!(
            "The {t} dominated the council meeting on Tuesday evening.\n\n\
             Officials said the {t} would cost more than planned, and residents asked for a vote.\n\n\
             A decision on the {t} is expected next month.\n\n{}",
            FOOTER.replace("0100", &format!("01{n:02}"))
        )
    }

    fn run(stage: &RecurringBlockStripper, history: &mut MemoryHistory, doc: &mut Document) {
        history.begin(&doc.doc_id, &doc.source.path.to_string_lossy());
        stage.process(doc, history).unwrap();
    }

    #[test]
    fn a_footer_in_three_earlier_reports_is_cut_from_the_fourth() {
        let stage = RecurringBlockStripper::new(RecurringBlocksConfig::default()).unwrap();
        let mut history = MemoryHistory::default();
        for n in 0..3 {
            let mut doc = Document::from_text(&format!("{n}.txt"), &story(n));
            run(&stage, &mut history, &mut doc);
            assert!(doc.text.contains("Tips?"), "report {n}: too little evidence yet");
            assert!(doc.boilerplate_removed.is_empty());
        }
        let mut doc = Document::from_text("3.txt", &story(3));
        run(&stage, &mut history, &mut doc);
        assert!(doc.text.ends_with("A decision on the vaccine is expected next month."), "{}", doc.text);
        assert_eq!(doc.boilerplate_removed.len(), 1);
        let cut = &doc.boilerplate_removed[0];
        assert_eq!((cut.reason.as_str(), cut.line), ("recurring", 6));
        assert!(cut.text.starts_with("Tips? Call the desk on 555 0103"), "numbers are masked, the text is the report's own");
    }

    /// Runs `count` reports ending in `close`; the one at `copy` is a copy of the first.
    fn outlets(
        stage: &RecurringBlockStripper,
        history: &mut MemoryHistory,
        close: &str,
        count: usize,
        copy: Option<usize>,
    ) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for n in 0..count {
            let mut doc = Document::from_text(&format!("w{n}.txt"), &format!("{}\n\n{close}", story(n)));
            if Some(n) == copy {
                doc.duplicate =
                    Some(Duplicate { doc_id: ids[0].clone(), path: "w0.txt".into(), kind: "near".into(), similarity: 0.9 });
            }
            ids.push(doc.doc_id.clone());
            run(stage, history, &mut doc);
        }
        ids
    }

    #[test]
    fn copies_and_related_reports_are_no_evidence() {
        let stage = RecurringBlockStripper::new(RecurringBlocksConfig::default()).unwrap();
        // A wire story's closing paragraph.
        let close = "The agency said it would publish its full findings in the spring.";

        // Three reports carry it, but the third is a copy of the first: not filed.
        let mut history = MemoryHistory::default();
        outlets(&stage, &mut history, close, 3, Some(2));
        let mut doc = Document::from_text("next.txt", &format!("{}\n\n{close}", story(7)));
        run(&stage, &mut history, &mut doc);
        assert!(doc.text.ends_with(close), "two stories are not enough: {:?}", doc.boilerplate_removed);

        // Three unrelated reports carry it, but this one is related to one of them.
        let mut history = MemoryHistory::default();
        let ids = outlets(&stage, &mut history, close, 3, None);
        let mut doc = Document::from_text("next.txt", &format!("{}\n\n{close}", story(7)));
        doc.related = vec![Related { doc_id: ids[1].clone(), path: "w1.txt".into(), this_in_other: 0.6, other_in_this: 0.6 }];
        run(&stage, &mut history, &mut doc);
        assert!(doc.text.ends_with(close), "the related report is no evidence: {:?}", doc.boilerplate_removed);

        // Without the link the same three are evidence.
        let mut doc = Document::from_text("last.txt", &format!("{}\n\n{close}", story(6)));
        run(&stage, &mut history, &mut doc);
        assert!(!doc.text.contains(close));
    }

    #[test]
    fn recurring_text_in_the_middle_stays_and_a_report_is_never_emptied() {
        let stage = RecurringBlockStripper::new(RecurringBlocksConfig { edge_blocks: 8, ..Default::default() }).unwrap();
        let mut history = MemoryHistory::default();
        let stock = "Scroll down to continue reading the article";
        for (n, topic) in ["harbour", "election", "drought", "vaccine"].iter().enumerate() {
            let text = format!("The {topic} dominated the meeting.\n\n{stock}\n\nA decision on the {topic} is expected.");
            let mut doc = Document::from_text(&format!("{n}.txt"), &text);
            run(&stage, &mut history, &mut doc);
            assert!(doc.text.contains(stock), "between two body paragraphs it is not at an edge");
        }
        for n in 0..2 {
            let mut doc = Document::from_text(&format!("only{n}.txt"), stock);
            run(&stage, &mut history, &mut doc);
            assert_eq!(doc.text, stock);
        }
    }

    #[test]
    fn a_run_from_one_edge_never_reaches_past_the_paragraphs_looked_at() {
        let stage = RecurringBlockStripper::new(RecurringBlocksConfig { edge_blocks: 2, ..Default::default() }).unwrap();
        let mut history = MemoryHistory::default();
        let furniture = ["Menu: news sport weather culture opinion", "Sign in to read the full edition today"];
        let stock = "Contact the newsroom with tips and corrections here";
        let report = |topic: &str| {
            let body: Vec<String> =
                (0..6).map(|i| format!("Paragraph {i} about the {topic} goes on for a while longer.")).collect();
            // The second-to-last paragraph recurs, the last does not.
            format!("{}\n\n{}\n\n{}\n\n{stock}\n\nThe {topic} story ends here.", furniture[0], furniture[1], body.join("\n\n"))
        };
        for topic in ["harbour", "election", "drought"] {
            let mut doc = Document::from_text(&format!("{topic}.txt"), &report(topic));
            run(&stage, &mut history, &mut doc);
        }
        let mut doc = Document::from_text("vaccine.txt", &report("vaccine"));
        run(&stage, &mut history, &mut doc);
        assert!(doc.text.starts_with("Paragraph 0 about the vaccine"), "{}", doc.text);
        assert!(doc.text.contains(stock) && doc.text.ends_with("The vaccine story ends here."), "{}", doc.text);
        assert_eq!(doc.boilerplate_removed.len(), 2);
    }

    #[test]
    fn mark_only_reports_without_cutting() {
        let stage = RecurringBlockStripper::new(RecurringBlocksConfig { mark_only: true, ..Default::default() }).unwrap();
        let mut history = MemoryHistory::default();
        let mut last = Document::from_text("x", "");
        for n in 0..4 {
            last = Document::from_text(&format!("{n}.txt"), &story(n));
            run(&stage, &mut history, &mut last);
        }
        assert!(last.text.contains("Tips?"));
        assert_eq!(last.boilerplate_removed[0].reason, "recurring");
    }

    #[test]
    fn dates_and_numbers_do_not_hide_a_recurring_line() {
        let stage = RecurringBlockStripper::new(RecurringBlocksConfig::default()).unwrap();
        assert_eq!(
            stage.key("This story was updated on Monday, 3 May 2021, 10:04."),
            stage.key("THIS STORY WAS UPDATED ON Friday, 19 September 2024, 18:55"),
        );
        assert_ne!(
            stage.key("This story was updated on Monday, 3 May 2021"),
            stage.key("This story was published on Monday, 3 May 2021")
        );
        assert_eq!(stage.key("LONDON 1996-08-30"), None, "a dateline is content");
        assert_eq!(stage.key("Attendance: 1,445."), None);
    }
}
