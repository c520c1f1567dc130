//! The style catalogue (`data/styles.toml`) and the spreading of reference
//! photos over a job's tasks.

use super::*;

// ---------------------------------------------------------------------------
// Style catalogue.
// ---------------------------------------------------------------------------

fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Checks one prompt against the catalogue's rules; returns what is wrong.
fn prompt_problems(style_id: &str, label: &str, prompt: &str, min_words: usize) -> Vec<String> {
    let lowercase = prompt.to_lowercase();
    let words = word_count(prompt);
    let mut problems = Vec::new();
    if !(min_words..=120).contains(&words) {
        problems.push(format!(
            "{style_id} {label}: {words} words, want {min_words}..=120"
        ));
    }
    for required in [
        "identity",
        "skin tone",
        "proportions",
        "reference photos",
        "only one person",
        "no text",
        "watermark",
    ] {
        if !lowercase.contains(required) {
            problems.push(format!("{style_id} {label}: does not mention {required:?}"));
        }
    }
    if !prompt.is_ascii() {
        // Plain ASCII except for accented loan words in names is fine for the
        // model, but prompts should not carry stray Cyrillic or smart quotes.
        let non_ascii: String = prompt.chars().filter(|c| !c.is_ascii()).collect();
        if non_ascii.chars().any(|c| !"éè".contains(c)) {
            problems.push(format!(
                "{style_id} {label}: non-ASCII characters {non_ascii:?}"
            ));
        }
    }
    problems
}

