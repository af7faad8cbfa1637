//! `entities`: the [`EntityTagger`]. Finds people, organisations and places
//! and gives each mention a canonical name.
//!
//! Two sources, in order:
//! 1. the gazetteer (`config/gazetteer.toml`): canonical names with aliases,
//!    matched with aho-corasick; the user's word is final;
//! 2. capitalised name sequences, typed by a lexicon of names learned from
//!    annotated news (`config/lexicons/entity_names.tsv`, built by
//!    `tools/build_entity_lexicon.py`), by cue words ("President", "Ministry")
//!    and by what the same report already said about the name.
//!
//! A surname alone resolves to the full name seen earlier in the same report,
//! never to a person of another report.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use gleaner_pipeline::document::EntityMention;
use gleaner_pipeline::{async_trait, parse_options, BuiltStage, Document, Stage, StageError};
use regex::Regex;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

const BUILTIN_GAZETTEER: &str = include_str!("../../../config/gazetteer.toml");
const BUILTIN_NAMES: &str = include_str!("../../../config/lexicons/entity_names.tsv");
const BUILTIN_COMMON: &str = include_str!("../../../config/lexicons/capitalised_common.tsv");

/// Options of the `entities` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntitiesConfig {
    /// Gazetteer file; unset = built-in `config/gazetteer.toml`.
    pub gazetteer: Option<PathBuf>,
    /// Extra gazetteer files, added to the main one (your own watch list).
    pub extra_gazetteers: Vec<PathBuf>,
    /// Learned name lexicon (TSV: name, PER, ORG, LOC, MISC counts); unset = built-in.
    pub names: Option<PathBuf>,
}

impl Default for EntitiesConfig {
    fn default() -> Self {
        EntitiesConfig { gazetteer: None, extra_gazetteers: Vec::new(), names: None }
    }
}

/// One gazetteer entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GazetteerEntry {
    /// The name every alias resolves to.
    pub canonical: String,
    /// `PERSON`, `ORG` or `LOCATION`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Spellings to match (the canonical name is always one).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Optional Wikidata id.
    #[serde(default)]
    pub wikidata: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GazetteerFile {
    #[serde(default)]
    entity: Vec<GazetteerEntry>,
}

/// Builds the stage from its TOML table.
pub fn build(table: toml::Table) -> Result<BuiltStage, String> {
    let config: EntitiesConfig = parse_options(table)?;
    Ok(BuiltStage::Parallel(Arc::new(EntityTagger::new(config)?)))
}

/// Type counts of a name in annotated text.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    per: u32,
    org: u32,
    loc: u32,
    misc: u32,
}

impl Counts {
    fn total(&self) -> u32 {
        self.per + self.org + self.loc + self.misc
    }
    fn best(&self) -> Option<&'static str> {
        let max = self.per.max(self.org).max(self.loc).max(self.misc);
        if max == 0 || self.misc == max {
            return None;
        }
        Some(if self.per == max {
            "PERSON"
        } else if self.loc == max {
            "LOCATION"
        } else {
            "ORG"
        })
    }
}

/// The entity stage.
pub struct EntityTagger {
    matcher: AhoCorasick,
    /// Per aho-corasick pattern: index into `entries`.
    pattern_entry: Vec<usize>,
    entries: Vec<GazetteerEntry>,
    names: HashMap<String, Counts>,
    /// Per token: counts as first and as last token of names.
    first_tokens: HashMap<String, Counts>,
    last_tokens: HashMap<String, Counts>,
    common: HashSet<String>,
    word: Regex,
}

