//! The generated `src/chat/paced_forward.rs` and its generator.
//!
//! That file holds `paced_forward!`, one macro arm per method of
//! teloxide-core's `Requester` trait (the Bot API's method list), in the shape
//! of teloxide-core's own `requester_forward!`; `chat/paced.rs` implements
//! `Requester` for its `Paced` client with it. Its header names the
//! teloxide-core version it was made from. After upgrading teloxide-core,
//! regenerate it from the new version's trait and review the diff:
//!
//!     PINGLASS_REGENERATE=1 cargo test --locked --test tests regenerating_paced_forward
//!
//! The generator reads `src/requests/requester.rs` of the teloxide-core that
//! Cargo.lock names, from cargo's registry sources (`$CARGO_HOME`, else
//! `~/.cargo`), where cargo put it to build this crate.

use std::path::{Path, PathBuf};

const GENERATED: &str = "src/chat/paced_forward.rs";
const REGENERATE: &str = "PINGLASS_REGENERATE";
/// The header line that carries the version, as `{VERSION_LINE}0.13.0`.
const VERSION_LINE: &str = "// Generated from the `Requester` trait of teloxide-core ";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The version of `package` in Cargo.lock (exactly one may be locked).
fn locked_version(lock: &str, package: &str) -> String {
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    let mut versions = Vec::new();
    while let Some(line) = lines.next() {
        if line.trim() == name {
            let version = lines.next().unwrap_or_default().trim();
            let version = version
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("Cargo.lock: no version after {name}"));
            versions.push(version.to_owned());
        }
    }
    assert_eq!(
        versions.len(),
        1,
        "Cargo.lock should lock one {package}, it locks {versions:?}"
    );
    versions.remove(0)
}

/// The teloxide-core version named in the generated file's header.
fn header_version(generated: &str) -> Option<&str> {
    generated
        .lines()
        .take_while(|line| line.starts_with("//"))
        .find_map(|line| line.strip_prefix(VERSION_LINE))
        .map(|rest| rest.split_whitespace().next().unwrap_or_default())
}

#[test]
fn paced_forward_names_the_teloxide_core_of_cargo_lock() {
    let lock = std::fs::read_to_string(crate_dir().join("Cargo.lock")).unwrap();
    let locked = locked_version(&lock, "teloxide-core");
    let generated = std::fs::read_to_string(crate_dir().join(GENERATED)).unwrap();
    let header = header_version(&generated)
        .unwrap_or_else(|| panic!("{GENERATED} has no header line {VERSION_LINE:?}<version>"));
    assert_eq!(
        header, locked,
        "{GENERATED} was generated from teloxide-core {header}, but Cargo.lock has {locked}: \
         regenerate it with `{REGENERATE}=1 cargo test --locked --test tests regenerating_paced_forward` and \
         review the diff"
    );
}

#[test]
fn regenerating_paced_forward_changes_nothing() {
    let lock = std::fs::read_to_string(crate_dir().join("Cargo.lock")).unwrap();
    let version = locked_version(&lock, "teloxide-core");
    let source = requester_source(&version);
    let trait_text = std::fs::read_to_string(&source).unwrap();
    let made = generate(&trait_text, &version);
    let path = crate_dir().join(GENERATED);
    if std::env::var_os(REGENERATE).is_some() {
        std::fs::write(&path, &made).unwrap();
        println!("wrote {} from {}", path.display(), source.display());
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap();
    if current != made {
        let first = current
            .lines()
            .zip(made.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(current.lines().count().min(made.lines().count()));
        panic!(
            "{GENERATED} is not what the generator makes of {} (first difference at line {}: \
             {:?} in the file, {:?} generated); regenerate it with \
             `{REGENERATE}=1 cargo test --locked --test tests regenerating_paced_forward`",
            source.display(),
            first + 1,
            current.lines().nth(first).unwrap_or("(end)"),
            made.lines().nth(first).unwrap_or("(end)"),
        );
    }
}

#[test]
fn the_generator_reads_a_method_with_generics_and_a_where_clause() {
    let trait_text = "\
pub trait Requester {
    type Err: std::error::Error + Send;

    type GetMe: Request<Payload = GetMe, Err = Self::Err>;

    /// For Telegram documentation see [`GetMe`].
    fn get_me(&self) -> Self::GetMe;

    type SendMessage: Request<Payload = SendMessage, Err = Self::Err>;

    /// For Telegram documentation see [`SendMessage`].
    fn send_message<C, T>(&self, chat_id: C, text: T) -> Self::SendMessage
    where
        C: Into<Recipient>,
        T: Into<String>;
}
";
    let made = generate(trait_text, "9.9.9");
    assert_eq!(header_version(&made), Some("9.9.9"));
    let arms: Vec<&str> = made.split("    (@method ").skip(1).collect();
    assert_eq!(arms.len(), 2, "{made}");
    assert_eq!(
        arms[1],
        "send_message $body:ident $ty:ident) => {
        type SendMessage = $ty![SendMessage];

        fn send_message<C, T>(&self, chat_id: C, text: T) -> Self::SendMessage where C: Into<Recipient>,
        T: Into<String> {
            let this = self;
            $body!(send_message this (chat_id: C, text: T))
        }
    };
}
"
    );
    assert!(
        arms[0].contains("fn get_me(&self, ) -> Self::GetMe {"),
        "{}",
        arms[0]
    );
}

