//! The install guide's options table and the CLI say the same: every flag of `run` is
//! documented with its environment variable and default, and no other. Every path the docs and
//! comments name exists.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use clap::CommandFactory;
use regex::Regex;

/// `--flag` -> (env, default), from the table under "## Options" of docs/install.md.
fn documented() -> BTreeMap<String, (String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/install.md")).unwrap();
    let section = text.split("## Options").nth(1).expect("an Options section");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let flag = cells[1].trim_matches('`');
            let flag = flag.split(' ').next().unwrap().to_string();
            (
                flag,
                (
                    cells[2].trim_matches('`').to_string(),
                    cells[3].trim_matches('`').to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn every_run_flag_is_documented_with_its_variable_and_default() {
    let cli = omkc::cli::Cli::command();
    let run = cli.find_subcommand("run").expect("run");
    let mut actual = BTreeMap::new();
    for arg in run.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version"].contains(&long) {
            continue;
        }
        let env = arg
            .get_env()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let default = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(",");
        actual.insert(format!("--{long}"), (env, default));
    }
    let documented = documented();
    assert_eq!(
        documented.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "the flags of `run` and the documented ones"
    );
    for (flag, (env, default)) in &actual {
        let (doc_env, doc_default) = &documented[flag];
        assert_eq!(doc_env, env, "{flag}: environment variable");
        if !default.is_empty() {
            assert_eq!(doc_default, default, "{flag}: default");
        }
    }
}

/// The repository's own files, but `target/` and hidden folders (`.ci` and `.github` are read).
fn repository_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && (!name.starts_with('.') || [".ci", ".github"].contains(&&*name))
            {
                repository_files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// A heading's anchor as GitHub makes it: lower case, spaces to `-`, other punctuation dropped.
fn anchor(heading: &str) -> String {
    let heading = heading.trim_start_matches('#').trim().to_lowercase();
    (heading.chars())
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every file a document links to, every heading a link names, and every repository path a
/// document or a comment names (`src/…`, `tests/…`) exists: a moved file or a renamed section
/// leaves no stale pointer behind.
#[test]
fn every_path_and_link_in_the_docs_and_comments_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    repository_files(root, &mut files);
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let named = Regex::new(
        r"(?:^|[^A-Za-z0-9_./-])((?:src|tests|tools|deploy|docs|examples|crds|\.ci|\.github)/[A-Za-z0-9_./-]*[A-Za-z0-9_/])",
    )
    .unwrap();
    let exists = |from: &Path, path: &str| {
        root.join(path).exists() || from.parent().unwrap().join(path).exists()
    };
    let mut stale = Vec::new();
    for file in &files {
        let name = file.to_string_lossy();
        let markdown = name.ends_with(".md");
        let commented = [
            ".rs",
            ".sh",
            ".py",
            ".yaml",
            ".yml",
            ".toml",
            "/run",
            "Dockerfile",
        ]
        .iter()
        .any(|e| name.ends_with(e));
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let at = file.strip_prefix(root).unwrap().display();
        for (i, line) in text.lines().enumerate() {
            let comment = ["//", "#"].iter().any(|c| line.trim_start().starts_with(c));
            if !(markdown || commented && comment) {
                continue;
            }
            for path in named.captures_iter(line).map(|c| c[1].to_string()) {
                if !exists(file, &path) {
                    stale.push(format!("{at}:{}: {path}", i + 1));
                }
            }
            for target in link.captures_iter(line).map(|c| c[1].to_string()) {
                if !markdown || target.contains(':') {
                    continue;
                }
                let (path, section) = target.split_once('#').unwrap_or((&target, ""));
                let linked = if path.is_empty() {
                    file.clone()
                } else {
                    file.parent().unwrap().join(path)
                };
                let headings = || std::fs::read_to_string(&linked).unwrap_or_default();
                if !linked.exists() {
                    stale.push(format!("{at}:{}: {target}", i + 1));
                } else if !section.is_empty()
                    && (path.ends_with(".md") || path.is_empty())
                    && !headings()
                        .lines()
                        .any(|l| l.starts_with('#') && anchor(l) == section)
                {
                    stale.push(format!("{at}:{}: {target} (no such heading)", i + 1));
                }
            }
        }
    }
    assert!(files.len() > 100, "the repository's files: {}", files.len());
    assert_eq!(stale, Vec::<String>::new(), "paths and links to nothing");
}
