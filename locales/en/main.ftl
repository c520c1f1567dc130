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
upload-rejected-heif-unsupported = I cannot open HEIC files. Please send this picture as a photo, not as a file: Telegram converts it to JPEG for me.
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
contact-email-too-long = This address is longer than 64 characters — the bank cannot send a receipt to it. Send a shorter address, or share your phone number with the button below.
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
payment-canceled-returned = Your payment arrived just as the bill was being closed, so the bank returned it in full — the money reaches your card within a few days. If you still want the portraits, choose a package again.
payment-init-failed = The bank could not create the payment. No money was taken. Please try again a little later.
payment-auth-failed = The bank did not confirm the payment: the 3-D Secure check failed. No money was taken. You can try again, or pay with another card.
payment-attempts-expired = The tries to pay this bill ran out, and the bank closed it. No money was taken. You can create a new bill and pay with another card.
payment-switching = You chose another package — { $tier }. First I am cancelling the earlier bill of { $amount } ({ $old_tier } package) at the bank, so that there are never two payments; then the new link follows.
payment-switched = The earlier bill of { $amount } ({ $old_tier } package) is cancelled; nothing was charged for it. Creating the link for the { $tier } package…
payment-switched-returned = The earlier bill of { $amount } ({ $old_tier } package) was paid at the last moment, so the bank returned that money in full — it reaches your card within a few days. Creating the link for the { $tier } package…
payment-switch-paid = The earlier bill of { $amount } ({ $old_tier } package) has already been paid — its portraits are being made. The new package was not ordered; there is nothing more to pay.
payment-switch-failed = The bank did not cancel the earlier bill of { $amount } ({ $old_tier } package) — it is still valid. You can pay it with the link above or choose a package later; I have told the admins.

## Generation and delivery
generation-progress = Creating your portraits: { $done } of { $total } ready…
delivery-caption = { $count ->
    [one] ✨ Your { $count } AI portrait is ready!
   *[other] ✨ Your { $count } AI portraits are ready!
}
delivery-partial-refund = Could not be made: { $missing }. We are refunding { $amount } for that — the money reaches your card within a few days.
delivery-partial-already-refunded = Could not be made: { $missing }. This payment has already been refunded, so nothing more is charged or returned.
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
admin-cmd-payouts = Payout requests
admin-payouts-none = No open payout requests.
admin-payouts-header = 💸 Open payout requests ({ $count }), oldest first. Pay out outside the bot and mark it here — the user gets a message.
admin-payouts-line = #{ $id } · user { $user } · { $amount } · waiting { $days } d
admin-payout-button-paid = ✅ #{ $id } paid
admin-payout-button-reject = ✖️ #{ $id } reject
admin-payout-paid = Request #{ $id } marked as paid: { $amount } to user { $user }. The user gets a message.
admin-payout-rejected = Request #{ $id } rejected: { $amount } is back on user { $user }'s balance. The user gets a message.
admin-payout-already = Request #{ $id } is already decided (status { $status }); nothing changed.
admin-payout-not-found = There is no payout request #{ $id }.
referral-payout-paid = 💸 Your referral payout of { $amount } has been sent. Thank you for recommending PinGlass!
referral-payout-rejected = Your payout request of { $amount } was rejected by an admin; the amount is back on your balance — spend it on your next package or ask again (/referral).
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
gallery-shared-limit-viewer = You've already opened this set today — it's above in the chat. You can open it again tomorrow.
gallery-shared-limit-set = This set has been opened very many times today. Please try again tomorrow.

## Admin commands (only the ids in [bot] admin_ids see and use them)
admin-cmd-stats = Admin: users, payments, revenue
admin-cmd-funnel = Admin: funnel [days], with a chart
admin-cmd-revenue = Admin: revenue [days] by tier and day
admin-cmd-users = Admin: last users [n] and where they stopped
admin-cmd-user = Admin: one user <telegram id>
admin-cmd-pending = Admin: open payments
admin-cmd-jobs = Admin: recent generation jobs
admin-cmd-refund = Admin: refund a payment <id>
admin-cmd-cancel = Admin: cancel an unpaid payment <id>
admin-cmd-credits = Admin: Kie balance
admin-usage = Usage: { $usage }
admin-unit-d = d
admin-unit-h = h
admin-unit-min = min
admin-unit-s = s
admin-stage-onboarding = Start
admin-stage-upload = Upload
admin-stage-payment = Payment
admin-stage-generation = Generation
admin-stage-delivered = Delivered
admin-stage-none = —
admin-stats-title = 📊 Stats
admin-period-day = Last 24 h
admin-period-week = Last 7 days
admin-period-all = All time
admin-stats-period = { $period }:
    new users { $users }, of them paid { $converted } (conversion { $conversion })
    paying users { $paying }, payments { $payments }, revenue { $revenue } (less refunds)
    sets made { $sets }, portraits { $portraits }
