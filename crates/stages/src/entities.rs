//! `entities`: the [`EntityTagger`]. Finds people, organisations and places
//! and gives each mention a canonical name.
//!
//! Two sources, in order:
//! 1. the gazetteer (`config/gazetteer.toml`): canonical names with aliases,
//!    matched with aho-corasick; the user's word is final;
//! 2. a statistical tagger (`ner_model`: averaged perceptron over word shape,
//!    affixes, a word window, previous tags and document memory), trained on
//!    annotated news and shipped as `config/models/ner.bin`.
//!
//! A surname alone resolves to the full name seen earlier in the same report,
//! never to a person of another report.

use crate::ner_model::{label_spans, tokenize, Clusters, Model};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use gleaner_pipeline::document::EntityMention;
use gleaner_pipeline::{async_trait, parse_options, BuiltStage, Document, Stage, StageError};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

const BUILTIN_GAZETTEER: &str = include_str!("../../../config/gazetteer.toml");
const BUILTIN_MODEL: &[u8] = include_bytes!("../../../config/models/ner.bin");

/// Options of the `entities` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct EntitiesConfig {
    /// Gazetteer file; unset = built-in `config/gazetteer.toml`.
    pub gazetteer: Option<PathBuf>,
    /// Extra gazetteer files, added to the main one (your own watch list).
    pub extra_gazetteers: Vec<PathBuf>,
    /// Tagger model file (built by `train-ner`); unset = built-in `config/models/ner.bin`.
    pub model: Option<PathBuf>,
    /// Word clusters the model was trained with (`bits<TAB>word` lines);
    /// unset = built-in `config/models/brown-clusters.txt`.
    pub clusters: Option<PathBuf>,
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

/// The entity stage.
pub struct EntityTagger {
    matcher: AhoCorasick,
    /// Per aho-corasick pattern: index into `entries`.
    pattern_entry: Vec<usize>,
    entries: Vec<GazetteerEntry>,
    model: Model,
}

/// Titles and ranks that may stick to the front of a name.
const TITLES: &[&str] = &[
    "Cardinal",
    "Archbishop",
    "Bishop",
    "Patriarch",
    "Pastor",
    "Father",
    "Mullah",
    "Emperor",
    "Empress",
    "Tsar",
    "Czar",
    "Marshal",
    "Brigadier",
    "Lieutenant",
    "Sergeant",
    "Corporal",
    "Dame",
    "Madame",
    "Mme",
    "Miss",
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "Prof",
    "President",
    "Gen",
    "General",
    "Lt",
    "Col",
    "Colonel",
    "Maj",
    "Major",
    "Capt",
    "Captain",
    "Sgt",
    "Adm",
    "Admiral",
    "Sheikh",
    "Sheik",
    "Ayatollah",
    "Imam",
    "Rabbi",
    "Rev",
    "Pope",
    "King",
    "Queen",
    "Prince",
    "Princess",
    "Sir",
    "Lord",
    "Lady",
    "Senator",
    "Sen",
    "Rep",
    "Governor",
    "Gov",
    "Mayor",
    "Judge",
    "Justice",
    "Chancellor",
    "Secretary",
    "Ambassador",
    "Chairman",
    "Commander",
    "Chief",
    "Emir",
    "Sultan",
    "Speaker",
    "Minister",
    "Premier",
    "Haj",
    "Hajj",
];

