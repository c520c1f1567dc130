//! The handler tree and its endpoints. Branch order is priority order; the
//! last endpoint of each kind catches the rest.

use std::sync::Arc;

use futures::future::BoxFuture;
use rand::Rng;
use teloxide::dispatching::dialogue::Dialogue;
use teloxide::dispatching::{HandlerExt, UpdateFilterExt, UpdateHandler};
use teloxide::error_handlers::ErrorHandler;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, User};

use super::BotCtx;
use super::commands::{Command, StartPayload};
use super::press::Press;
use super::state::State;
use super::storage::SqliteStorage;
use super::{purchase, upload};
use crate::chat::TgBot;
use crate::chat::callback::Callback;
use crate::db::{self, avatars, events, users};
use crate::i18n::{Arg, Lang, rub, tr, tr_args};

pub(crate) type HandlerResult = anyhow::Result<()>;
pub(crate) type Dlg = Dialogue<State, SqliteStorage>;

/// The user behind an update, loaded (or created) before any handler runs.
#[derive(Debug, Clone)]
pub(crate) struct UserCtx {
    pub(crate) user: users::User,
    pub(crate) lang: Lang,
    /// The user wrote to the bot for the first time with this update.
    pub(crate) is_new: bool,
    /// The user's A/B variants, (experiment, variant), assigned at the first update.
    pub(crate) assignments: crate::ab::Assignments,
    /// The user asked to delete their data and it is not finished yet:
    /// every update gets "deleting, one moment" and changes nothing.
    pub(crate) deleting: bool,
}

/// A step of a private chat's dialogue: what every handler that moves the
/// dialogue on needs (an endpoint makes it from what the tree hands it).
#[derive(Clone, Copy)]
pub(crate) struct Step<'a> {
    pub(crate) bot: &'a TgBot,
    pub(crate) chat: ChatId,
    pub(crate) dialogue: &'a Dlg,
    pub(crate) me: &'a UserCtx,
    pub(crate) ctx: &'a BotCtx,
}

impl<'a> Step<'a> {
    pub(crate) fn new(
        bot: &'a TgBot,
        chat: ChatId,
        dialogue: &'a Dlg,
        me: &'a UserCtx,
        ctx: &'a BotCtx,
    ) -> Self {
        Step {
            bot,
            chat,
            dialogue,
            me,
            ctx,
        }
    }

    pub(crate) fn lang(&self) -> Lang {
        self.me.lang
    }

    pub(crate) fn user_id(&self) -> i64 {
        self.me.user.id
    }

    /// Sends the chat the text of the locale key `key`.
    pub(crate) async fn say(&self, key: &str) -> HandlerResult {
        self.bot
            .send_message(self.chat, tr(self.lang(), key))
            .await?;
        Ok(())
    }
}

pub fn schema() -> UpdateHandler<anyhow::Error> {
    use dptree::case;

    let commands = teloxide::filter_command::<Command, _>()
        .branch(case![Command::Start(payload)].endpoint(start))
        .branch(case![Command::Help].endpoint(help))
        .branch(case![Command::Language].endpoint(language))
        .branch(case![Command::Gallery].endpoint(super::gallery::list))
        .branch(case![Command::Referral].endpoint(super::referral::show))
        .branch(case![Command::Stop].endpoint(super::stop::stop))
        .branch(case![Command::Terms].endpoint(super::privacy::terms))
        .branch(case![Command::DeleteMyData].endpoint(super::privacy::ask));

    let not_text = |m: Message| m.text().is_none() && m.contact().is_none();
    let private_messages = Update::filter_message()
        .filter(|m: Message| m.chat.is_private())
        .branch(commands)
        .branch(super::admin::branch())
        .branch(
            dptree::filter(|m: Message| m.text().is_some_and(|t| t.starts_with('/')))
                .endpoint(unknown_command),
        )
        .branch(
            case![State::Uploading {
                avatar_id,
                counter_message_id,
                buried
            }]
            .filter(not_text)
            .endpoint(upload::receive),
        )
        .branch(
            case![State::ChoosingPackage { avatar_id }]
                .filter(not_text)
                .map(|avatar_id: i64| (avatar_id, None::<i32>, false))
                .endpoint(upload::receive),
        )
        .branch(
            case![State::AwaitingContact { avatar_id, tier_id }]
                .endpoint(purchase::receive_contact),
        )
        .branch(
            case![State::AwaitingPayment {
                avatar_id,
                payment_id
            }]
            .filter(not_text)
            .map(|(avatar_id, _payment_id): (i64, i64)| (avatar_id, None::<i32>, false))
            .endpoint(upload::receive),
        )
        .branch(
            case![State::AwaitingPayment {
                avatar_id,
                payment_id
            }]
            .endpoint(purchase::payment_status),
        )
        .branch(case![State::Start].endpoint(start_first))
        .endpoint(unexpected_message);

    let group_messages = Update::filter_message()
        .filter(|m: Message| !m.chat.is_private())
        .endpoint(group_message);

    let callbacks = Update::filter_callback_query().endpoint(callback);

    let chat_member = Update::filter_my_chat_member().endpoint(bot_blocked_or_unblocked);

    dptree::entry()
        .filter_map_async(load_user)
        .branch(group_messages)
        .branch(chat_member)
        .branch(dptree::filter(|me: UserCtx| me.deleting).endpoint(super::privacy::deleting_now))
        .branch(
            dptree::entry()
                .enter_dialogue::<Update, SqliteStorage, State>()
                .branch(private_messages)
                .branch(callbacks),
        )
}

