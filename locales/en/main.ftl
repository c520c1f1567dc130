# PinGlass — English strings. Every key here is also in ru/main.ftl (a test checks it).

## Commands (Telegram menu)
cmd-start = Start over
cmd-gallery = My portraits
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
start-prices =
    Packages:
    { $tiers }

    Pay by card through T-Bank; the portraits arrive right here in the chat within minutes.
start-tier-line = • { $name } — { $portraits } for { $price }
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
    /gallery — my portraits
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
error-try-again = Something went wrong on our side — nothing is lost. Please try again in a minute.
group-chat = I only work in a private chat — write to me directly.

## Shared gallery
gallery-not-found = This gallery is not available: the link was revoked or is wrong. But you can make portraits of your own!
start-first = Press /start and we will begin.

## Photo upload
upload-counter-more = Got { $photos }. { $min }–{ $max } are needed — send more.
upload-counter-enough = Got { $photos } of { $max }. Send more or press “Create portraits”.
upload-counter-full = Got { $photos } — that is the maximum. Press “Create portraits”.
upload-button-generate = ✨ Create portraits
upload-duplicate = I already have this photo — skipping it.
upload-not-open = This set no longer takes photos. Press /start to begin a new one.
upload-rejected-too-many = You already have { $max } photos — the maximum. Press “Create portraits”.
upload-rejected-empty = The file is empty. Please send a photo.
upload-rejected-too-large = The file is too large (over 20 MB). Please send a smaller photo.
upload-rejected-not-image = This is not a photo. Please send a JPG, PNG, WEBP or HEIC image.
upload-rejected-too-many-pixels = This image is far too large in pixels. Please send a regular photo.
upload-rejected-undecodable = I cannot open this image — the file may be damaged. Please send another photo.
upload-rejected-too-small = The photo is too small ({ $width }×{ $height }). It needs at least { $min } pixels on the short side.
upload-rejected-video = Videos will not work — I need photos.

## Packages and payment
packages-title = Choose a package:
packages-line = • { $name } — { $portraits } in { $styles } different styles, { $price } ({ $per_portrait } a portrait)
packages-button = { $name } · { $portraits } · { $price }
packages-need-photos = Only { $count } photos so far; at least { $min } are needed. Send more.
packages-not-draft = Payment for this set has started or its portraits are made. Press /start to begin a new one.
contact-ask = Where should the receipt go? Press the button to share your phone number, or type your email.
contact-button-phone = 📱 Share phone number
contact-invalid = That does not look like an email. Type an address like name@example.com or press “Share phone number”.
contact-saved = Thank you, the receipt will go there.
payment-creating = Creating your payment link…
payment-description = PinGlass: { $tier } package, AI portraits: { $portraits }
payment-link = Your bill: { $amount } — { $tier } package, { $portraits }. Press “Pay”, and after paying press “I have paid”.
payment-button-pay = 💳 Pay
payment-button-paid = ✅ I have paid
payment-button-retry = Choose a package again
payment-already-open = Your payment is already created — here is the link. No second bill is needed.
payment-link-coming = The payment link is being created — it will arrive here in a few seconds.
payment-status-paid = Payment received — your portraits are being made or have arrived above. Press /start to make a new set.
payment-status-ended = This bill is closed and nothing was charged for it. You can choose a package again.
payment-checking = Checking your payment…
payment-already-paid = Payment already received 👍
payment-closed = This bill is closed.
payment-confirmed = Payment received, thank you! Creating { $portraits } now — it takes a few minutes, I will write when they are ready.
payment-rejected = The bank declined the payment. No money was taken. You can try again.
payment-expired = The payment link expired. No money was taken. You can create a new one.
payment-canceled = The payment was canceled. No money was taken.
payment-init-failed = The bank could not create the payment. No money was taken. Please try again a little later.

## Generation and delivery
generation-progress = Creating your portraits: { $done } of { $total } ready…
delivery-caption = { $count ->
    [one] ✨ Your { $count } AI portrait is ready!
   *[other] ✨ Your { $count } AI portraits are ready!
}
delivery-partial-refund = Could not be made: { $missing }. We are refunding { $amount } for that — the money reaches your card within a few days.
delivery-some-failed = Some portraits could not be made.
refund-done = Refund of { $amount } is on its way.

## Gallery
gallery-empty = No portraits are ready yet. Send your photos and we will make the first ones!
gallery-title = Your sets of portraits — which one should I send again?
gallery-button-show = Set { $number } · { $portraits }
gallery-caption = Your portraits ✨
gallery-sending = Sending your portraits…