admin-funnel-title = 🔻 Funnel, last { $days } days (users):
admin-funnel-empty = Nobody reached any stage in these days.
admin-funnel-stage = { $stage }: { $users } · { $share } of start · { $step } of the previous step
admin-funnel-times = Time in each stage (until the next one):
admin-funnel-time = { $stage }: average { $avg }, median { $median } ({ $users } users)
admin-funnel-time-none = { $stage }: nobody went on yet
admin-funnel-all = all users
admin-funnel-experiment = A/B test «{ $experiment }» (start → upload → payment → generation → delivered):
admin-funnel-variant = { $variant }: { $steps } · paid { $conversion }
admin-funnel-chart = Funnel, last { $days } days
admin-revenue-title = 💰 Revenue, last { $days } days: { $net } net ({ $gross } paid, { $refunded } refunded), { $payments } payments
admin-revenue-empty = No payments in these days.
admin-revenue-by-tier = By package:
admin-revenue-tier = { $tier }: { $payments } × · { $gross } · refunded { $refunded }
admin-revenue-by-day = By day (UTC):
admin-revenue-day = { $day }: { $payments } × · { $net }
admin-revenue-chart = Net revenue per day (₽), last { $days } days
admin-revenue-net = net revenue, ₽
admin-users-title = 👥 Last { $count } users (newest first):
admin-users-line = { $id } { $name } · since { $created } · reached: { $stage } · photos { $photos } · last payment { $payment }
admin-user-not-found = No user with id { $id }.
admin-user-about = language { $language } · A/B { $variants } · referral code { $code } · invited by { $referrer } · invited { $referred } · earned { $earned }
admin-user-avatars = Avatars:
admin-avatar-line = #{ $id } { $status } · package { $tier } · photos { $photos } · { $created }
admin-user-payments = Payments:
admin-user-jobs = Jobs:
admin-payment-line = #{ $id } user { $user } · { $tier } { $amount } · { $status } (bank: { $bank }) · age { $age } · refunded { $refunded }
admin-job-line = #{ $id } user { $user } · { $kind } · { $status } · made { $completed }/{ $total }, failed { $failed } · Kie attempts { $attempts } (retried tasks { $retried }) · took { $took }
admin-job-error = last error: { $error }
admin-job-running = still running
admin-pending-empty = No open payments.
admin-pending-title = ⏳ Open payments ({ $count }), oldest first:
admin-pending-stuck = stuck, admins alerted
admin-jobs-empty = No generation jobs yet.
admin-jobs-title = ⚙️ Last { $count } jobs:
admin-payment-not-found = No payment with id { $id }.
admin-refund-impossible = Payment #{ $id } cannot be refunded: its status is { $status } (only paid payments are refunded; an unpaid one is cancelled with /cancel).
admin-refund-nothing-left = Payment #{ $id } has nothing left to refund (refunded, or a refund is on its way).
admin-cancel-impossible = Payment #{ $id } cannot be cancelled: its status is { $status } (only open, unpaid payments are; a paid one is refunded with /refund).
admin-refund-confirm = Refund payment #{ $id } in full? { $amount } goes back to user { $user } (package { $tier }) through T-Bank.
admin-cancel-confirm = Cancel unpaid payment #{ $id } of user { $user } (package { $tier }, { $amount })? Its link stops working; the user is told and can choose a package again.
admin-button-refund = ✅ Yes, refund
admin-button-cancel = ✅ Yes, cancel
admin-button-keep = ✖️ No, leave it
admin-kept = Payment #{ $id } left as it is.
admin-refund-requested = Refund of payment #{ $id } is asked of T-Bank now; I will report when it is done.
admin-cancel-requested = Cancellation of payment #{ $id } is asked of T-Bank now; I will report when it is done.
admin-already-requested = Payment #{ $id }: a refund or cancellation is already on its way, or no longer possible.
admin-refund-done = ✅ Payment #{ $payment }: { $amount } refunded (T-Bank: { $status }).
admin-cancel-done = ✅ Payment #{ $payment } of user { $user } ({ $amount }) cancelled (T-Bank: { $status }); the user was told.
admin-stuck-canceled = ✅ Payment #{ $payment } of user { $user } ({ $amount }) stayed unpaid too long and was cancelled (T-Bank: { $status }); the user was told and can pay again.
admin-cancel-not-needed = Payment #{ $payment } was not cancelled: { $why }.
admin-credits-known = Last known Kie balance: { $credits } credits ({ $at } UTC). Asking Kie for the current one…
admin-credits-unknown = No Kie balance known yet. Asking Kie…
admin-credits-now = Kie balance now: { $credits } credits.
admin-credits-failed = Kie did not tell the balance: { $error }
payment-stuck-canceled = The payment was not completed in two days, so I closed the bill. No money was taken. If you still want the portraits, choose a package again.
admin-cmd-retry = Admin: make the failed portraits of a set again <job id>
admin-syntax-funnel = /funnel [days 1–3650]
admin-syntax-revenue = /revenue [days 1–3650]
admin-syntax-users = /users [count 1–50]
admin-syntax-user = /user <telegram id>
admin-syntax-jobs = /jobs [count 1–50]
admin-syntax-refund = /refund <payment id>
admin-syntax-cancel = /cancel <payment id>
admin-syntax-retry = /retry <job id>
admin-job-not-found = No job with id { $id }.
admin-retry-started = Job #{ $id }: the failed portraits ({ $tasks }) are queued again; what comes is sent to the user, and I will report.
admin-retry-refunded = ⚠️ This payment has already returned { $amount } (including the share of these portraits): what the retry makes, the user gets for free.
admin-retry-impossible = Job #{ $id } cannot be retried: { $kind }, { $status }, failed { $failed } (only a finished paid set with failed portraits can).
admin-retry-done = ✅ Retry of job #{ $id }: { $made } more portraits made and sent, { $failed } failed again.
retry-caption = { $count ->
    [one] ✨ One more portrait of your set — it could not be made the first time.
   *[other] ✨ { $count } more portraits of your set — they could not be made the first time.
}

