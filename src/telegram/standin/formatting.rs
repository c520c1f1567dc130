//! `parse_mode` handling: HTML, MarkdownV2 and legacy Markdown turned into plain text plus
//! entities, with Telegram's "can't parse entities" errors for malformed markup.
//!
//! Offsets and lengths are in UTF-16 code units, as in the Bot API.

use super::model::MessageEntity;

/// Plain text and its entities.
pub(crate) type Formatted = (String, Vec<MessageEntity>);

/// Applies a `parse_mode` (`None` means plain text). The error is the description after
/// `Bad Request: `.
pub(crate) fn apply_parse_mode(text: &str, parse_mode: Option<&str>) -> Result<Formatted, String> {
    match parse_mode {
        None => Ok((text.to_owned(), Vec::new())),
        Some(mode) => match mode.to_ascii_lowercase().as_str() {
            "" => Ok((text.to_owned(), Vec::new())),
            "html" => parse_html(text),
            "markdownv2" => parse_markdown_v2(text),
            "markdown" => parse_markdown_legacy(text),
            _ => Err("unsupported parse_mode".to_owned()),
        },
    }
}

/// The length of a string in UTF-16 code units.
pub(crate) fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

struct Builder {
    text: String,
    utf16: usize,
    entities: Vec<MessageEntity>,
}

impl Builder {
    fn new() -> Self {
        Self {
            text: String::new(),
            utf16: 0,
            entities: Vec::new(),
        }
    }

    fn push(&mut self, c: char) {
        self.text.push(c);
        self.utf16 += c.len_utf16();
    }

    fn entity(&mut self, kind: &str, start: usize, url: Option<String>, language: Option<String>) {
        if self.utf16 > start {
            self.entities.push(MessageEntity {
                kind: kind.to_owned(),
                offset: start,
                length: self.utf16 - start,
                url,
                language,
            });
        }
    }

    fn finish(mut self) -> Formatted {
        self.entities
            .sort_by(|a, b| a.offset.cmp(&b.offset).then(b.length.cmp(&a.length)));
        (self.text, self.entities)
    }
}

fn cant_parse(detail: impl AsRef<str>) -> String {
    format!("can't parse entities: {}", detail.as_ref())
}

struct OpenTag {
    name: String,
    kind: Option<&'static str>,
    start: usize,
    url: Option<String>,
    language: Option<String>,
}

fn parse_attributes(raw: &str) -> Vec<(String, String)> {
    let mut attributes = Vec::new();
    let mut rest = raw.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after_equals) = rest.strip_prefix('=') {
            let after_equals = after_equals.trim_start();
            if let Some(quote) = after_equals
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')
            {
                let body = &after_equals[1..];
                let end = body.find(quote).unwrap_or(body.len());
                value = decode_html_entities(&body[..end]);
                rest = body.get(end + 1..).unwrap_or("").trim_start();
            } else {
                let end = after_equals
                    .find(char::is_whitespace)
                    .unwrap_or(after_equals.len());
                value = decode_html_entities(&after_equals[..end]);
                rest = after_equals[end..].trim_start();
            }
        }
        if !name.is_empty() {
            attributes.push((name, value));
        }
    }
    attributes
}

fn decode_html_entities(raw: &str) -> String {
    let mut out = String::new();
    let mut index = 0;
    while index < raw.len() {
        let rest = &raw[index..];
        if rest.starts_with('&')
            && let Some((decoded, consumed)) = decode_one_entity(rest)
        {
            out.push(decoded);
            index += consumed;
            continue;
        }
        if let Some(c) = rest.chars().next() {
            out.push(c);
            index += c.len_utf8();
        } else {
            break;
        }
    }
    out
}

/// Decodes one `&...;` at the start of `text`; returns the character and bytes consumed.
fn decode_one_entity(text: &str) -> Option<(char, usize)> {
    let end = text[..text.len().min(12)].find(';')?;
    let name = &text[1..end];
    let decoded = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        _ => {
            let number = name.strip_prefix('#')?;
            let value = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse::<u32>().ok()?,
            };
            char::from_u32(value)?
        }
    };
    Some((decoded, end + 1))
}