/// `src/requests/requester.rs` of teloxide-core `version` in cargo's registry sources.
fn requester_source(version: &str) -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .expect("neither CARGO_HOME nor HOME is set");
    let registry = cargo_home.join("registry/src");
    let found = std::fs::read_dir(&registry)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|index| {
            index
                .path()
                .join(format!("teloxide-core-{version}/src/requests/requester.rs"))
        })
        .find(|path| path.exists());
    found.unwrap_or_else(|| {
        panic!(
            "teloxide-core {version}'s src/requests/requester.rs is not under {} \
             (cargo puts the sources of the crates it builds there)",
            registry.display()
        )
    })
}

/// The generated file: its header, the macro's entry arm, and one `@method`
/// arm per `fn` of the `Requester` trait in `requester_rs`, in its order.
fn generate(requester_rs: &str, version: &str) -> String {
    let mut out = format!(
        "{VERSION_LINE}{version}\n\
         // (src/requests/requester.rs, MIT) by tests/generated.rs: one arm per Bot API\n\
         // method, as teloxide-core's `requester_forward!`. Do not edit; after an upgrade:\n\
         // `{REGENERATE}=1 cargo test --locked --test tests regenerating_paced_forward`.\n\
         \n\
         macro_rules! paced_forward {{\n    \
             ($i:ident $(, $rest:ident )* $(,)? => $body:ident, $ty:ident ) => {{\n        \
                 paced_forward!(@method $i $body $ty);\n        \
                 $( paced_forward!(@method $rest $body $ty); )*\n    \
             }};\n"
    );
    for method in methods(requester_rs) {
        out.push_str(&arm(&method));
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

/// One `fn` of the trait: `fn name<generics>(&self, args) -> Self::Ty where preds;`.
struct Method {
    name: String,
    generics: Vec<String>,
    args: Vec<String>,
    ty: String,
    preds: Vec<String>,
}

fn arm(m: &Method) -> String {
    let generics = if m.generics.is_empty() {
        String::new()
    } else {
        format!("<{}>", m.generics.join(", "))
    };
    let args = m.args.join(", ");
    let where_clause = if m.preds.is_empty() {
        String::new()
    } else {
        format!(" where {}", m.preds.join(",\n        "))
    };
    format!(
        "    (@method {name} $body:ident $ty:ident) => {{
        type {ty} = $ty![{ty}];

        fn {name}{generics}(&self, {args}) -> Self::{ty}{where_clause} {{
            let this = self;
            $body!({name} this ({args}))
        }}
    }};",
        name = m.name,
        ty = m.ty,
    )
}

/// The methods of `pub trait Requester { … }`, in order. Its items are
/// associated types and method signatures, each ending with `;`.
fn methods(requester_rs: &str) -> Vec<Method> {
    let start = requester_rs
        .find("pub trait Requester")
        .expect("no `pub trait Requester` in requester.rs");
    let body = &requester_rs[start..];
    let body = &body[body.find('{').expect("the trait has no body") + 1..];
    let body = &body[..body.find("\n}\n").expect("the trait does not end")];
    let code: String = body
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !line.starts_with("//") && !line.starts_with("#[")
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        !code.contains('{'),
        "the Requester trait has a provided method: the generator only reads signatures"
    );
    code.split(';')
        .map(|item| item.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|item| item.starts_with("fn "))
        .map(|item| parse_method(&item))
        .collect()
}

/// Parses `fn name<G>(&self, a: A) -> Self::Ty where P` (whitespace collapsed).
fn parse_method(item: &str) -> Method {
    let rest = item.strip_prefix("fn ").unwrap();
    let name_end = rest.find(['<', '(']).expect("a method without parameters");
    let name = rest[..name_end].trim().to_owned();
    let mut rest = &rest[name_end..];
    let mut generics = Vec::new();
    if rest.starts_with('<') {
        let end = closing(rest, '<', '>');
        generics = split_top_level(&rest[1..end]);
        rest = rest[end + 1..].trim_start();
    }
    assert!(rest.starts_with('('), "{item}: no parameter list");
    let end = closing(rest, '(', ')');
    let params = split_top_level(&rest[1..end]);
    assert_eq!(
        params.first().map(String::as_str),
        Some("&self"),
        "{item}: not a `&self` method"
    );
    let args = params[1..].to_vec();
    let rest = rest[end + 1..].trim_start();
    let rest = rest
        .strip_prefix("-> Self::")
        .unwrap_or_else(|| panic!("{item}: does not return one of Self's types"));
    let (ty, preds) = match rest.split_once(" where ") {
        Some((ty, preds)) => (ty, split_top_level(preds)),
        None => (rest, Vec::new()),
    };
    Method {
        name,
        generics,
        args,
        ty: ty.trim().to_owned(),
        preds,
    }
}

/// The index of the bracket closing the one `text` starts with.
fn closing(text: &str, open: char, close: char) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
    }
    panic!("unbalanced {open}{close} in {text}");
}

/// `text` split at the commas outside brackets, each part trimmed, empty parts dropped.
fn split_top_level(text: &str) -> Vec<String> {
    let (mut parts, mut current, mut depth) = (Vec::new(), String::new(), 0);
    for c in text.chars() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|part| part.trim().to_owned())
        .filter(|part| !part.is_empty())
        .collect()
}