const TITLES: &[&str] = &[
    "Mr", "Mrs", "Ms", "Dr", "Prof", "President", "Vice", "Prime", "Minister", "Gen", "General", "Lt", "Col", "Colonel", "Maj",
    "Major", "Capt", "Captain", "Sgt", "Adm", "Admiral", "Sheikh", "Sheik", "Ayatollah", "Imam", "Rabbi", "Rev", "Father", "Pope",
    "King", "Queen", "Prince", "Princess", "Sir", "Lord", "Lady", "Senator", "Sen", "Rep", "Governor", "Gov", "Mayor", "Judge",
    "Justice", "Chancellor", "Secretary", "Ambassador", "Chairman", "Commander", "Chief", "Emir", "Sultan", "Saint", "St",
    "Speaker", "Foreign", "Defence", "Defense", "Supreme", "Leader", "Deputy", "Hajj", "Haj",
];
const PERSON_CUES_BEFORE: &[&str] = &["leader", "spokesman", "spokeswoman", "minister", "president", "chief", "official", "commander", "said", "told", "adviser", "secretary-general", "director", "head"];
const ORG_SUFFIXES: &[&str] = &[
    "Inc", "Corp", "Corporation", "Ltd", "LLC", "Plc", "PLC", "Co", "Company", "Group", "Party", "Ministry", "Agency", "Brigades",
    "Brigade", "Force", "Forces", "Corps", "Council", "Movement", "Organization", "Organisation", "Bank", "University", "Army",
    "Association", "Committee", "Front", "Union", "News", "Times", "Post", "Institute", "Center", "Centre", "Foundation",
    "Commission", "Authority", "Department", "Office", "Service", "Services", "Guard", "Network", "Court", "Parliament",
    "Government", "Club", "Federation", "League", "Airlines", "Bureau", "Board", "Tribune", "Journal", "Herald", "Press",
    "Television", "TV", "Radio", "Exchange", "Fund", "Trust", "Holdings", "Industries", "Systems", "Technologies", "Society",
    "Alliance", "Coalition", "Assembly", "Senate", "Congress", "Police", "Navy", "Cabinet", "Embassy", "School", "College",
];
const CONNECTORS: &[&str] = &["al-", "el-", "bin", "ibn", "bint", "de", "del", "della", "der", "van", "von", "of", "for", "da", "du", "la", "le", "abu", "Abu", "and", "&"];
const SENTENCE_STARTERS: &[&str] = &[
    "The", "A", "An", "In", "On", "At", "But", "And", "Or", "If", "When", "While", "As", "After", "Before", "This", "That", "These",
    "Those", "It", "He", "She", "They", "We", "I", "You", "His", "Her", "Their", "Our", "There", "Here", "Some", "Many", "Most",
    "All", "Both", "Each", "Other", "Another", "Such", "What", "Which", "Who", "Why", "How", "Where", "According", "However",
    "Although", "Despite", "Since", "Until", "For", "From", "With", "Without", "Under", "Over", "Between", "During", "By", "To",
    "Also", "Meanwhile", "Later", "Earlier", "Then", "Now", "So", "Yet", "Still", "Instead", "Separately", "Sources", "Photo",
    "Right", "Left", "Above", "Below", "Not", "No", "Yes", "Its", "My", "Your", "Several", "One", "Two", "Three", "Last", "Next",
    "First", "Second", "New", "Former", "Senior", "Top", "Only", "Even", "Just", "Among", "Against", "Through", "Following",
];