fn parse_html(input: &str) -> Result<Formatted, String> {
    let mut builder = Builder::new();
    let mut stack: Vec<OpenTag> = Vec::new();
    let mut index = 0;
    while index < input.len() {
        let rest = &input[index..];
        let Some(c) = rest.chars().next() else { break };
        if c == '&' {
            if let Some((decoded, consumed)) = decode_one_entity(rest) {
                builder.push(decoded);
                index += consumed;
            } else {
                builder.push('&');
                index += 1;
            }
            continue;
        }
        if c != '<' {
            builder.push(c);
            index += c.len_utf8();
            continue;
        }
        let Some(close) = rest.find('>') else {
            return Err(cant_parse(format!(
                "Unclosed start tag at byte offset {index}"
            )));
        };
        let inside = &rest[1..close];
        if let Some(end_name) = inside.strip_prefix('/') {
            let end_name = end_name.trim().to_ascii_lowercase();
            let Some(open) = stack.pop() else {
                return Err(cant_parse(format!(
                    "Unexpected end tag at byte offset {index}"
                )));
            };
            if !end_name.is_empty() && end_name != open.name {
                return Err(cant_parse(format!(
                    "Unmatched end tag at byte offset {index}, expected \"</{}>\", found \"</{end_name}>\"",
                    open.name
                )));
            }
            if let Some(kind) = open.kind {
                builder.entity(kind, open.start, open.url, open.language);
            }
        } else {
            let name_end = inside
                .find(|c: char| c.is_whitespace() || c == '/')
                .unwrap_or(inside.len());
            let name = inside[..name_end].to_ascii_lowercase();
            let attributes = parse_attributes(&inside[name_end..]);
            let attribute = |wanted: &str| {
                attributes
                    .iter()
                    .find(|(key, _)| key == wanted)
                    .map(|(_, value)| value.clone())
            };
            let mut url = None;
            let language = None;
            let kind = match name.as_str() {
                "b" | "strong" => Some("bold"),
                "i" | "em" => Some("italic"),
                "u" | "ins" => Some("underline"),
                "s" | "strike" | "del" => Some("strikethrough"),
                "tg-spoiler" => Some("spoiler"),
                "span" => {
                    if attribute("class").as_deref() != Some("tg-spoiler") {
                        return Err(cant_parse(format!(
                            "Tag \"span\" must have class \"tg-spoiler\" at byte offset {index}"
                        )));
                    }
                    Some("spoiler")
                }
                "a" => {
                    url = attribute("href");
                    url.as_ref().map(|_| "text_link")
                }
                "code" => {
                    let class = attribute("class");
                    match stack.last_mut() {
                        Some(parent) if parent.name == "pre" => {
                            parent.language =
                                class.and_then(|c| c.strip_prefix("language-").map(str::to_owned));
                            None
                        }
                        _ => Some("code"),
                    }
                }
                "pre" => Some("pre"),
                "blockquote" => {
                    if attributes.iter().any(|(key, _)| key == "expandable") {
                        Some("expandable_blockquote")
                    } else {
                        Some("blockquote")
                    }
                }
                "tg-emoji" => None,
                _ => {
                    return Err(cant_parse(format!(
                        "Unsupported start tag \"{name}\" at byte offset {index}"
                    )));
                }
            };
            stack.push(OpenTag {
                name,
                kind,
                start: builder.utf16,
                url,
                language,
            });
        }
        index += close + 1;
    }
    if let Some(open) = stack.pop() {
        return Err(cant_parse(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.name
        )));
    }
    Ok(builder.finish())
}

const MARKDOWN_V2_RESERVED: &str = "_*[]()~`>#+-=|{}.!";

struct OpenMark {
    kind: &'static str,
    label: &'static str,
    start: usize,
    byte_offset: usize,
}

fn toggle(
    builder: &mut Builder,
    stack: &mut Vec<OpenMark>,
    kind: &'static str,
    label: &'static str,
    byte_offset: usize,
) {
    if let Some(position) = stack.iter().rposition(|open| open.kind == kind) {
        let open = stack.remove(position);
        builder.entity(kind, open.start, None, None);
    } else {
        stack.push(OpenMark {
            kind,
            label,
            start: builder.utf16,
            byte_offset,
        });
    }
}