/// Logs handler errors with their whole cause chain.
pub(crate) struct LogErrors;

impl ErrorHandler<anyhow::Error> for LogErrors {
    fn handle_error(self: Arc<Self>, error: anyhow::Error) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            tracing::error!(error = format!("{error:#}"), "handler failed");
        })
    }
}

/// The user blocked the bot (or restarted it) in their private chat: blocking
/// is recorded at once, so nothing more is queued for them; any later update
/// from them clears it again (`users::touch`).
async fn bot_blocked_or_unblocked(
    update: ChatMemberUpdated,
    me: UserCtx,
    ctx: Arc<BotCtx>,
) -> HandlerResult {
    if update.chat.is_private() && update.new_chat_member.kind.is_banned() {
        let user_id = me.user.id;
        let now = ctx.clock.now_ms();
        ctx.db
            .run(move |c| users::mark_blocked(c, user_id, now))
            .await?;
    }
    Ok(())
}

/// A user's name as the bot repeats it (greetings, admin notices): without
/// control characters or bidirectional overrides, at most Telegram's 64.
pub(crate) fn clean_name(name: &str) -> String {
    name.chars()
        .filter(|&c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .take(64)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn new_referral_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..8)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

async fn load_user(update: Update, ctx: Arc<BotCtx>) -> Option<UserCtx> {
    let from: User = update.from()?.clone();
    if from.is_bot {
        return None;
    }
    let first_name = clean_name(&from.first_name);
    let default = Lang::parse(&ctx.config.bot.default_language).unwrap_or(Lang::Ru);
    let telegram_lang = Lang::from_telegram(from.language_code.as_deref(), default);
    let picks = crate::ab::picks(&ctx.config, from.id.0 as i64);
    let now = ctx.clock.now_ms();
    let result = ctx
        .db
        .run(move |c| {
            let seen = users::SeenUser {
                id: from.id.0 as i64,
                username: from.username.as_deref(),
                first_name: &first_name,
                language: telegram_lang.code(),
            };
            // A referral code collision is astronomically rare; one retry covers it.
            let (user, is_new) = match users::touch(c, &seen, &new_referral_code(), now) {
                Err(e) if db::is_unique_violation(&e) => {
                    users::touch(c, &seen, &new_referral_code(), now)
                }
                other => other,
            }?;
            let assignments = crate::db::ab::ensure(c, user.id, &picks, now)?;
            let deleting = crate::db::privacy::pending_for_user(c, user.id)?.is_some();
            Ok((user, is_new, assignments, deleting))
        })
        .await;
    match result {
        Ok((user, is_new, assignments, deleting)) => {
            let lang = Lang::parse(&user.language).unwrap_or(default);
            Some(UserCtx {
                user,
                lang,
                is_new,
                assignments,
                deleting,
            })
        }
        Err(error) => {
            tracing::error!(update_id = update.id.0, error = %error, "could not load the user");
            None
        }
    }
}

fn tier_lines(ctx: &BotCtx, lang: Lang) -> String {
    ctx.config
        .tiers
        .iter()
        .map(|tier| {
            tr_args(
                lang,
                "start-tier-line",
                &[
                    ("name", Arg::Str(&tier.name)),
                    (
                        "portraits",
                        Arg::Str(&tr_args(
                            lang,
                            "portraits",
                            &[("count", tier.portraits.into())],
                        )),
                    ),
                    ("price", Arg::Str(&rub(lang, tier.price_kopecks))),
                ],
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn photo_range_args(ctx: &BotCtx) -> [(&'static str, Arg<'static>); 2] {
    [
        ("min", Arg::Num(ctx.config.upload.min_photos.into())),
        ("max", Arg::Num(ctx.config.upload.max_photos.into())),
    ]
}

async fn start(
    bot: TgBot,
    msg: Message,
    dialogue: Dlg,
    me: UserCtx,
    ctx: Arc<BotCtx>,
    payload: String,
) -> HandlerResult {
    match StartPayload::parse(&payload) {
        StartPayload::Referral(code) => {
            super::referral::arrived_by_link(&bot, msg.chat.id, &me, &ctx, code).await?;
        }
        StartPayload::Gallery(token) => {
            // Someone's shared set, and a button to make one's own.
            return super::gallery::open_shared(&bot, &msg, &me, &ctx, token).await;
        }
        StartPayload::None => {}
    }
    onboard(Step::new(&bot, msg.chat.id, &dialogue, &me, &ctx)).await
}

/// The welcome, the tips and the prices; the latest draft (or a new one)
/// takes photos. `/start` and the "make your own" button both come here.
pub(crate) async fn onboard(step: Step<'_>) -> HandlerResult {
    let Step { bot, chat, ctx, .. } = step;
    let (lang, user_id) = (step.lang(), step.user_id());
    let now = ctx.clock.now_ms();
    let avatar = ctx
        .db
        .run(move |c| {
            events::record(c, user_id, events::Stage::Onboarding, 0, None, now)?;
            match avatars::latest_draft(c, user_id)? {
                Some(draft) => Ok(draft),
                None => avatars::create_draft(c, user_id, now),
            }
        })
        .await?;
    // The state first: the photos that follow are taken even when an answer
    // below is lost (a Telegram 5xx, a kill between the sends).
    step.dialogue
        .update(State::Uploading {
            avatar_id: avatar.id,
            counter_message_id: None,
            buried: false,
        })
        .await?;
    let [min, max] = photo_range_args(ctx);
    let welcome = tr_args(
        lang,
        "start-welcome",
        &[("name", Arg::Str(&step.me.user.first_name)), min, max],
    );
    let prices = tr_args(
        lang,
        "start-prices",
        &[("tiers", Arg::Str(&tier_lines(ctx, lang)))],
    );
    // One message: every message of a newcomer takes a share of the bot's
    // 30 a second, which paying users need more (issue 15).
    let text = format!(
        "{welcome}\n\n{}\n\n{prices}\n\n{}",
        tr(lang, "start-tips"),
        tr(lang, "start-send-photos")
    );
    let onboarding = async { bot.send_message(chat, text).await };
    crate::chat::paced::with_priority(crate::chat::paced::Priority::Background, onboarding).await?;
    Ok(())
}

async fn help(bot: TgBot, msg: Message, me: UserCtx, ctx: Arc<BotCtx>) -> HandlerResult {
    let [min, max] = photo_range_args(&ctx);
    bot.send_message(msg.chat.id, tr_args(me.lang, "help", &[min, max]))
        .await?;
    Ok(())
}

async fn language(bot: TgBot, msg: Message, me: UserCtx) -> HandlerResult {
    let keyboard = InlineKeyboardMarkup::new([Lang::ALL.map(|lang| {
        let label = match lang {
            Lang::Ru => tr(me.lang, "language-button-ru"),
            Lang::En => tr(me.lang, "language-button-en"),
        };
        InlineKeyboardButton::callback(label, Callback::SetLanguage(lang).encode())
    })]);
    bot.send_message(msg.chat.id, tr(me.lang, "language-choose"))
        .reply_markup(keyboard)
        .await?;
    Ok(())
}

/// Anything before /start: point the user at it.
async fn start_first(bot: TgBot, msg: Message, me: UserCtx) -> HandlerResult {
    bot.send_message(msg.chat.id, tr(me.lang, "start-first"))
        .await?;
    Ok(())
}

async fn unknown_command(bot: TgBot, msg: Message, me: UserCtx) -> HandlerResult {
    bot.send_message(msg.chat.id, tr(me.lang, "unknown-command"))
        .await?;
    Ok(())
}

async fn unexpected_message(
    bot: TgBot,
    msg: Message,
    me: UserCtx,
    ctx: Arc<BotCtx>,
) -> HandlerResult {
    let lang = me.lang;
    let text = if msg.sticker().is_some() {
        tr(lang, "unexpected-sticker")
    } else if msg.text().is_some() {
        let [min, max] = photo_range_args(&ctx);
        tr_args(lang, "unexpected-text", &[min, max])
    } else {
        tr(lang, "unexpected-media")
    };
    bot.send_message(msg.chat.id, text).await?;
    Ok(())
}

/// Groups and channels: the bot works in private chats only. It answers a
/// command once and ignores everything else, so it never floods a group.
async fn group_message(bot: TgBot, msg: Message, me: UserCtx) -> HandlerResult {
    if msg.text().is_some_and(|t| t.starts_with('/')) {
        bot.send_message(msg.chat.id, tr(me.lang, "group-chat"))
            .await?;
    }
    Ok(())
}

/// A handler failed (a download, the store, a busy database): the user is
/// told, in their language, that nothing was lost and to try again; the
/// error itself goes on to the log.
pub(crate) async fn apologize_on_error(
    bot: &TgBot,
    chat: ChatId,
    lang: Lang,
    result: HandlerResult,
) -> HandlerResult {
    if result.is_err() {
        let _ = bot.send_message(chat, tr(lang, "error-try-again")).await;
    }
    result
}

async fn callback(
    bot: TgBot,
    query: CallbackQuery,
    dialogue: Dlg,
    me: UserCtx,
    ctx: Arc<BotCtx>,
) -> HandlerResult {
    let (chat, lang) = (dialogue.chat_id(), me.lang);
    let press = Press {
        bot: &bot,
        query: &query,
        me: &me,
        ctx: &ctx,
    };
    let result = on_press(press, &dialogue).await;
    if result.is_err() {
        // The button must stop spinning whatever happened.
        let _ = bot.answer_callback_query(query.id.clone()).await;
    }
    apologize_on_error(&bot, chat, lang, result).await
}

async fn on_press(press: Press<'_>, dialogue: &Dlg) -> HandlerResult {
    let parsed = press.query.data.as_deref().and_then(Callback::parse);
    let step = Step::new(press.bot, dialogue.chat_id(), dialogue, press.me, press.ctx);
    match parsed {
        Some(Callback::Generate(avatar_id)) => {
            press.answer().await?;
            super::free::generate(step, avatar_id).await?;
        }
        Some(Callback::Packages(avatar_id)) => {
            press.answer().await?;
            purchase::show_packages(step, avatar_id).await?;
        }
        Some(Callback::Redo(avatar_id)) => super::free::choose(press, avatar_id).await?,
        Some(Callback::RedoPortrait(portrait_id)) => super::free::redo(press, portrait_id).await?,
        Some(Callback::Tier { avatar_id, tier }) => {
            let tier = tier.clone();
            press.answer().await?;
            purchase::choose_tier(step, avatar_id, tier).await?;
        }
        Some(Callback::ShowGallery(avatar_id)) => super::gallery::show(press, avatar_id).await?,
        Some(Callback::RequestPayout) => super::referral::request_payout(press).await?,
        Some(Callback::CheckPayment(payment_id)) => {
            purchase::check_payment(press, payment_id).await?;
        }
        Some(Callback::ZipGallery(avatar_id)) => super::gallery::zip(press, avatar_id).await?,
        Some(Callback::ShareGallery(avatar_id)) => super::gallery::share(press, avatar_id).await?,
        Some(Callback::RevokeShare(avatar_id)) => super::gallery::revoke(press, avatar_id).await?,
        Some(Callback::StartOwn) => {
            press.answer().await?;
            onboard(step).await?;
        }
        Some(Callback::SetLanguage(lang)) => {
            let user_id = press.user_id();
            press
                .ctx
                .db
                .run(move |c| users::set_language(c, user_id, lang.code()))
                .await?;
            press.answer().await?;
            press.edit(tr(lang, "language-set")).await?;
        }
        Some(Callback::ResumeReminders) => super::stop::resume(press).await?,
        Some(
            admin @ (Callback::AdminRefund(_) | Callback::AdminCancel(_) | Callback::AdminKeep(_)),
        ) => super::admin::on_callback(press, admin).await?,
        Some(payout @ (Callback::AdminPayoutPaid(_) | Callback::AdminPayoutReject(_))) => {
            super::admin::on_payout_callback(press, payout).await?;
        }
        Some(privacy @ (Callback::DeleteData { .. } | Callback::KeepData(_))) => {
            super::privacy::on_callback(press, privacy).await?;
        }
        None => {
            tracing::info!(user_id = press.user_id(), "unknown or stale callback data");
            press.refuse().await?;
        }
    }
    Ok(())
}
