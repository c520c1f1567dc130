//! getUpdates (the long poll), webhooks, and the command menus by scope and language.

use super::*;

pub(super) struct ActivePoll<'a> {
    shared: &'a Shared,
}

impl<'a> ActivePoll<'a> {
    fn start(shared: &'a Shared) -> Self {
        shared.lock().active_long_polls += 1;
        shared.notify();
        Self { shared }
    }
}

impl Drop for ActivePoll<'_> {
    fn drop(&mut self) {
        let mut world = self.shared.lock();
        world.active_long_polls = world.active_long_polls.saturating_sub(1);
        drop(world);
        self.shared.notify();
    }
}

pub(super) async fn get_updates(shared: &Arc<Shared>, request: &BotRequest) -> ApiResult {
    let offset = request.integer("offset")?.unwrap_or(0);
    let limit =
        usize::try_from(request.integer("limit")?.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
    let timeout_seconds = request
        .integer("timeout")?
        .unwrap_or(0)
        .clamp(0, MAX_LONG_POLL_SECONDS);
    let allowed_updates = match request.json("allowed_updates")? {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ),
        Some(_) => {
            return Err(ApiFailure::bad_request(
                "can't parse allowed_updates JSON object",
            ));
        }
        None => None,
    };

    let generation = {
        let mut world = shared.lock();
        if world.webhook_url.is_some() {
            return Err(ApiFailure::conflict(
                "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        if let Some(allowed) = allowed_updates {
            world.allowed_updates = Some(allowed);
        }
        if offset > 0 {
            world.updates.retain(|update| update.update_id >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while world.updates.len() > keep {
                world.updates.pop_front();
            }
        }
        world.poll_generation += 1;
        world.poll_generation
    };
    // Wake an older poll so that it notices it was terminated.
    shared.notify();

    let collect = |world: &World| -> Option<ApiResult> {
        if world.poll_generation != generation {
            return Some(Err(ApiFailure::conflict(
                "terminated by other getUpdates request; make sure that only one bot instance is running",
            )));
        }
        if world.shutting_down {
            return Some(Ok(json!([])));
        }
        let updates: Vec<Value> = world
            .updates
            .iter()
            .filter(|update| world.update_allowed(update.kind))
            .take(limit)
            .map(|update| update.to_json())
            .collect();
        (!updates.is_empty()).then_some(Ok(Value::Array(updates)))
    };

    if timeout_seconds == 0 {
        return collect(&shared.lock()).unwrap_or_else(|| Ok(json!([])));
    }
    let _active = ActivePoll::start(shared);
    let timeout = Duration::from_secs(u64::try_from(timeout_seconds).unwrap_or(0));
    shared
        .wait_until(timeout, collect)
        .await
        .unwrap_or_else(|| Ok(json!([])))
}

pub(super) fn delete_webhook(shared: &Shared, request: &BotRequest) -> ApiResult {
    let mut world = shared.lock();
    world.webhook_url = None;
    if request.flag("drop_pending_updates") {
        world.updates.clear();
    }
    Ok(json!(true))
}

pub(super) fn set_webhook(shared: &Shared, request: &BotRequest) -> ApiResult {
    let url = request.string("url").unwrap_or_default();
    let mut world = shared.lock();
    if url.is_empty() {
        world.webhook_url = None;
    } else {
        if !url.starts_with("https://") {
            return Err(ApiFailure::bad_request(
                "bad webhook: HTTPS url must be provided for webhook",
            ));
        }
        world.webhook_url = Some(url);
    }
    if request.flag("drop_pending_updates") {
        world.updates.clear();
    }
    Ok(json!(true))
}

pub(super) fn get_webhook_info(shared: &Shared) -> ApiResult {
    let world = shared.lock();
    Ok(json!({
        "url": world.webhook_url.clone().unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": world.updates.len(),
    }))
}

pub(super) fn scope_key(request: &BotRequest) -> Result<(String, String), ApiFailure> {
    let scope = request.json("scope")?;
    let key = match scope {
        None => "default".to_owned(),
        Some(scope) => {
            let kind = scope
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned();
            let chat = scope
                .get("chat_id")
                .map(|id| format!(":{id}"))
                .unwrap_or_default();
            let user = scope
                .get("user_id")
                .map(|id| format!(":{id}"))
                .unwrap_or_default();
            format!("{kind}{chat}{user}")
        }
    };
    let language = request.string("language_code").unwrap_or_default();
    Ok((key, language))
}

pub(super) fn set_my_commands(shared: &Shared, request: &BotRequest) -> ApiResult {
    let Some(Value::Array(items)) = request.json("commands")? else {
        return Err(ApiFailure::bad_request(
            "parameter \"commands\" is required",
        ));
    };
    if items.len() > 100 {
        return Err(ApiFailure::bad_request("too many commands specified"));
    }
    let mut commands = Vec::new();
    for item in items {
        let command = str_field(&item, "command")
            .trim_start_matches('/')
            .to_owned();
        let description = str_field(&item, "description");
        let valid_command = !command.is_empty()
            && command.len() <= 32
            && command
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_command {
            return Err(ApiFailure::bad_request("BOT_COMMAND_INVALID"));
        }
        let description_length = description.chars().count();
        if description_length == 0 || description_length > 256 {
            return Err(ApiFailure::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
        commands.push(BotCommandSpec {
            command,
            description,
        });
    }
    let key = scope_key(request)?;
    // Like Telegram: a chat scope must name a chat the bot knows.
    if let Some(Value::Object(scope)) = request.json("scope")?
        && let Some(chat_id) = scope.get("chat_id").and_then(Value::as_i64)
        && !shared.lock().chats.contains_key(&chat_id)
    {
        return Err(ApiFailure::bad_request("chat not found"));
    }
    shared.lock().commands.insert(key, commands);
    shared.notify();
    Ok(json!(true))
}

pub(super) fn get_my_commands(shared: &Shared, request: &BotRequest) -> ApiResult {
    let key = scope_key(request)?;
    let world = shared.lock();
    let commands = world.commands.get(&key).cloned().unwrap_or_default();
    serde_json::to_value(commands).map_err(|_| ApiFailure::bad_request("can't serialize commands"))
}

pub(super) fn delete_my_commands(shared: &Shared, request: &BotRequest) -> ApiResult {
    let key = scope_key(request)?;
    shared.lock().commands.remove(&key);
    shared.notify();
    Ok(json!(true))
}
