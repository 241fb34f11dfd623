//! The shape of the code, kept by tests: files small enough to read in one sitting (in `src/`,
//! `tests/` and `tools/`), modules that never import each other back (the dependency graph
//! between top-level modules has no cycle), so the pure core stays below the IO around it, and
//! inside the reconcile, steps that import only forward.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

const MAX_LINES: usize = 400;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file belongs to (`src/reconcile/plan/mod.rs` → `reconcile`).
fn top_module(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Top-level modules a file refers to through `crate::` paths, outside comments.
fn references(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::b, c, d::{e}}`: the first segment of every top-level path.
            let mut depth = 0;
            let mut segment = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if !segment.is_empty() {
                            found.insert(std::mem::take(&mut segment));
                        }
                        at_start = true;
                    }
                    c if at_start && (c.is_alphanumeric() || c == '_') => segment.push(c),
                    _ if at_start && !segment.is_empty() => {
                        found.insert(std::mem::take(&mut segment));
                        at_start = false;
                    }
                    _ => {}
                }
            }
            if !segment.is_empty() {
                found.insert(segment);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found.retain(|m| modules.contains(m));
    found
}

type Graph = BTreeMap<String, BTreeSet<String>>;

/// A cycle in `graph`, as the path that closes it, if there is one (depth-first search).
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// The top level holds what the project is made of, and nothing a stray command left behind
/// (a shell redirection once committed a file named after a sed expression).
#[test]
fn the_top_level_holds_only_the_projects_parts() {
    let parts = "CHANGELOG.md Cargo.lock Cargo.toml Dockerfile README.md crds deploy docs examples \
        src target tests tools";
    let stray: Vec<String> = std::fs::read_dir(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && !parts.split_whitespace().any(|p| p == name))
        .collect();
    assert!(stray.is_empty(), "not a part of the project: {stray:?}");
}

#[test]
fn no_source_file_is_longer_than_one_sitting() {
    // The operator's code, its tests and its tools alike.
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    rust_files(&src().with_file_name("tests"), &mut files);
    rust_files(&src().with_file_name("tools"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|p| {
            let lines = std::fs::read_to_string(p).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files: {long:?}");
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|p| top_module(p))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph = Graph::new();
    for path in &files {
        let from = top_module(path);
        let text = std::fs::read_to_string(path).unwrap();
        let to = references(&text, &modules);
        graph
            .entry(from.clone())
            .or_default()
            .extend(to.into_iter().filter(|m| *m != from));
    }
    let cycle = find_cycle(&graph);
    assert!(cycle.is_none(), "import cycle: {cycle:?}\n{graph:#?}");
    // The Keycloak client knows nothing about desired state.
    assert!(
        !graph["keycloak"].contains("reconcile"),
        "{:?}",
        graph["keycloak"]
    );
}

#[test]
fn the_checks_see_references_and_cycles() {
    let modules: BTreeSet<String> = ["a", "b", "c"].map(String::from).into();
    assert_eq!(
        references(
            "use crate::{a::X, b, c::{d, e}}; // crate::z\nfn f() { crate::a::g() }",
            &modules
        ),
        modules
    );
    let edge = |a: &str, b: &str| (a.to_string(), BTreeSet::from([b.to_string()]));
    let acyclic = Graph::from([edge("a", "b"), edge("b", "c")]);
    assert_eq!(find_cycle(&acyclic), None);
    let cyclic = Graph::from([edge("a", "b"), edge("b", "c"), edge("c", "a")]);
    assert_eq!(find_cycle(&cyclic).unwrap(), ["a", "b", "c", "a"]);
}

/// Code without comments (line comments and doc comments).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_plan_does_no_io_and_reads_no_clock() {
    // What does IO or reads the time: none of it in the pure core of a reconcile.
    const IO: [&str; 12] = [
        ".await",
        "async fn",
        "SystemTime",
        "Instant::now",
        "Timestamp::now",
        "crate::context",
        "Context,",
        "Session",
        "kube::Api",
        "kube::Client",
        "reqwest",
        "tokio",
    ];
    let reconcile = src().join("reconcile");
    let mut files = Vec::new();
    for dir in ["plan", "desired"] {
        rust_files(&reconcile.join(dir), &mut files);
    }
    files.extend(["status.rs", "change.rs"].map(|f| reconcile.join(f)));
    let mut found = Vec::new();
    for path in files
        .iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "tests"))
    {
        let code = code_of(&std::fs::read_to_string(path).unwrap());
        for word in IO.iter().filter(|w| code.contains(*w)) {
            found.push(format!("{} uses {word}", path.display()));
        }
    }
    assert!(found.is_empty(), "{found:#?}");
    // The check sees them.
    assert!(code_of("let x = f().await; // fine").contains(".await"));
    assert!(!code_of("// Session").contains("Session"));
}

#[test]
fn inside_the_reconcile_the_steps_import_only_forward() {
    // Which file of `src/reconcile` may not name which step: the plan neither reads nor writes,
    // execute does not read (it makes what the plan says; nothing from Keycloak at all, and of
    // Kubernetes only what a write's own answer asks for), observe does not write.
    let reconcile = src().join("reconcile");
    let rules = serde_json::json!({
        "plan": ["observe::", "execute::", "super::observe", "super::execute"],
        "execute.rs": ["observe::", "observe,", "get_opt(", ".get(&", "list(", "get_client(",
                       "find_client(", "realm_scopes("],
        "observe.rs": ["execute::", ".patch(", ".create(", ".delete("]
    });
    let mut found = Vec::new();
    for (part, words) in rules.as_object().unwrap() {
        let mut files = Vec::new();
        let path = reconcile.join(part);
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            files.push(path);
        }
        for file in &files {
            let code = code_of(&std::fs::read_to_string(file).unwrap());
            let words = words
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap());
            for word in words.filter(|w| code.contains(w)) {
                found.push(format!("{} uses {word}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