/// Reads `chars` from `cursor` up to the first unescaped closer, giving each character to
/// `push` (`\x` as `x`); `closer_at(index)` is the length of a closer that starts there.
/// Returns the index just past the closer, or `None` when the text ends first.
fn read_until_closer(
    chars: &[(usize, char)],
    mut cursor: usize,
    closer_at: impl Fn(usize) -> Option<usize>,
    mut push: impl FnMut(char),
) -> Option<usize> {
    while cursor < chars.len() {
        let (_, inner) = chars[cursor];
        if inner == '\\' {
            if let Some((_, escaped)) = chars.get(cursor + 1) {
                push(*escaped);
            }
            cursor += 2;
            continue;
        }
        if let Some(length) = closer_at(cursor) {
            return Some(cursor + length);
        }
        push(inner);
        cursor += 1;
    }
    None
}

fn parse_markdown_v2(input: &str) -> Result<Formatted, String> {
    let mut builder = Builder::new();
    let mut stack: Vec<OpenMark> = Vec::new();
    let mut link_starts: Vec<(usize, usize)> = Vec::new();
    let mut blockquote_start: Option<usize> = None;
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut position = 0;
    while position < chars.len() {
        let (byte_offset, c) = chars[position];
        let next = chars.get(position + 1).map(|(_, c)| *c);
        let at_line_start = position == 0 || chars[position - 1].1 == '\n';
        match c {
            '\\' => {
                match next {
                    Some(escaped) if (escaped as u32) < 127 && escaped as u32 >= 1 => {
                        builder.push(escaped)
                    }
                    Some(other) => {
                        builder.push('\\');
                        builder.push(other);
                    }
                    None => builder.push('\\'),
                }
                position += 2;
                continue;
            }
            '*' => toggle(&mut builder, &mut stack, "bold", "Bold", byte_offset),
            '_' if next == Some('_') => {
                toggle(
                    &mut builder,
                    &mut stack,
                    "underline",
                    "Underline",
                    byte_offset,
                );
                position += 2;
                continue;
            }
            '_' => toggle(&mut builder, &mut stack, "italic", "Italic", byte_offset),
            '~' => toggle(
                &mut builder,
                &mut stack,
                "strikethrough",
                "Strikethrough",
                byte_offset,
            ),
            '|' if next == Some('|') => {
                toggle(&mut builder, &mut stack, "spoiler", "Spoiler", byte_offset);
                position += 2;
                continue;
            }
            '`' => {
                let is_pre =
                    next == Some('`') && chars.get(position + 2).map(|(_, c)| *c) == Some('`');
                let fence = if is_pre { 3 } else { 1 };
                let mut cursor = position + fence;
                let mut language = None;
                if is_pre {
                    let line_end = chars[cursor..]
                        .iter()
                        .position(|(_, c)| *c == '\n')
                        .map(|p| p + cursor);
                    if let Some(line_end) = line_end {
                        let candidate: String =
                            chars[cursor..line_end].iter().map(|(_, c)| *c).collect();
                        if !candidate.is_empty()
                            && !candidate.contains(char::is_whitespace)
                            && !candidate.contains('`')
                        {
                            language = Some(candidate);
                            cursor = line_end + 1;
                        }
                    }
                }
                let start = builder.utf16;
                let closing_fence = |at: usize| {
                    let run = chars[at..].iter().take_while(|(_, c)| *c == '`').count();
                    (run >= fence).then_some(fence)
                };
                let end = read_until_closer(&chars, cursor, closing_fence, |c| builder.push(c));
                let Some(end) = end else {
                    let label = if is_pre { "Pre" } else { "Code" };
                    return Err(cant_parse(format!(
                        "Can't find end of {label} entity at byte offset {byte_offset}"
                    )));
                };
                builder.entity(if is_pre { "pre" } else { "code" }, start, None, language);
                position = end;
                continue;
            }
            '[' => link_starts.push((builder.utf16, byte_offset)),
            ']' if !link_starts.is_empty() => {
                let (start, _) = link_starts.pop().unwrap_or((builder.utf16, byte_offset));
                if next == Some('(') {
                    let mut url = String::new();
                    let closing_paren = |at: usize| (chars[at].1 == ')').then_some(1);
                    let end =
                        read_until_closer(&chars, position + 2, closing_paren, |c| url.push(c));
                    let Some(end) = end else {
                        return Err(cant_parse(format!(
                            "Can't find end of a url at byte offset {byte_offset}"
                        )));
                    };
                    builder.entity("text_link", start, Some(url), None);
                    position = end;
                    continue;
                }
            }
            '>' if at_line_start => {
                if blockquote_start.is_none() {
                    blockquote_start = Some(builder.utf16);
                }
            }
            '\n' => {
                builder.push('\n');
                if let Some(start) = blockquote_start
                    && next != Some('>')
                {
                    builder.entity("blockquote", start, None, None);
                    blockquote_start = None;
                }
            }
            reserved if MARKDOWN_V2_RESERVED.contains(reserved) => {
                return Err(cant_parse(format!(
                    "Character '{reserved}' is reserved and must be escaped with the preceding '\\'"
                )));
            }
            other => builder.push(other),
        }
        position += 1;
    }
    if let Some(start) = blockquote_start {
        builder.entity("blockquote", start, None, None);
    }
    if let Some(open) = stack.first() {
        return Err(cant_parse(format!(
            "Can't find end of {} entity at byte offset {}",
            open.label, open.byte_offset
        )));
    }
    if let Some((_, byte_offset)) = link_starts.first() {
        return Err(cant_parse(format!(
            "Can't find end of TextUrl entity at byte offset {byte_offset}"
        )));
    }
    Ok(builder.finish())
}

