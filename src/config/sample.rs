//! The sample rules file and docs/configuration.md against the parser: every key the parser
//! accepts appears in both, and the sample names no key the parser would refuse.
//!
//! The accepted keys are read off the parser's own serde types, not from a list kept by hand:
//! deserializing a `RawRules` from a probe makes each struct name its fields (the names serde
//! matches and `deny_unknown_fields` enforces), and the probe follows every field into its type.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use serde::de::value::{BorrowedStrDeserializer, Error};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::raw::RawRules;

type Keys = Rc<RefCell<BTreeSet<String>>>;

/// Every key path the parser accepts: tables (`zendesk`, `route.when`) and keys
/// (`zendesk.url`, `route.when.tags_any`); an array of tables (`[[route]]`) by its name.
fn accepted_keys() -> BTreeSet<String> {
    let keys = Keys::default();
    RawRules::deserialize(Probe { path: String::new(), keys: keys.clone() }).expect("the probe reaches every field");
    let out = keys.borrow().clone();
    out
}

/// A deserializer that holds no data: it answers every struct with all its fields, every
/// option with a value, every list with one item, so that each field's type is visited.
struct Probe {
    path: String,
    keys: Keys,
}

/// `toml::Spanned<T>` reads itself as a struct of this name; it is no table of the file.
const SPANNED: &str = "$__serde_spanned_private_Spanned";

impl<'de> Deserializer<'de> for Probe {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(de::Error::custom(format!("`{}`: a type the probe does not know", self.path)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let transparent = name == SPANNED;
        visitor.visit_map(Fields { probe: self, fields, next: 0, transparent })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(One(Some(self)))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bool(false)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i64(1)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str("")
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 f64 char bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct map enum identifier ignored_any
    }
}

/// A struct's fields, each once, in the order the type declares them.
struct Fields {
    probe: Probe,
    fields: &'static [&'static str],
    next: usize,
    transparent: bool,
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some(field) = self.fields.get(self.next) else { return Ok(None) };
        seed.deserialize(BorrowedStrDeserializer::new(field)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let field = self.fields[self.next];
        self.next += 1;
        let path = if self.transparent {
            self.probe.path.clone()
        } else if self.probe.path.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.probe.path)
        };
        if !self.transparent {
            self.probe.keys.borrow_mut().insert(path.clone());
        }
        seed.deserialize(Probe { path, keys: self.probe.keys.clone() })
    }
}

/// A list of one item.
struct One(Option<Probe>);

impl<'de> SeqAccess<'de> for One {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.0.take().map(|probe| seed.deserialize(probe)).transpose()
    }
}

/// The key paths a rules file shows, written or commented out: each line (without a leading
/// `#`) that is a table header or a TOML `key = value` counts, under the table last named.
/// Prose comments are no TOML and are passed over.
fn keys_shown(text: &str) -> BTreeSet<String> {
    let mut shown = BTreeSet::new();
    let mut table = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        let line = line.strip_prefix('#').map(str::trim_start).unwrap_or(line);
        if let Some(name) = header(line) {
            table = name.to_string();
            shown.insert(table.clone());
        } else if let Ok(pairs) = toml::from_str::<toml::Table>(line) {
            flatten(&table, &pairs, &mut shown);
        }
    }
    shown
}

/// `zendesk` for `[zendesk]`, `route` for `[[route]]` (a trailing comment allowed).
fn header(line: &str) -> Option<&str> {
    let line = line.split(" #").next()?.trim_end();
    let inner = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]"));
    let inner = inner.or_else(|| line.strip_prefix('[').and_then(|l| l.strip_suffix(']')))?;
    let ok = !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    ok.then_some(inner)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if let toml::Value::Table(inner) = value {
            flatten(&path, inner, out);
        }
        out.insert(path);
    }
}

const SAMPLE: &str = include_str!("../../sync-rules.toml");
const REFERENCE: &str = include_str!("../../docs/configuration.md");

#[test]
fn the_probe_finds_the_keys_of_every_table() {
    let keys = accepted_keys();
    for key in ["zendesk.url", "github.app_id", "route.when.priority_in", "linking.field_id", "webhooks.listen"] {
        assert!(keys.contains(key), "{key} not found in {keys:?}");
    }
    assert!(keys.len() > 60, "{keys:?}");
}

#[test]
fn the_sample_rules_file_shows_every_key_the_parser_accepts() {
    let shown = keys_shown(SAMPLE);
    let missing: Vec<_> = accepted_keys().difference(&shown).cloned().collect();
    assert!(missing.is_empty(), "sync-rules.toml does not show these keys the parser accepts: {missing:?}");
}

#[test]
fn the_sample_rules_file_shows_no_key_the_parser_refuses() {
    let unknown: Vec<_> = keys_shown(SAMPLE).difference(&accepted_keys()).cloned().collect();
    assert!(unknown.is_empty(), "sync-rules.toml shows keys the parser refuses: {unknown:?}");
}

#[test]
fn the_sample_rules_file_parses_as_it_is() {
    let rules = super::parse(std::path::Path::new("/etc/ticket-sync/sync-rules.toml"), SAMPLE).expect("valid");
    assert_eq!(rules.state_path, std::path::Path::new("/var/lib/ticket-sync/ticket-sync.db"));
}

/// docs/configuration.md names every key by its full path (`zendesk.url`), so an operator
/// finds each one there too.
#[test]
fn the_configuration_reference_names_every_key() {
    let keys = accepted_keys();
    let tables: BTreeSet<String> = keys.iter().filter_map(|k| k.rsplit_once('.').map(|(t, _)| t.to_string())).collect();
    let missing: Vec<_> =
        keys.iter().filter(|k| !tables.contains(*k) && !REFERENCE.contains(&format!("`{k}`"))).cloned().collect();
    assert!(missing.is_empty(), "docs/configuration.md does not name these keys: {missing:?}");
}