impl EntityTagger {
    /// Loads the gazetteer and lexicons.
    pub fn new(config: EntitiesConfig) -> Result<EntityTagger, String> {
        let mut entries = Vec::new();
        let main = match &config.gazetteer {
            Some(p) => std::fs::read_to_string(p).map_err(|e| format!("cannot read gazetteer {}: {e}", p.display()))?,
            None => BUILTIN_GAZETTEER.to_string(),
        };
        let mut texts = vec![("gazetteer".to_string(), main)];
        for p in &config.extra_gazetteers {
            let t = std::fs::read_to_string(p).map_err(|e| format!("cannot read gazetteer {}: {e}", p.display()))?;
            texts.push((p.display().to_string(), t));
        }
        for (origin, text) in texts {
            let file: GazetteerFile = toml::from_str(&text).map_err(|e| format!("{origin}: {e}"))?;
            for e in file.entity {
                if !matches!(e.kind.as_str(), "PERSON" | "ORG" | "LOCATION") {
                    return Err(format!("{origin}: entity {:?} has type {:?}; use PERSON, ORG or LOCATION", e.canonical, e.kind));
                }
                entries.push(e);
            }
        }
        let mut patterns = Vec::new();
        let mut pattern_entry = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let mut all: Vec<&String> = e.aliases.iter().collect();
            all.push(&e.canonical);
            for a in all {
                patterns.push(a.clone());
                pattern_entry.push(i);
            }
        }
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|e| format!("gazetteer: {e}"))?;
        let names_text = match &config.names {
            Some(p) => std::fs::read_to_string(p).map_err(|e| format!("cannot read names {}: {e}", p.display()))?,
            None => BUILTIN_NAMES.to_string(),
        };
        let mut names = HashMap::new();
        let mut first_tokens: HashMap<String, Counts> = HashMap::new();
        let mut last_tokens: HashMap<String, Counts> = HashMap::new();
        for line in names_text.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() != 5 {
                continue;
            }
            let n = |i: usize| cols[i].parse::<u32>().unwrap_or(0);
            let c = Counts { per: n(1), org: n(2), loc: n(3), misc: n(4) };
            let toks: Vec<&str> = cols[0].split(' ').collect();
            if toks.len() > 1 {
                add(first_tokens.entry(toks[0].to_string()).or_default(), c);
                add(last_tokens.entry(toks[toks.len() - 1].to_string()).or_default(), c);
            }
            names.insert(cols[0].to_string(), c);
        }
        let common = BUILTIN_COMMON
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('\t').next())
            .map(str::to_string)
            .collect();
        let word = Regex::new(r"[\p{L}\p{M}\p{N}][\p{L}\p{M}\p{N}'’.&-]*").expect("word pattern");
        Ok(EntityTagger { matcher, pattern_entry, entries, names, first_tokens, last_tokens, common, word })
    }

    /// Tags a text. Mentions are in text order and never overlap.
    pub fn tag(&self, text: &str) -> Vec<EntityMention> {
        let mut mentions = Vec::new();
        let mut taken: Vec<(usize, usize)> = Vec::new();
        for m in self.matcher.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            let first = text[s..].chars().next().unwrap_or(' ');
            if !first.is_uppercase() || !is_boundary(text, s, e) {
                continue;
            }
            let entry = &self.entries[self.pattern_entry[m.pattern().as_usize()]];
            mentions.push(EntityMention { text: text[s..e].to_string(), kind: entry.kind.clone(), canonical: entry.canonical.clone(), start: s, end: e });
            taken.push((s, e));
        }
        let mut persons: Vec<(String, String)> = mentions.iter().filter(|m| m.kind == "PERSON").map(|m| (m.text.clone(), m.canonical.clone())).collect();
        let mut known: HashMap<String, (String, String)> = HashMap::new();
        for cand in self.candidates(text) {
            if taken.iter().any(|&(s, e)| cand.0 < e && cand.1 > s) {
                continue;
            }
            let (s, e, before) = cand;
            let name = &text[s..e];
            let Some((kind, canonical)) = self.type_of(name, &before, &persons, &known) else { continue };
            if kind == "PERSON" && name.contains(' ') {
                persons.push((name.to_string(), canonical.clone()));
            }
            known.insert(name.to_string(), (kind.clone(), canonical.clone()));
            mentions.push(EntityMention { text: name.to_string(), kind, canonical, start: s, end: e });
        }
        mentions.sort_by_key(|m| m.start);
        mentions
    }

    /// Capitalised sequences: (start, end, the word before).
    fn candidates(&self, text: &str) -> Vec<(usize, usize, String)> {
        let words: Vec<(usize, usize)> = self.word.find_iter(text).map(|m| (m.start(), m.end())).collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let (s, e) = words[i];
            let w = &text[s..e];
            if !starts_upper(w) {
                i += 1;
                continue;
            }
            let sentence_start = i == 0 || ends_sentence(&text[words[i - 1].1..s], &text[words[i - 1].0..words[i - 1].1]);
            let mut j = i;
            let mut end = e;
            // Extend over capitalised words and inner connectors, on one line.
            while j + 1 < words.len() {
                // "Damascus. Haniyeh": a full stop after a word (not an
                // initial like "J." or "U.S.") ends the sentence and the name.
                if ends_sentence_word(&text[words[j].0..words[j].1]) {
                    break;
                }
                let gap = &text[words[j].1..words[j + 1].0];
                if gap != " " && gap != " al-" && gap != " el-" {
                    break;
                }
                let next = &text[words[j + 1].0..words[j + 1].1];
                if starts_upper(next) {
                    j += 1;
                    end = words[j].1;
                } else if CONNECTORS.contains(&next) && j + 2 < words.len() && &text[words[j + 1].1..words[j + 2].0] == " " && starts_upper(&text[words[j + 2].0..words[j + 2].1]) {
                    j += 2;
                    end = words[j].1;
                } else {
                    break;
                }
            }
            let before = if i > 0 { text[words[i - 1].0..words[i - 1].1].to_string() } else { String::new() };
            // Drop leading titles and sentence-opening words.
            let mut k = i;
            let mut prev = before.clone();
            while k <= j {
                let w = text[words[k].0..words[k].1].trim_end_matches('.');
                let opener = (k == i && sentence_start) && (SENTENCE_STARTERS.contains(&w) || self.common.contains(w));
                if TITLES.contains(&w) || opener || (k < j && SENTENCE_STARTERS.contains(&w)) {
                    prev = w.to_string();
                    k += 1;
                } else {
                    break;
                }
            }
            if k <= j {
                let (cs, mut ce) = (words[k].0, end);
                // "Hamas's", "Iran’s": the possessive is not part of the name.
                for suffix in ["'s", "’s", "'", "’", ".", "-"] {
                    if text[cs..ce].ends_with(suffix) && ce - suffix.len() > cs {
                        ce -= suffix.len();
                    }
                }
                let single_common = k == j && self.common.contains(&text[cs..ce]);
                if !single_common && text[cs..ce].chars().filter(|c| c.is_alphabetic()).count() >= 2 {
                    out.push((cs, ce, prev));
                }
            }
            i = j + 1;
        }
        out
    }

    fn type_of(&self, name: &str, before: &str, persons: &[(String, String)], known: &HashMap<String, (String, String)>) -> Option<(String, String)> {
        if let Some(k) = known.get(name) {
            return Some(k.clone());
        }
        let toks: Vec<&str> = name.split(' ').collect();
        let all_caps = name.chars().filter(|c| c.is_alphabetic()).all(char::is_uppercase);
        let lookup = if all_caps && name.len() > 4 { title_case(name) } else { name.to_string() };
        // A surname (or first name) of a person already in this report.
        if toks.len() == 1 {
            if let Some((_, canonical)) = persons.iter().rev().find(|(full, _)| full.split(' ').skip(1).any(|t| t == name || t.trim_start_matches("al-") == name)) {
                return Some(("PERSON".into(), canonical.clone()));
            }
        }
        if let Some(c) = self.names.get(&lookup) {
            if c.total() >= 1 {
                return c.best().map(|k| (k.to_string(), name.to_string()));
            }
        }
        let last = toks[toks.len() - 1];
        if ORG_SUFFIXES.contains(&last) && toks.len() > 1 {
            return Some(("ORG".into(), name.to_string()));
        }
        if TITLES.contains(&before.trim_end_matches('.')) || PERSON_CUES_BEFORE.contains(&before.to_lowercase().as_str()) && toks.len() >= 2 {
            return Some(("PERSON".into(), name.to_string()));
        }
        if all_caps && toks.len() == 1 && (2..=6).contains(&name.len()) {
            return Some(("ORG".into(), name.to_string()));
        }
        if toks.len() >= 2 {
            let mut votes = Counts::default();
            if let Some(c) = self.first_tokens.get(toks[0]) {
                add(&mut votes, *c);
            }
            if let Some(c) = self.last_tokens.get(last) {
                add(&mut votes, *c);
            }
            if let Some(k) = votes.best() {
                return Some((k.to_string(), name.to_string()));
            }
            if toks.len() <= 3 && toks.iter().all(|t| t.chars().count() > 1 && !t.chars().all(char::is_uppercase)) {
                // Unknown capitalised pairs in news prose are mostly people.
                return Some(("PERSON".into(), name.to_string()));
            }
        }
        None
    }
}