#[test]
fn styles_catalogue_has_at_least_24_distinct_well_formed_styles() {
    let styles = catalogue();
    assert!(styles.len() >= 24, "only {} styles", styles.len());

    let mut problems = Vec::new();
    let mut ids = HashSet::new();
    let mut names_ru = HashSet::new();
    let mut names_en = HashSet::new();
    let mut prompts = HashSet::new();
    for style in styles {
        if !ids.insert(style.id.as_str()) {
            problems.push(format!("duplicate id {}", style.id));
        }
        if !names_ru.insert(style.name_ru.as_str()) {
            problems.push(format!("duplicate Russian name {}", style.name_ru));
        }
        if !names_en.insert(style.name_en.as_str()) {
            problems.push(format!("duplicate English name {}", style.name_en));
        }
        let slug_ok = !style.id.is_empty()
            && style
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !slug_ok {
            problems.push(format!("id {:?} is not a lowercase slug", style.id));
        }
        for (language, name) in [("ru", &style.name_ru), ("en", &style.name_en)] {
            if name.trim().is_empty() || name.chars().count() > 32 {
                problems.push(format!(
                    "{} name_{language} {name:?} is empty or too long",
                    style.id
                ));
            }
        }
        if !style
            .name_ru
            .chars()
            .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'))
        {
            problems.push(format!(
                "{} name_ru {:?} has no Cyrillic",
                style.id, style.name_ru
            ));
        }
        problems.extend(prompt_problems(&style.id, "prompt", &style.prompt, 40));
        if !(1..=2).contains(&style.variants.len()) {
            problems.push(format!(
                "{} has {} variants, want 1 or 2",
                style.id,
                style.variants.len()
            ));
        }
        for (index, variant) in style.variants.iter().enumerate() {
            problems.extend(prompt_problems(
                &style.id,
                &format!("variant {index}"),
                variant,
                30,
            ));
            if variant == &style.prompt {
                problems.push(format!("{} variant {index} repeats the prompt", style.id));
            }
        }
        for prompt in std::iter::once(&style.prompt).chain(&style.variants) {
            if !prompts.insert(prompt.as_str()) {
                problems.push(format!(
                    "{}: a prompt is used twice in the catalogue",
                    style.id
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "catalogue problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn styles_catalogue_covers_the_requested_styles() {
    for id in [
        "studio-business-headshot",
        "golden-hour-street",
        "film-noir",
        "renaissance-oil",
        "cyberpunk-neon",
        "paris-cafe",
        "mountain-explorer",
        "roaring-twenties",
        "anime-illustration",
        "watercolor",
        "magazine-cover",
        "astronaut",
        "medieval-knight",
        "beach-sunset",
        "winter-forest",
        "jazz-club",
        "minimalist-black-white",
        "soviet-film-photo",
        "fantasy-elf",
        "hero-suit",
        "vintage-polaroid",
        "cozy-library",
        "tennis-court",
    ] {
        assert!(style_by_id(id).is_some(), "style {id} is missing");
    }
    assert!(style_by_id("no-such-style").is_none());
}

#[test]
fn styles_prompt_for_walks_the_variants_then_stops() {
    let styles = catalogue();
    for (index, style) in styles.iter().enumerate() {
        assert_eq!(prompt_for(index, 0), Some(style.prompt.as_str()));
        for (variant_index, variant) in style.variants.iter().enumerate() {
            assert_eq!(prompt_for(index, variant_index + 1), Some(variant.as_str()));
        }
        assert_eq!(
            prompt_for(index, style.prompt_count()),
            None,
            "{}",
            style.id
        );
    }
    assert_eq!(prompt_for(styles.len(), 0), None);
}

// ---------------------------------------------------------------------------
// Spreading reference photos over a job's tasks.
// ---------------------------------------------------------------------------

fn photo_keys(count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("avatars/7/refs/{index:02}.jpg"))
        .collect()
}

/// How often each photo is used over all tasks, in photo order.
fn usage_counts(photos: &[String], spread: &[Vec<String>]) -> Vec<usize> {
    photos
        .iter()
        .map(|photo| {
            spread
                .iter()
                .flatten()
                .filter(|used| *used == photo)
                .count()
        })
        .collect()
}

#[test]
fn spread_references_covers_every_photo_and_balances_use() {
    // (photos, tasks, max per task, photos per task)
    let table = [
        (15, 7, 10, 10),
        (15, 23, 10, 10),
        (15, 2, 8, 8),
        (14, 15, 14, 14),
        (11, 3, 10, 10),
        (10, 7, 10, 10),
        (5, 7, 10, 5),
        (6, 1, 10, 6),
    ];
    for (photo_count, tasks, max_per_task, per_task) in table {
        let photos = photo_keys(photo_count);
        let spread = spread_references(&photos, tasks, max_per_task);
        let label = format!("{photo_count} photos, {tasks} tasks, max {max_per_task}");

        assert_eq!(spread.len(), tasks, "{label}: task count");
        for (task, refs) in spread.iter().enumerate() {
            assert_eq!(refs.len(), per_task, "{label}: task {task} size");
            let distinct: HashSet<&String> = refs.iter().collect();
            assert_eq!(
                distinct.len(),
                refs.len(),
                "{label}: task {task} repeats a photo"
            );
        }
        let counts = usage_counts(&photos, &spread);
        assert!(
            counts.iter().all(|&count| count > 0),
            "{label}: unused photo in {counts:?}"
        );
        let (least, most) = (counts.iter().min(), counts.iter().max());
        assert!(
            most.zip(least)
                .is_some_and(|(most, least)| most - least <= 1),
            "{label}: unbalanced use {counts:?}"
        );
        assert_eq!(
            spread,
            spread_references(&photos, tasks, max_per_task),
            "{label}: not deterministic"
        );
    }
}

#[test]
fn spread_references_small_and_degenerate_inputs() {
    // Fewer photos than a task takes: every task gets all of them.
    let five = photo_keys(5);
    for refs in spread_references(&five, 7, 10) {
        let mut sorted = refs.clone();
        sorted.sort();
        assert_eq!(sorted, five);
    }
    // One task cannot take more than its maximum: 10 of 15, the first 10.
    let fifteen = photo_keys(15);
    assert_eq!(
        spread_references(&fifteen, 1, 10),
        vec![fifteen[..10].to_vec()]
    );
    // The 15-photo, 7-task example spelled out: task 1 wraps around.
    let spread = spread_references(&fifteen, 7, 10);
    assert_eq!(spread[1][..5], fifteen[10..]);
    assert_eq!(spread[1][5..], fifteen[..5]);
    // Nothing to spread, or nowhere to put it.
    assert_eq!(spread_references(&[], 3, 10), vec![Vec::<String>::new(); 3]);
    assert_eq!(
        spread_references(&fifteen, 2, 0),
        vec![Vec::<String>::new(); 2]
    );
    assert!(spread_references(&fifteen, 0, 10).is_empty());
}