fn parse_markdown_legacy(input: &str) -> Result<Formatted, String> {
    let mut builder = Builder::new();
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut position = 0;
    while position < chars.len() {
        let (byte_offset, c) = chars[position];
        let next = chars.get(position + 1).map(|(_, c)| *c);
        match c {
            '\\' if matches!(next, Some('_' | '*' | '`' | '[')) => {
                if let Some(escaped) = next {
                    builder.push(escaped);
                }
                position += 2;
            }
            '*' | '_' | '`' | '[' => {
                let (kind, closing) = match c {
                    '*' => ("bold", '*'),
                    '_' => ("italic", '_'),
                    '`' => ("code", '`'),
                    _ => ("text_link", ']'),
                };
                let is_pre = c == '`'
                    && next == Some('`')
                    && chars.get(position + 2).map(|(_, c)| *c) == Some('`');
                let fence = if is_pre { 3 } else { 1 };
                let start = builder.utf16;
                let mut cursor = position + fence;
                let mut closed = false;
                while cursor < chars.len() {
                    let (_, inner) = chars[cursor];
                    let run = chars[cursor..]
                        .iter()
                        .take_while(|(_, c)| *c == closing)
                        .count();
                    if inner == closing && run >= fence {
                        cursor += fence;
                        closed = true;
                        break;
                    }
                    builder.push(inner);
                    cursor += 1;
                }
                if !closed {
                    return Err(cant_parse(format!(
                        "Can't find end of the entity starting at byte offset {byte_offset}"
                    )));
                }
                if kind == "text_link" {
                    let mut url = None;
                    if chars.get(cursor).map(|(_, c)| *c) == Some('(') {
                        let url_start = cursor + 1;
                        if let Some(length) = chars[url_start..].iter().position(|(_, c)| *c == ')')
                        {
                            url = Some(
                                chars[url_start..url_start + length]
                                    .iter()
                                    .map(|(_, c)| *c)
                                    .collect::<String>(),
                            );
                            cursor = url_start + length + 1;
                        }
                    }
                    if let Some(url) = url {
                        builder.entity("text_link", start, Some(url), None);
                    }
                } else {
                    builder.entity(if is_pre { "pre" } else { kind }, start, None, None);
                }
                position = cursor;
            }
            other => {
                builder.push(other);
                position += 1;
            }
        }
    }
    Ok(builder.finish())
}