impl EntityTagger {
    /// Loads the gazetteer and lexicons.
    pub fn new(config: EntitiesConfig) -> Result<EntityTagger, String> {
        let mut entries = Vec::new();
        let main = crate::file_or_builtin(config.gazetteer.as_deref(), BUILTIN_GAZETTEER, "gazetteer")?;
        let mut texts = vec![("gazetteer".to_string(), main)];
        for p in &config.extra_gazetteers {
            texts.push((p.display().to_string(), crate::file_or_builtin(Some(p), "", "gazetteer")?));
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
        let clusters = match &config.clusters {
            Some(p) => Arc::new(Clusters::from_file(p)?),
            None => Clusters::builtin(),
        };
        let model = match &config.model {
            Some(p) => {
                let f = std::fs::File::open(p).map_err(|e| format!("cannot read model {}: {e}", p.display()))?;
                Model::read(std::io::BufReader::new(f), clusters)
                    .map_err(|e| format!("model {}: {e}; rebuild it with train-ner", p.display()))?
            }
            None => Model::read(BUILTIN_MODEL, clusters).map_err(|e| format!("built-in model: {e}"))?,
        };
        Ok(EntityTagger { matcher, pattern_entry, entries, model })
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
            mentions.push(EntityMention {
                text: text[s..e].to_string(),
                kind: entry.kind.clone(),
                canonical: entry.canonical.clone(),
                field: "text".into(),
                start: s,
                end: e,
            });
            taken.push((s, e));
        }
        let mut persons: Vec<(String, String)> =
            mentions.iter().filter(|m| m.kind == "PERSON").map(|m| (m.text.clone(), m.canonical.clone())).collect();
        let sentences = tokenize(text);
        let words: Vec<Vec<&str>> = sentences.iter().map(|s| s.iter().map(|t| t.text.as_str()).collect()).collect();
        let tags = self.model.tag_document(&words);
        for (sent, labels) in sentences.iter().zip(tags) {
            for (ty, first, last) in label_spans(&labels) {
                let kind = match ty {
                    1 => "PERSON",
                    2 => "ORG",
                    3 => "LOCATION",
                    _ => continue,
                };
                // Titles the model let in ("Gen. Qassem Soleimani") are not
                // the name, nor are quote marks at either end.
                let mut k = first;
                while k + 1 < last && (TITLES.contains(&sent[k].text.trim_end_matches('.')) || !is_wordlike(&sent[k].text)) {
                    k += 1;
                }
                let mut l = last;
                while l > k + 1 && !is_wordlike(&sent[l - 1].text) {
                    l -= 1;
                }
                let (s, mut e) = (sent[k].start, sent[l - 1].end);
                for suffix in ["'s", "’s"] {
                    if text[s..e].ends_with(suffix) && e - suffix.len() > s {
                        e -= suffix.len();
                    }
                }
                let name = &text[s..e];
                // Names start with a capital (or a digit: "7-Eleven"); a
                // lone quote mark or "his" is a tagging slip.
                if !name.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit()) || !is_wordlike(name) {
                    continue;
                }
                // Overlap with a gazetteer match: the longer name wins ("Gaza
                // City" over the alias "Gaza"); on a tie, the gazetteer.
                if let Some(pos) = mentions.iter().position(|m| s < m.end && e > m.start) {
                    if e - s > mentions[pos].end - mentions[pos].start && mentions[pos].start >= s && mentions[pos].end <= e {
                        let old = mentions.remove(pos);
                        taken.retain(|&(ts, te)| (ts, te) != (old.start, old.end));
                    } else {
                        continue;
                    }
                }
                // A surname alone is the person of this report who bears it,
                // whatever type the model guessed for the bare word.
                let (kind, canonical) = match resolve_surname(name, &persons) {
                    Some(c) => ("PERSON", c),
                    None if kind == "PERSON" => ("PERSON", name.to_string()),
                    None => (kind, name.to_string()),
                };
                if kind == "PERSON" && name.contains(' ') {
                    persons.push((name.to_string(), canonical.clone()));
                }
                taken.push((s, e));
                mentions.push(EntityMention {
                    text: name.to_string(),
                    kind: kind.into(),
                    canonical,
                    field: "text".into(),
                    start: s,
                    end: e,
                });
            }
        }
        mentions.sort_by_key(|m| m.start);
        mentions
    }
}

/// Has a letter or digit: not a quote mark or dash.
fn is_wordlike(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

/// The canonical name of the last full name in this report whose last word
/// is `name` (with or without the Arabic article): "Izadi" after "Saeed
/// Izadi", "al-Arouri" or "Arouri" after "Saleh al-Arouri".
fn resolve_surname(name: &str, persons: &[(String, String)]) -> Option<String> {
    if name.contains(' ') || name.chars().count() < 3 {
        return None;
    }
    let bare = |t: &str| -> String {
        let t = t.trim_end_matches("'s").trim_end_matches("’s");
        for prefix in ["al-", "Al-", "el-", "El-", "as-", "ash-", "ad-", "an-", "ar-"] {
            if let Some(rest) = t.strip_prefix(prefix) {
                return rest.to_string();
            }
        }
        t.to_string()
    };
    let wanted = bare(name);
    persons
        .iter()
        .rev()
        .find(|(full, _)| full.split(' ').count() > 1 && full.split(' ').next_back().is_some_and(|last| bare(last) == wanted))
        .map(|(_, canonical)| canonical.clone())
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
        // The headline is tagged with the text, so its names count as the
        // report's and resolve like the body's; its spans point into `title`.
        match &doc.title {
            Some(title) => {
                let joined = format!("{title}\n\n{}", doc.text);
                let offset = title.len() + 2;
                doc.entities = self
                    .tag(&joined)
                    .into_iter()
                    .map(|mut m| {
                        if m.start >= offset {
                            m.start -= offset;
                            m.end -= offset;
                        } else {
                            m.field = "title".into();
                        }
                        m
                    })
                    .filter(|m| m.field == "text" || m.end <= title.len())
                    .collect();
            }
            None => doc.entities = self.tag(&doc.text),
        }
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
