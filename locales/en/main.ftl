# PinGlass — English strings. Every key here is also in ru/main.ftl (a test checks it).

## Commands (Telegram menu)
cmd-start = Start over
cmd-help = How it works
cmd-language = Change language

## Common
portraits = { $count ->
    [one] { $count } portrait
   *[other] { $count } portraits
}
photos = { $count ->
    [one] { $count } photo
   *[other] { $count } photos
}
price-rub = { $rub } ₽

## Onboarding
start-welcome =
    Hi, { $name }! I am PinGlass 📸
    Send me { $min }–{ $max } photos of yourself and I will turn them into AI portraits in different styles — with your face.
start-tips =
    Photos that work best:
    • your face clearly visible, no sunglasses;
    • different angles, expressions and backgrounds;
    • only you in the picture — no group photos.
start-prices = Packages: { $tiers }. Pay by card through T-Bank; the portraits arrive right here in the chat within minutes.
start-tier-line = { $name } — { $portraits } for { $price }
start-send-photos = Send your first photos — an album is fine 👇
start-referral-welcome = A friend invited you — welcome!

## Help and language
help =
    How it works:
    1. Send { $min }–{ $max } photos of yourself (as an album or as files is fine).
    2. Pick a package and pay.
    3. In a few minutes the portraits arrive in this chat.

    Commands:
    /start — start over
    /language — change language
    /help — this help
language-choose = Choose your language:
language-set = Done, I will speak English now.
language-button-ru = 🇷🇺 Русский
language-button-en = 🇬🇧 English

## Unexpected input
unknown-command = I do not know that command. See /help for the list.
unexpected-text = I am waiting for photos. Send { $min }–{ $max } photos of yourself — or see /help.
unexpected-sticker = Nice sticker, but I need photos 🙂 Please send photos of yourself.
unexpected-media = I cannot use this. Please send a photo (JPG, PNG, WEBP or HEIC).
unexpected-button = This button no longer works. Press /start to go on.
group-chat = I only work in a private chat — write to me directly.

## Shared gallery
gallery-not-found = This gallery is not available: the link was revoked or is wrong. But you can make portraits of your own!