# Hostile inputs (tests/hostile.rs)
contact-not-own = That is someone else's contact. The receipt can only go to your own number: press «📱 Share phone number» or type an email.

# Privacy: policy before paying, /terms, /delete_my_data, retention (issue 8)
cmd-terms = Terms: refunds and data
cmd-delete-my-data = Delete my data
packages-policy =
    🛡 If some portraits cannot be made, their share of the price goes back to your card by itself.
    🔄 Free redos after delivery: { $quotas }. Details: /terms
terms =
    📄 PinGlass terms

    💳 Payment. A package is paid for before the portraits are made, through T-Bank; the receipt goes to the email or phone you gave. An unpaid link works for { $deadline } h.

    🛡 If portraits fail. Each portrait of a package is an equal share of the price. If some cannot be made, the bot itself returns their share to your card (a partial cancellation of the T-Bank payment) and tells you; if none can be made, the whole amount comes back. You do not need to ask.

    🔄 Free redos. After delivery you can have single portraits made again in the same style for free: one redo per { $per_free } portraits of the package, at least one ({ $quotas }). A redo that fails does not count. Redos are possible while the original photos are kept.

    🗂 Retention. Your original photos are only needed to make the portraits: { $days } days after a set is delivered, the bot deletes them from the store and the database by itself. Photos of a set you have not paid for are kept until you pay for it or delete your data. Portraits are kept until you delete them, so that /gallery, the archive and share links work.

    🗑 Deletion. /delete_my_data deletes everything at once: original photos, portraits, galleries and their share links, the dialogue history, your name and the receipt contact. While portraits are being made, a payment is open or a refund is on its way, the deletion waits, so no money is lost. The bot cannot delete the messages in this Telegram chat; you can delete them in Telegram.

    📒 What is kept for accounting. Records of payments and refunds (package, amount, date, status) with your numeric Telegram id, without name or contact. Referral earnings and payouts are kept too.
delivery-retention = 🗂 Your original photos are kept for { $days } days and then deleted automatically; the portraits stay in /gallery until you delete them (/delete_my_data).
redo-photos-expired = The original photos of this set have been deleted (we keep them for { $days } days after delivery), so a portrait can no longer be redone. New portraits come with a new set: /start.
gallery-shared-deleted = The owner has deleted these portraits together with their data, so the link no longer works. But you can make your own!
privacy-confirm =
    Delete all your data? This deletes your original photos, all portraits and galleries (their share links stop working), the dialogue history, your name and the receipt contact, from the store and the database.
    Only the records of payments and refunds remain, without name or contact: accounting needs them. A deletion cannot be undone.