fn add(into: &mut Counts, c: Counts) {
    into.per += c.per;
    into.org += c.org;
    into.loc += c.loc;
    into.misc += c.misc;
}

fn starts_upper(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c.flat_map(|x| x.to_lowercase())).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn ends_sentence(gap: &str, prev_word: &str) -> bool {
    gap.contains(['\n', '“', '"', ':', '—', '(', '[']) || prev_word.ends_with(['.', '!', '?']) || gap.contains(['.', '!', '?'])
}

fn ends_sentence_word(w: &str) -> bool {
    let Some(stem) = w.strip_suffix('.') else { return false };
    let letters = stem.chars().filter(|c| c.is_alphabetic()).count();
    letters > 1 && !stem.contains('.') && !TITLES.contains(&stem)
}

fn is_boundary(text: &str, s: usize, e: usize) -> bool {
    let before = text[..s].chars().next_back();
    let after = text[e..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

#[async_trait]
impl Stage for EntityTagger {
    fn name(&self) -> &str {
        "entities"
    }

    async fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        doc.entities = self.tag(&doc.text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagger() -> EntityTagger {
        EntityTagger::new(EntitiesConfig::default()).unwrap()
    }

    fn canon(text: &str) -> Vec<(String, String, String)> {
        tagger().tag(text).into_iter().map(|m| (m.text, m.kind, m.canonical)).collect()
    }

    #[test]
    fn variants_join_through_the_gazetteer() {
        let got = canon("Yehya al-Sinwar met Yahya Sinwar's aides. Hizballah and Hezbollah agreed, as did the IRGC.");
        let c: Vec<&str> = got.iter().map(|g| g.2.as_str()).collect();
        assert!(c.iter().filter(|x| **x == "Yahya Sinwar").count() == 2, "{got:?}");
        assert!(c.iter().filter(|x| **x == "Hezbollah").count() == 2, "{got:?}");
        assert!(c.contains(&"Islamic Revolutionary Guard Corps"), "{got:?}");
    }

    #[test]
    fn surname_resolves_to_full_name_of_the_same_report() {
        let got = canon("Saeed Izadi wrote to the council. Later, Izadi said no.");
        assert!(got.contains(&("Izadi".into(), "PERSON".into(), "Saeed Izadi".into())), "{got:?}");
    }

    #[test]
    fn titles_are_not_part_of_names() {
        let got = canon("The meeting was chaired by President Hassan Rouhani in Tehran.");
        assert!(got.iter().any(|g| g.0 == "Hassan Rouhani" && g.1 == "PERSON"), "{got:?}");
        assert!(got.iter().any(|g| g.0 == "Tehran" && g.1 == "LOCATION"), "{got:?}");
    }

    #[test]
    fn names_stop_at_a_full_stop() {
        let got = canon("The envoy went to Damascus. Haniyeh stayed in Doha with J. Smith.");
        assert!(got.iter().all(|g| !g.0.contains("Damascus. ")), "{got:?}");
        assert!(got.iter().any(|g| g.0 == "Damascus"), "{got:?}");
    }

    #[test]
    fn deterministic() {
        let text = "Hamas leader Ismail Haniyeh met officials of the Quds Force in Beirut on Monday.";
        assert_eq!(tagger().tag(text), tagger().tag(text));
    }
}
