//! The layers do not loop: the chat handlers (`src/bot/`) and the side task
//! (`src/worker/`) never use each other; both may use the vocabulary they
//! share (`src/chat/`), which uses neither. Checked on the source text: a
//! path through `crate::` or `super::` that reaches a forbidden module, in
//! code (comments are ignored), fails the test with its file and line.

use std::path::{Path, PathBuf};

/// Which top-level modules the files under each folder of `src/` must not name.
const RULES: &[(&str, &[&str])] = &[
    ("bot", &["worker"]),
    ("worker", &["bot"]),
    ("chat", &["bot", "worker"]),
];

#[test]
fn bot_worker_and_chat_do_not_use_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (folder, forbidden) in RULES {
        let files = rust_files(&src.join(folder));
        assert!(!files.is_empty(), "no .rs file under src/{folder}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            // How many modules below the crate root the file is: `bot/mod.rs`
            // is `crate::bot` (1), `bot/admin.rs` is `crate::bot::admin` (2).
            let relative = file.strip_prefix(&src).unwrap();
            let depth = relative.components().count()
                - usize::from(relative.file_name().is_some_and(|n| n == "mod.rs"));
            let shown = file.strip_prefix(src.parent().unwrap()).unwrap();
            for (line, module) in module_paths(&text, depth) {
                if forbidden.contains(&module.as_str()) {
                    violations.push(format!(
                        "{}:{line}: src/{folder} uses `{module}`",
                        shown.display()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "bot/ and worker/ may use chat/ only, and chat/ neither of them:\n{}",
        violations.join("\n")
    );
}

/// The scanner itself finds what the rule forbids, and only in code.
#[test]
fn the_scanner_finds_paths_and_skips_comments() {
    let found = |text: &str, depth: usize| -> Vec<(usize, String)> { module_paths(text, depth) };
    let text = "use crate::worker::Wake;\n\
                // use crate::worker::Wake;\n\
                /// [`crate::worker::Wake`]\n\
                let url = \"https://crate::worker\"; /* crate::bot */\n\
                use crate::{chat::outbox, bot::TgBot};\n\
                use crate::{\n    db,\n    worker::{self, WorkerCtx},\n};\n\
                fn f() { crate::i18n::tr(x, \"k\"); super::super::worker::run(); }\n";
    assert_eq!(
        found(text, 2),
        vec![
            (1, "worker".to_owned()),
            (5, "chat".to_owned()),
            (5, "bot".to_owned()),
            (7, "db".to_owned()),
            (8, "worker".to_owned()),
            (10, "i18n".to_owned()),
            (10, "worker".to_owned()),
        ]
    );
    // In `src/bot/mod.rs` (depth 1) one `super` is the crate root; in
    // `src/bot/admin.rs` (depth 2) it is `bot`, and two are the crate root.
    assert_eq!(
        found("use super::worker::Wake;", 1),
        vec![(1, "worker".to_owned())]
    );
    assert_eq!(found("use super::state::State;", 2), vec![]);
    assert_eq!(
        found("use super::super::worker::Wake;", 2),
        vec![(1, "worker".to_owned())]
    );
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every top-level module of the crate that `text` names through `crate::`
/// (or enough `super::` to reach the crate root from a file `depth` folders
/// below `src/`), with its line, comments ignored. `use crate::{a, b::c}`
/// names `a` and `b`.
fn module_paths(text: &str, depth: usize) -> Vec<(usize, String)> {
    let code = strip_comments(text);
    let bytes = code.as_bytes();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !is_ident(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && is_ident(bytes[at]) {
            at += 1;
        }
        if start > 0 && (is_ident(bytes[start - 1]) || bytes[start - 1] == b':') {
            continue;
        }
        let word = &code[start..at];
        let mut rest = at;
        let root = match word {
            "crate" => true,
            "super" => {
                let mut supers = 1;
                while let Some(next) = after_colons(&code, rest) {
                    if code[next..].starts_with("super")
                        && !code[next + 5..].starts_with(|c: char| c == '_' || c.is_alphanumeric())
                    {
                        supers += 1;
                        rest = next + 5;
                    } else {
                        break;
                    }
                }
                supers >= depth
            }
            _ => false,
        };
        if !root {
            continue;
        }
        let Some(next) = after_colons(&code, rest) else {
            continue;
        };
        if bytes[next] == b'{' {
            for (offset, item) in group_items(&code[next..]) {
                found.push((line_of(next + offset), item));
            }
        } else if let Some(name) = ident_at(&code, next) {
            found.push((line_of(next), name));
        }
        at = next;
    }
    found
}

fn is_ident(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// The position after `::` (and any whitespace around it) at `at`, if any.
fn after_colons(code: &str, at: usize) -> Option<usize> {
    let skip = |at: usize| {
        at + code[at..]
            .bytes()
            .take_while(|b| b.is_ascii_whitespace())
            .count()
    };
    let at = skip(at);
    code[at..].starts_with("::").then(|| skip(at + 2))
}

fn ident_at(code: &str, at: usize) -> Option<String> {
    let len = code[at..].bytes().take_while(|&b| is_ident(b)).count();
    (len > 0).then(|| code[at..at + len].to_owned())
}

/// The first name of each top-level item of the `{…}` group at the start of
/// `group`, with its offset.
fn group_items(group: &str) -> Vec<(usize, String)> {
    let bytes = group.as_bytes();
    let mut items = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' => {
                depth += 1;
                expecting = depth == 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expecting = true,
            _ if depth == 1 && expecting && is_ident(b) => {
                expecting = false;
                if let Some(name) = ident_at(group, i) {
                    items.push((i, name));
                }
            }
            _ => {}
        }
    }
    items
}

/// `text` with every comment blanked out (newlines kept, so lines stay
/// where they were); string and character literals are left as they are.
fn strip_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        depth += 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        depth -= 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        out.push(if bytes[i] == b'\n' { b'\n' } else { b' ' });
                        i += 1;
                    }
                }
            }
            b'"' => {
                // A string literal: its text is not code, blanked too (no
                // raw strings in these folders, so a quote ends it unless
                // escaped).
                out.push(b'"');
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    let len = if bytes[i] == b'\\' { 2 } else { 1 };
                    for &b in &bytes[i..(i + len).min(bytes.len())] {
                        out.push(if b == b'\n' { b'\n' } else { b' ' });
                    }
                    i += len;
                }
                if i < bytes.len() {
                    out.push(b'"');
                    i += 1;
                }
            }
            b'\'' if bytes.get(i + 2) == Some(&b'\'') || bytes.get(i + 1) == Some(&b'\\') => {
                // A character literal ('"', '\'', '\n'): copied untouched.
                let from = if bytes[i + 1] == b'\\' { i + 3 } else { i + 2 };
                let end = bytes[from..]
                    .iter()
                    .position(|&b| b == b'\'')
                    .map_or(bytes.len(), |p| from + p + 1);
                out.extend_from_slice(&bytes[i..end]);
                i = end;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("comments are blanked byte for byte")
}