privacy-button-confirm = 🗑 Yes, delete everything
privacy-button-cancel = Cancel
privacy-kept = All right, nothing is deleted.
privacy-deleting = Deleting your data… I will write when everything is gone.
privacy-deleting-now = Deleting your data; I will write when it is done (usually a few seconds).
privacy-deleted = ✅ Done: your photos, portraits, galleries, dialogue history, name and receipt contact are deleted. Payment records are kept for accounting only, without name or contact. The bot cannot delete the messages in this chat; you can delete them in Telegram. To start again, press /start.
privacy-button-stale = This button is out of date. To delete your data, send /delete_my_data again.
privacy-already-deleting = Your data is already being deleted; I will write when it is done.
privacy-busy-payment = You have an open payment. So that no money is lost, your data can be deleted after it: pay (and wait for the portraits) or let the link expire ({ $hours } h after it was made). Then send /delete_my_data again.
privacy-busy-generating = Your portraits are being made right now. Your data can be deleted once they arrive; then send /delete_my_data again. If some cannot be made, their share goes back to your card automatically.
privacy-busy-refund = A refund to your card is on its way. Wait for the message about it and send /delete_my_data again.
privacy-busy-payout = Your referral payout request has not been handled yet. Your data can be deleted after the payout; then send /delete_my_data again.
admin-retry-no-photos = Generation #{ $id } cannot be retried: the original photos of this set are deleted (retention or /delete_my_data).
# Face-quality gate at upload (issue 8, src/media/quality.rs, src/bot/upload.rs)
upload-rejected-no-face = I cannot find a face in this photo. I need photos where your face is clearly visible and looking at the camera — no sunglasses or masks. This photo was not counted.
upload-rejected-several-faces = There are several people in this photo; I need photos of you alone, or I cannot tell whose face to draw. This photo was not counted.
upload-rejected-face-too-small = The face in this photo is too small. Please send a photo taken closer: your face should fill a good part of the frame. This photo was not counted.
upload-rejected-blurred = This photo is blurred — the features of the face are hard to see. Please send a sharp photo. This photo was not counted.
upload-rejected-too-dark = This photo is too dark — the face is barely visible. Please send a photo in good light. This photo was not counted.
upload-rejected-too-bright = This photo is too bright — the face is washed out. Please send a photo without a harsh flash or direct sun. This photo was not counted.
upload-similar-photos = 💡 All your photos look very much alike: the same angle, the same background. Portraits come out closer to you with variety — three-quarter views, other expressions, different light, different backgrounds. You can also go on with these.
# Fault recovery (issue 7): a handler's answer lost to a Telegram 5xx
telegram-hiccup = Telegram lost my answer. Please repeat your last step.
# Admin alerts (src/worker/alerts.rs): one per incident, in each admin's language
alert = ⚠️ { $message }
alert-summary = 🔁 Still happening: { $count ->
    [one] { $count } time
   *[other] { $count } times
} since { $since }. { $message }
alert-delivery-failures = Delivery failures are piling up: { $failed } messages given up within the last hour (limit { $limit }). Check the bot's log for the Telegram errors.
alert-behind = The side task is falling behind: the oldest { $queue } has been due for { $minutes } min (limit { $limit } s).
alert-queue-payment-check = payment check
alert-queue-generation-task = generation task
alert-queue-message = queued message
alert-queue-refund = refund
alert-error-rate = Error rate above the limit: { $count } errors (handlers and side-task steps) within the last minute or so, { $rate }/min (limit { $limit }/min). See the log.
alert-refund-slow = Refund { $refund } of payment { $payment } ({ $amount }) is still not confirmed by T-Bank after { $attempts ->
    [one] { $attempts } attempt
   *[other] { $attempts } attempts
}: { $error }. The bot keeps asking.
alert-refund-refused = Refund { $refund } of payment { $payment } ({ $amount }) was refused by T-Bank: { $error }. Refund it by hand.
alert-kie-refused = Kie AI refuses new tasks: { $error }. Task creation is paused; the queue is kept.
alert-job-short = Job { $job } of user { $user } came short: { $made } of { $total } portraits made, { $amount } to refund.
alert-job-failed = Job { $job } of user { $user } failed: { $made } of { $total } portraits made, { $amount } to refund.
alert-init-failed = T-Bank Init failed for payment { $payment } (order { $order }): { $error }
alert-delivery-failed = Delivery { $message } to chat { $chat } failed after { $attempts ->
    [one] { $attempts } attempt
   *[other] { $attempts } attempts
}: { $error }
alert-stuck-payment = Payment { $payment } (user { $user }, { $tier }, { $amount }) has been open for { $hours } h; T-Bank status { $status }. It is cancelled automatically when { $cancel_hours } h old.
alert-cancel-refused = T-Bank refused to cancel payment { $payment } (order { $order }): { $error }. The payment stays open; cancel it in the T-Bank cabinet.
alert-bank-mismatch = T-Bank shows payment { $payment } (order { $order }) as { $bank }, holding { $held }; the bot has it as “{ $ours }”, { $refunded } refunded. Check the payment in the T-Bank cabinet.
alert-other-terminal = Payment { $payment } (order { $order }) was made at another T-Bank terminal (or a stand-in) than the one configured now: the bot does not poll, confirm or cancel it. Check it where it was made.
admin-cancel-why-not-open = the payment is no longer open (status { $status })
admin-cancel-why-paid = the user paid at the bank meanwhile ({ $status })
# Flood guard (issue 15, src/bot/flood.rs): one notice for a chat that sent very many messages at once
flood-slow-down = That's a lot of messages at once — I won't answer each one. I'll still count your photos (up to { $max }) and skip the rest. Wait a moment and write again if you need something.
