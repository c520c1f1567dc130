//! The docs stay true to the tree: no sentence written twice in one `*.md`
//! file (a paragraph forked by two merges), and every folder of `src/` in
//! ARCHITECTURE.md's code map, one bullet per top-level folder, in folder
//! order.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `*.md` of the project (not of dependencies or build output).
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | "node_modules" | ".git" | "pinglass-data"
            ) {
                markdown_files(&path, out);
            }
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

/// The prose of a Markdown text: fenced and indented code blocks, table
/// rows and headings left out.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if fenced || line.starts_with("    ") && !trimmed.starts_with('-') && out.ends_with("\n\n")
        {
            continue;
        }
        if trimmed.starts_with('|') || trimmed.starts_with('#') {
            out.push('\n');
            continue;
        }
        out.push_str(trimmed);
        out.push('\n');
    }
    out
}

/// Sentences of at least six words, normalised (whitespace, case, list
/// markers), so the same sentence wrapped differently is still the same.
fn sentences(prose: &str) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in prose.split("\n\n") {
        let flat = paragraph
            .lines()
            .map(|l| l.trim().trim_start_matches("- ").trim_start_matches("* "))
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = flat.as_str();
        while !rest.is_empty() {
            let end = rest
                .char_indices()
                .find(|&(i, c)| {
                    matches!(c, '.' | '!' | '?' | ';') && rest[i + c.len_utf8()..].starts_with(' ')
                })
                .map_or(rest.len(), |(i, c)| i + c.len_utf8());
            let sentence = rest[..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            if sentence.split(' ').count() >= 6 {
                out.push(sentence);
            }
            rest = rest[end..].trim_start();
        }
    }
    out
}

fn repeated_sentences(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for sentence in sentences(&prose(text)) {
        *seen.entry(sentence).or_default() += 1;
    }
    let mut repeated: Vec<String> = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(s, n)| format!("{n}× «{s}»"))
        .collect();
    repeated.sort();
    repeated
}

#[test]
fn the_repetition_check_catches_a_forked_paragraph() {
    let forked = "Packages live in `[[tiers]]` and the admins in `[bot] admin_ids`.\n\
                  The preview is `[preview]`.\n\n- Packages live in\n  `[[tiers]]` and the   admins in `[bot] admin_ids`.\n";
    assert_eq!(repeated_sentences(forked).len(), 1, "{forked}");
    let code = "```\ncargo test --locked and then some more words\n```\n\n```\ncargo test --locked and then some more words\n```\n";
    assert!(
        repeated_sentences(code).is_empty(),
        "code blocks may repeat"
    );
}

#[test]
fn no_markdown_file_repeats_a_sentence() {
    let mut files = Vec::new();
    markdown_files(root(), &mut files);
    assert!(files.iter().any(|f| f.ends_with("ARCHITECTURE.md")));
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for repeated in repeated_sentences(&text) {
            failures.push(format!(
                "{}: {repeated}",
                file.strip_prefix(root()).unwrap().display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "sentences written twice:\n{}",
        failures.join("\n")
    );
}

/// The `## Code map` section of ARCHITECTURE.md.
fn code_map() -> String {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let start = text.find("\n## Code map").expect("a `## Code map` section");
    let body = &text[start + 1..];
    let end = body[3..].find("\n## ").map_or(body.len(), |i| i + 3);
    body[..end].to_owned()
}

fn folders_under(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = format!("{prefix}{}/", path.file_name().unwrap().to_string_lossy());
            folders_under(&path, &name, out);
            out.insert(name);
        }
    }
}

#[test]
fn every_folder_of_src_is_in_the_code_map_once_and_in_order() {
    let map = code_map();
    let mut folders = BTreeSet::new();
    folders_under(&root().join("src"), "", &mut folders);
    assert!(folders.contains("db/"), "{folders:?}");

    // Each top-level folder opens exactly one bullet: "- `bot/` — …".
    let bullets: Vec<String> = map
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split_once('`').map(|(path, _)| path.to_owned()))
        .filter(|path| path.ends_with('/'))
        .collect();
    let top: Vec<&String> = folders
        .iter()
        .filter(|f| f.matches('/').count() == 1)
        .collect();
    for folder in &top {
        let n = bullets.iter().filter(|b| b == folder).count();
        assert_eq!(
            n, 1,
            "`{folder}` should open exactly one code-map bullet, it opens {n}"
        );
    }
    let order: Vec<&String> = bullets.iter().filter(|b| top.contains(b)).collect();
    assert_eq!(order, top, "code-map bullets out of folder order");
    for bullet in &bullets {
        assert!(
            folders.contains(bullet),
            "the code map names `{bullet}`, which is not a folder of src/"
        );
    }

    // Every nested folder is named somewhere in the map (by its full path
    // or under its parent's bullet by its own name).
    for folder in folders.iter().filter(|f| f.matches('/').count() > 1) {
        let own = folder
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
            + "/";
        assert!(
            map.contains(&format!("`{folder}")) || map.contains(&format!("`{own}")),
            "the code map does not mention `{folder}`"
        );
    }
}
