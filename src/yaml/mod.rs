//! Manifests read as `kubectl` and Helm read them. Both turn YAML into JSON with go-yaml v2
//! (through sigs.k8s.io/yaml), which resolves a plain scalar by YAML 1.1's rules: unquoted
//! `yes`, `no`, `on`, `off`, `y` and `n` are booleans, `010` is 8 and `0o17`, `0x1F`, `0b101` and
//! `1_000` are integers, where YAML 1.2 reads strings or 10. A key is turned into
//! text (`n:` is the key `false`, `1e6:` the key `1e+06`), a key given twice keeps its last
//! value, `<<` merges a mapping in, a quoted scalar is always text, and a core tag must agree
//! with its scalar (`!!int x` is refused; `scalar.rs`).
//! The integration tests `offline::yaml::plan_reads_…_as_kubectl_does…` hold this to `kubectl`,
//! on a corpus and on random YAML. The syntax is granit-parser's (serde-saphyr's, kube's own
//! YAML), which follows YAML 1.2 where libyaml follows 1.1, in corners: a lone `-` as an item of
//! a flow sequence and the escape `\'` are refused, not read; in a flow collection, `b :` before
//! `,` or `]` is the key `b` (libyaml: the text `b :`); in a block scalar, a tab where its
//! indentation is found is read (libyaml refuses it) and leading blank lines deeper than its text
//! are refused (libyaml reads them). The escape `\/` and an escaped UTF-16 surrogate, which YAML
//! 1.2 has, are refused here as libyaml refuses them.

use std::collections::HashMap;

mod scalar;
mod tags;

use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{Event, Options, Parser, ScalarStyle};

/// Every document of `text` (JSON is YAML too), as `kubectl` would send it; an empty document is
/// `null`.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut reader = Reader::default();
    // A byte-order mark inside a document is text, as libyaml (and so kubectl) reads it.
    let mut options = Options::default();
    options.bom_inside_document_as_content = true;
    for event in Parser::new_from_str_with_options(text, options) {
        let document = reader.docs.len() + 1;
        let (event, span) =
            event.map_err(|e| format!("document {document}: not YAML or JSON: {e}"))?;
        let source = (span.start.byte_offset().zip(span.end.byte_offset()))
            .and_then(|(start, end)| text.get(start..end));
        reader
            .read(event, source.unwrap_or_default())
            .map_err(|e| {
                let (line, column) = (span.start.line(), span.start.col() + 1);
                format!("document {document}: line {line} column {column}: {e}")
            })?;
    }
    Ok(reader.docs)
}

/// A node read whole. What it is as a value and as a map key (which sigs.k8s.io/yaml turns into
/// text) is worked out where it is used, and refused only there (`.inf` is a key, not a value).
#[derive(Clone)]
enum Node {
    /// A scalar as resolved, and its text (for what is said of it).
    Scalar(scalar::Scalar, String),
    Collection(Value),
}

impl Node {
    fn value(self) -> Result<Value, String> {
        match self {
            Node::Scalar(scalar, text) => scalar.value(&text),
            Node::Collection(value) => Ok(value),
        }
    }

    fn key(self) -> Result<String, String> {
        match self {
            Node::Scalar(scalar, text) => scalar.key(&text),
            Node::Collection(value) => Err(format!("a map key must be a scalar, not {value}")),
        }
    }
}

/// A mapping or sequence being read: its anchor, and for a mapping the key waiting for a value.
enum Open {
    Sequence(usize, Vec<Value>),
    Mapping(usize, Map<String, Value>, Option<Key>),
}

enum Key {
    Text(String),
    /// `<<`: the value (a mapping, or a sequence of them) is merged in.
    Merge,
}

#[derive(Default)]
struct Reader {
    docs: Vec<Value>,
    open: Vec<Open>,
    anchors: HashMap<usize, Node>,
}

impl Reader {
    /// One event of the parser, and its source text.
    fn read(&mut self, event: Event, source: &str) -> Result<(), String> {
        let (anchor, node) = match event {
            Event::SequenceStart(_, anchor, _) => {
                self.open.push(Open::Sequence(anchor, Vec::new()));
                return Ok(());
            }
            Event::MappingStart(_, anchor, _) => {
                self.open.push(Open::Mapping(anchor, Map::new(), None));
                return Ok(());
            }
            Event::SequenceEnd | Event::MappingEnd => match self.open.pop() {
                Some(Open::Sequence(anchor, items)) => {
                    (anchor, Node::Collection(Value::Array(items)))
                }
                Some(Open::Mapping(anchor, map, _)) => {
                    (anchor, Node::Collection(Value::Object(map)))
                }
                None => return Ok(()),
            },
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(node) => (0, node.clone()),
                None => return Err(format!("unknown alias {anchor}")),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let merge = style == ScalarStyle::Plain && text == "<<" && tag.is_none();
                if merge && let Some(Open::Mapping(_, _, key @ None)) = self.open.last_mut() {
                    *key = Some(Key::Merge);
                    return Ok(());
                }
                if style == ScalarStyle::DoubleQuoted {
                    scalar::yaml_1_1_escapes(source)?;
                }
                let scalar = scalar::resolve(&text, style, tag.as_deref())?;
                (anchor, Node::Scalar(scalar, text.into_owned()))
            }
            _ => return Ok(()),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.place(node)
    }

    /// A whole node read: an item, a key, a key's value, or a document.
    fn place(&mut self, node: Node) -> Result<(), String> {
        match self.open.last_mut() {
            None => self.docs.push(node.value()?),
            Some(Open::Sequence(_, items)) => items.push(node.value()?),
            Some(Open::Mapping(_, map, key)) => match key.take() {
                None => *key = Some(Key::Text(node.key()?)),
                Some(Key::Text(k)) => {
                    map.insert(k, node.value()?);
                }
                // go-yaml v2 merges in place, the earlier of several mappings winning.
                Some(Key::Merge) => {
                    let merged = match node.value()? {
                        Value::Array(items) => items.into_iter().rev().collect(),
                        one => vec![one],
                    };
                    for m in merged {
                        let Value::Object(m) = m else {
                            return Err("<< merges only mappings".into());
                        };
                        map.extend(m);
                    }
                }
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