/// `bot_command` entities for every `/command` a Telegram client would highlight.
pub(crate) fn command_entities(text: &str) -> Vec<MessageEntity> {
    let mut entities = Vec::new();
    let mut utf16_offset = 0;
    let mut previous: Option<char> = None;
    let chars: Vec<char> = text.chars().collect();
    let mut position = 0;
    while position < chars.len() {
        let c = chars[position];
        let at_word_start = previous.is_none_or(char::is_whitespace);
        if c == '/' && at_word_start {
            let mut length = 1;
            while let Some(next) = chars.get(position + length) {
                if next.is_ascii_alphanumeric() || *next == '_' || *next == '@' {
                    length += 1;
                } else {
                    break;
                }
            }
            if length > 1 {
                entities.push(MessageEntity {
                    kind: "bot_command".to_owned(),
                    offset: utf16_offset,
                    length,
                    url: None,
                    language: None,
                });
                utf16_offset += length;
                previous = chars.get(position + length - 1).copied();
                position += length;
                continue;
            }
        }
        utf16_offset += c.len_utf16();
        previous = Some(c);
        position += 1;
    }
    entities
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(formatted: &Formatted) -> Vec<(String, usize, usize)> {
        formatted
            .1
            .iter()
            .map(|e| (e.kind.clone(), e.offset, e.length))
            .collect()
    }

    #[test]
    fn html_gives_plain_text_and_entities() {
        let formatted =
            parse_html("<b>Привет</b>, &lt;мир&gt; <a href=\"https://x.y\">ссылка</a>").unwrap();
        assert_eq!(formatted.0, "Привет, <мир> ссылка");
        assert_eq!(
            kinds(&formatted),
            vec![("bold".into(), 0, 6), ("text_link".into(), 14, 6)]
        );
    }

    #[test]
    fn html_errors_are_telegrams() {
        assert_eq!(
            parse_html("<blink>x</blink>").unwrap_err(),
            "can't parse entities: Unsupported start tag \"blink\" at byte offset 0"
        );
        assert_eq!(
            parse_html("<b>x").unwrap_err(),
            "can't parse entities: Can't find end tag corresponding to start tag \"b\""
        );
    }

    #[test]
    fn markdown_v2_requires_escaping_reserved_characters() {
        assert_eq!(
            parse_markdown_v2("Цена 5.00").unwrap_err(),
            "can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
        );
        let formatted = parse_markdown_v2("*Цена* 5\\.00").unwrap();
        assert_eq!(formatted.0, "Цена 5.00");
        assert_eq!(kinds(&formatted), vec![("bold".into(), 0, 4)]);
    }

    #[test]
    fn markdown_v2_code_pre_and_links_read_up_to_their_unescaped_closer() {
        let formatted =
            parse_markdown_v2("`a\\`b` ```rust\nlet x;``` [site](https://e\\.com/\\)x)").unwrap();
        assert_eq!(formatted.0, "a`b let x; site");
        assert_eq!(
            kinds(&formatted),
            vec![
                ("code".into(), 0, 3),
                ("pre".into(), 4, 6),
                ("text_link".into(), 11, 4)
            ]
        );
        assert_eq!(formatted.1[1].language.as_deref(), Some("rust"));
        assert_eq!(formatted.1[2].url.as_deref(), Some("https://e.com/)x"));
        assert_eq!(
            parse_markdown_v2("`open").unwrap_err(),
            "can't parse entities: Can't find end of Code entity at byte offset 0"
        );
        assert_eq!(
            parse_markdown_v2("x ```\ncode``").unwrap_err(),
            "can't parse entities: Can't find end of Pre entity at byte offset 2"
        );
        assert_eq!(
            parse_markdown_v2("[a](http://x").unwrap_err(),
            "can't parse entities: Can't find end of a url at byte offset 2"
        );
    }

    #[test]
    fn commands_are_marked_like_a_client_does() {
        let entities = command_entities("/start abc");
        assert_eq!(entities.len(), 1);
        assert_eq!((entities[0].offset, entities[0].length), (0, 6));
        assert!(command_entities("hello").is_empty());
    }
}
