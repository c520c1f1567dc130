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
    /referral — invite friends
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
upload-counter-enough = Got { $photos } of { $max }. Send more or press “{ $button }”.
upload-counter-full = Got { $photos } — that is the maximum. Press “{ $button }”.
upload-button-generate = ✨ Create portraits
upload-duplicate = I already have this photo — skipping it.
upload-not-open = This set no longer takes photos. Press /start to begin a new one.
upload-rejected-too-many = You already have { $max } photos — the maximum. Press “{ $button }”.
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

## Preview, redo of a portrait, A/B variants of the button
ab-cta-see-yourself = 👀 See what I will look like
preview-started = 🎁 First, a free trial portrait, so you can see the quality before paying. It takes a couple of minutes; I will show it together with the packages. You can also choose a package right away.
preview-button-skip = Choose a package now
preview-caption = Your free trial portrait 🎁 It is smaller and watermarked — the portraits of a package come full-size and without the mark.
preview-failed = The trial portrait did not work out this time — sorry. It costs you nothing.
delivery-actions = What next? You can download all portraits as one archive, share them by a link, or redo one you do not like for free.
redo-button = 🔄 Redo a portrait
redo-number-button = #{ $number }
redo-choose = Which portrait should I redo? The numbers follow the albums above. Free redos left: { $left }.
redo-started = Redoing portrait #{ $number }: a new take in the same style arrives here in a couple of minutes. Free redos left after this: { $left }.
redo-running = A portrait is being redone already — wait for it, then you can pick the next one.
redo-quota-used = The free redos of this set are used up ({ $quota } in all). New portraits come with a new set: /start.
redo-caption = A new take ✨ It is portrait #{ $number } in your gallery. Free redos left: { $left }.
redo-failed = Redoing the portrait did not work out — sorry. This attempt does not count; you can try again.
## Referral programme
cmd-referral = Invite friends
referral-title = 🎁 Invite friends and get { $percent }% of every payment they make.
referral-link = Your link: { $link }
referral-stats = Friends invited: { $brought }
    Earned: { $earned } (friends' payments: { $credits })
referral-reversed = Taken back for refunds to friends: { $amount }
referral-spent = Spent on discounts: { $amount }
referral-paid-out = Paid out: { $amount }
referral-requested = Payout requested: { $amount } — an admin will contact you.
referral-balance = Balance: { $amount }
referral-how-spend = Your balance becomes a discount on your next package by itself (at least 10 ₽ is left to pay).
referral-button-payout = 💸 Request a payout
referral-self = This is your own link — send it to your friends 🙂 Your link and balance: /referral
referral-not-new = Invitation links work only for new users, and you have used PinGlass before. Your own link for friends: /referral
referral-earned = +{ $amount } to your referral balance: a friend you invited paid for a package. Balance: { $balance }. More: /referral
referral-payout-requested = Payout request for { $amount } sent. An admin will contact you here in Telegram.
referral-payout-open = You have already requested a payout of { $amount } — an admin will contact you.
referral-payout-nothing = There is nothing to pay out yet.
referral-payout-admin = 💸 Payout request #{ $id }: { $amount }
    User { $user_id } ({ $username }, { $name }). Contact them and transfer the money.
referral-no-username = no username
packages-discount = Your referral balance of { $balance } is already taken off these prices.
packages-price-discounted = { $price } instead of { $full }
payment-link-discount = A discount of { $discount } from your referral balance is applied (full price { $price }).
## Reminders and /stop
cmd-stop = Stop reminders
reminder-more-photos = You have started uploading photos for your portraits — { $photos } so far. Send { $more } more and the portraits can be made ✨
reminder-generate = Your { $photos } are here — just press “Create portraits” and choose a package. The portraits arrive here in a few minutes ✨
reminder-payment-ended = Your last payment did not go through, and nothing was charged. Your photos are kept — you can choose a package again.
reminder-payment-open = Your payment link still works: the { $tier } package, { $portraits } for { $amount }. Once you pay, the portraits arrive here in a few minutes.
reminder-footer-first = Rather not get reminders? Send /stop.
reminder-footer-last = This is the last reminder — I will not bother you again.
stop-done = Done: no more reminders. Payment messages and your finished portraits will still arrive as usual. Changed your mind? Press the button below.
stop-button-resume = 🔔 Send reminders again
stop-resumed = Reminders are on again 🔔 To turn them off: /stop.
## Gallery: ZIP download and share link
gallery-actions = What else would you like to do with this set?
gallery-button-zip = 📦 Download as ZIP
gallery-button-share = 🔗 Link for friends
gallery-button-revoke = 🚫 Turn the link off
gallery-button-make-own = ✨ Make my own portraits
gallery-zip-preparing = Packing the archive — it will arrive here in a minute.
gallery-zip-already = The archive is already being packed — it will arrive here.
gallery-zip-caption = 📦 { $portraits } in full size
gallery-zip-part-caption = 📦 Part { $part } of { $parts }: { $portraits } do not fit in one Telegram file.
gallery-zip-failed = Packing the archive of your portraits did not work — we are looking into it. The portraits themselves can always be sent again with /gallery.
gallery-share-link = The link to this set:
    { $link }

    Whoever opens it sees only these portraits — not your name, not your other sets. You can turn the link off at any time.
gallery-revoked = The link is off: whoever opens it now is told the set was removed. You can make a new link in /gallery.
gallery-revoked-toast = The link is off
gallery-revoked-already = This link is already off
gallery-shared-caption = Portraits made with PinGlass ✨
gallery-shared-invite = Would you like some like these — with your own face? Send a few photos of yourself, and PinGlass will make AI portraits in many styles.
gallery-shared-revoked = The owner has removed this set of portraits, so the link no longer works. But you can make your own!
