# PinGlass — русские строки. Каждый ключ есть и в en/main.ftl (это проверяет тест).

## Команды (меню Telegram)
cmd-start = Начать заново
cmd-gallery = Мои портреты
cmd-help = Как это работает
cmd-language = Сменить язык

## Общее
portraits = { $count ->
    [one] { $count } портрет
    [few] { $count } портрета
   *[many] { $count } портретов
}
photos = { $count ->
    [one] { $count } фото
    [few] { $count } фото
   *[many] { $count } фото
}
price-rub = { $rub } ₽

## Знакомство
start-welcome =
    Привет, { $name }! Я PinGlass 📸
    Пришлите мне { $min }–{ $max } своих фото, и я сделаю из них AI-портреты в разных стилях — с вашим лицом.
start-tips =
    Какие фото подойдут лучше всего:
    • лицо хорошо видно, без солнечных очков;
    • разные ракурсы, выражения и фон;
    • на фото только вы — без групповых снимков.
start-prices =
    Пакеты:
    { $tiers }

    Оплата картой через Т-Банк, портреты придут сюда же, в чат, через несколько минут.
start-tier-line = • { $name } — { $portraits } за { $price }
start-send-photos = Отправьте первые фото — можно сразу альбомом 👇
start-referral-welcome = Вас пригласил друг — добро пожаловать!

## Помощь и язык
help =
    Как это работает:
    1. Пришлите { $min }–{ $max } своих фото (можно альбомом или файлами).
    2. Выберите пакет и оплатите.
    3. Через несколько минут портреты придут в этот чат.

    Команды:
    /start — начать заново
    /gallery — мои портреты
    /referral — пригласить друзей
    /language — сменить язык
    /help — эта подсказка
language-choose = Выберите язык:
language-set = Готово, теперь я говорю по-русски.
language-button-ru = 🇷🇺 Русский
language-button-en = 🇬🇧 English

## Непонятный ввод
unknown-command = Я не знаю такой команды. Список команд — /help.
unexpected-text = Я пока жду фото. Пришлите { $min }–{ $max } своих фото — или нажмите /help.
unexpected-sticker = Стикеры красивые, но мне нужны фото 🙂 Пришлите, пожалуйста, свои фотографии.
unexpected-media = Это я не смогу обработать. Пришлите, пожалуйста, фото (JPG, PNG, WEBP или HEIC).
unexpected-button = Эта кнопка уже не работает. Нажмите /start, чтобы продолжить.
error-try-again = Что-то пошло не так на нашей стороне — ничего не потеряно. Попробуйте, пожалуйста, ещё раз через минуту.
group-chat = Я работаю только в личном чате — напишите мне напрямую.

## Галерея по ссылке
gallery-not-found = Эта галерея недоступна: ссылка отозвана или неверна. Но вы можете сделать свои портреты!
start-first = Нажмите /start — и начнём.

## Загрузка фото
upload-counter-more = Принято: { $photos }. Нужно { $min }–{ $max } — пришлите ещё.
upload-counter-enough = Принято: { $photos } из { $max }. Можно прислать ещё или нажать «{ $button }».
upload-counter-full = Принято: { $photos } — это максимум. Нажмите «{ $button }».
upload-button-generate = ✨ Создать портреты
upload-duplicate = Это фото уже есть — пропускаю.
upload-not-open = Фото для этого набора уже не принимаются. Чтобы начать новый, нажмите /start.
upload-rejected-too-many = Уже { $max } фото — это максимум. Нажмите «{ $button }».
upload-rejected-empty = Файл пустой. Пришлите, пожалуйста, фото.
upload-rejected-too-large = Файл слишком большой (больше 20 МБ). Пришлите фото поменьше.
upload-rejected-not-image = Это не фото. Пришлите изображение JPG, PNG, WEBP или HEIC.
upload-rejected-too-many-pixels = Изображение слишком огромное по размеру в пикселях. Пришлите обычное фото.
upload-rejected-undecodable = Не получается открыть это изображение — возможно, файл повреждён. Пришлите другое фото.
upload-rejected-heif-unsupported = Файлы HEIC я открыть не могу. Отправьте этот снимок как фото, а не как файл: Telegram сам переведёт его в JPEG.
upload-rejected-too-small = Фото слишком маленькое ({ $width }×{ $height }). Нужно хотя бы { $min } пикселей по короткой стороне.
upload-rejected-video = Видео не подойдёт — нужны фото.

## Пакеты и оплата
packages-title = Выберите пакет:
packages-line = • { $name } — { $portraits } в { $styles } разных стилях, { $price } ({ $per_portrait } за портрет)
packages-button = { $name } · { $portraits } · { $price }
packages-need-photos = Пока только { $count } фото, а нужно хотя бы { $min }. Пришлите ещё.
packages-not-draft = Для этого набора фото оплата уже начата или портреты уже созданы. Чтобы начать новый, нажмите /start.
contact-ask = Куда прислать чек об оплате? Нажмите кнопку, чтобы поделиться номером телефона, или напишите email.
contact-button-phone = 📱 Поделиться номером
contact-invalid = Не похоже на email. Напишите адрес вида name@example.ru или нажмите кнопку «Поделиться номером».
contact-saved = Спасибо, чек придёт туда.
payment-creating = Создаю ссылку на оплату…
payment-description = PinGlass: пакет { $tier }, AI-портретов: { $portraits }
payment-link = Счёт на { $amount } — пакет { $tier }, { $portraits }. Нажмите «Оплатить», а после оплаты — «Я оплатил».
payment-button-pay = 💳 Оплатить
payment-button-paid = ✅ Я оплатил
payment-button-retry = Выбрать пакет снова
payment-already-open = Оплата уже создана — вот ссылка. Второй счёт не нужен.
payment-link-coming = Ссылка на оплату уже создаётся — она придёт сюда через несколько секунд.
payment-status-paid = Оплата получена — портреты создаются или уже пришли выше. Чтобы сделать новый набор, нажмите /start.
payment-status-ended = Этот счёт закрыт, деньги по нему не списаны. Можно выбрать пакет снова.
payment-checking = Проверяю оплату…
payment-already-paid = Оплата уже получена 👍
payment-closed = Этот счёт уже закрыт.
payment-confirmed = Оплата получена, спасибо! Начинаю создавать { $portraits } — это займёт несколько минут, я напишу, как будет готово.
payment-rejected = Банк отклонил оплату. Деньги не списаны. Можно попробовать ещё раз.
payment-expired = Срок ссылки на оплату истёк. Деньги не списаны. Можно создать новую.
payment-canceled = Оплата отменена. Деньги не списаны.
payment-init-failed = Не удалось создать оплату в банке. Деньги не списаны. Попробуйте ещё раз чуть позже.
payment-auth-failed = Банк не подтвердил оплату: проверка 3-D Secure не пройдена. Деньги не списаны. Можно попробовать ещё раз или оплатить другой картой.
payment-attempts-expired = Попытки оплаты по этому счёту исчерпаны, и банк его закрыл. Деньги не списаны. Можно создать новый счёт и оплатить другой картой.
payment-switching = Вы выбрали другой пакет — { $tier }. Сначала отменяю в банке прежний счёт на { $amount } (пакет { $old_tier }), чтобы не было двух оплат; затем пришлю новую ссылку.
payment-switched = Прежний счёт на { $amount } (пакет { $old_tier }) отменён, деньги по нему не списаны. Создаю ссылку на пакет { $tier }…
payment-switch-paid = Прежний счёт на { $amount } (пакет { $old_tier }) уже оплачен — портреты по нему создаются. Новый пакет не оформлен, второй раз платить не нужно.
payment-switch-failed = Банк не отменил прежний счёт на { $amount } (пакет { $old_tier }) — он остаётся в силе. Можно оплатить его по ссылке выше или выбрать пакет позже; я сообщил администратору.

## Генерация и доставка
generation-progress = Создаю портреты: готово { $done } из { $total }…
delivery-caption = { $count ->
    [one] ✨ Ваш { $count } AI-портрет готов!
    [few] ✨ Ваши { $count } AI-портрета готовы!
   *[many] ✨ Ваши { $count } AI-портретов готовы!
}
delivery-partial-refund = Создать не получилось: { $missing }. Возвращаем за это { $amount } — деньги придут на карту в течение нескольких дней.
delivery-some-failed = Часть портретов создать не получилось.
refund-done = Возврат { $amount } оформлен.

## Галерея
gallery-empty = Готовых портретов пока нет. Пришлите фото — и создадим первые!
gallery-title = Ваши наборы портретов — какой прислать снова?
gallery-button-show = Набор { $number } · { $portraits }
gallery-caption = Ваши портреты ✨
gallery-sending = Отправляю портреты…

## Пробный портрет, переделка портрета, A/B-варианты кнопки
ab-cta-see-yourself = 👀 Посмотреть, что получится
preview-started = 🎁 Сначала — бесплатный пробный портрет, чтобы вы увидели качество до оплаты. Это займёт пару минут, покажу его вместе с пакетами. Можно не ждать и выбрать пакет сразу.
preview-button-skip = Выбрать пакет сейчас
preview-caption = Ваш бесплатный пробный портрет 🎁 Он уменьшен и с водяным знаком — портреты из пакета будут в полном размере и без знака.
preview-failed = Пробный портрет сейчас не получился — извините. Денег за него мы не берём.
delivery-actions = Что дальше? Можно скачать все портреты одним архивом, поделиться ими по ссылке, а если какой-то не понравился — бесплатно переделать.
redo-button = 🔄 Переделать портрет
redo-number-button = №{ $number }
redo-choose = Какой портрет переделать? Номера — как в альбомах выше. Бесплатных переделок осталось: { $left }.
redo-started = Переделываю портрет №{ $number }: новый вариант в том же стиле придёт сюда через пару минут. Бесплатных переделок останется: { $left }.
redo-running = Один портрет уже переделывается — дождитесь его, и можно будет выбрать следующий.
redo-quota-used = Бесплатные переделки для этого набора закончились (их было { $quota }). Новые портреты — в новом наборе: /start.
redo-caption = Новый вариант ✨ Это портрет №{ $number } в вашей галерее. Бесплатных переделок осталось: { $left }.
redo-failed = Переделать портрет не получилось — извините. Эта попытка не засчитана, можно попробовать ещё раз.
## Реферальная программа
cmd-referral = Пригласить друзей
referral-title = 🎁 Приглашайте друзей и получайте { $percent } % с каждой их оплаты.
referral-link = Ваша ссылка: { $link }
referral-stats = Приглашено друзей: { $brought }
    Начислено: { $earned } (оплат друзей: { $credits })
referral-reversed = Списано из-за возвратов денег друзьям: { $amount }
referral-spent = Потрачено на скидки: { $amount }
referral-paid-out = Выплачено: { $amount }
referral-requested = Запрошено к выплате: { $amount } — администратор свяжется с вами.
referral-balance = Баланс: { $amount }
referral-how-spend = Баланс сам станет скидкой на ваш следующий пакет (к оплате останется не меньше 10 ₽).
referral-button-payout = 💸 Запросить выплату
referral-self = Это ваша собственная ссылка — её нужно отправить друзьям 🙂 Ссылка и баланс: /referral
referral-not-new = Ссылки-приглашения действуют только для новых пользователей, а вы уже пользовались PinGlass. Своя ссылка для друзей: /referral
referral-earned = +{ $amount } на ваш реферальный баланс: приглашённый вами друг оплатил пакет. Баланс: { $balance }. Подробнее: /referral
referral-payout-requested = Запрос на выплату { $amount } отправлен. Администратор свяжется с вами здесь, в Telegram.
referral-payout-open = Вы уже запросили выплату { $amount } — администратор свяжется с вами.
referral-payout-nothing = На балансе пока нечего выплачивать.
referral-payout-admin = 💸 Запрос на выплату №{ $id }: { $amount }
    Пользователь { $user_id } ({ $username }, { $name }). Свяжитесь с ним и переведите деньги.
referral-no-username = без username
packages-discount = На вашем реферальном балансе { $balance } — он уже вычтен из цен.
packages-price-discounted = { $price } вместо { $full }
payment-link-discount = Скидка { $discount } с реферального баланса уже учтена (полная цена — { $price }).
## Напоминания и /stop
cmd-stop = Не присылать напоминания
reminder-more-photos = Вы начали загружать фото для портретов — уже { $photos }. Пришлите ещё { $more }, и можно будет создавать портреты ✨
reminder-generate = Ваши { $photos } на месте — осталось нажать «Создать портреты» и выбрать пакет. Портреты придут сюда через несколько минут ✨
reminder-payment-ended = В прошлый раз оплата не прошла, деньги не списаны. Ваши фото сохранены — можно выбрать пакет снова.
reminder-payment-open = Ссылка на оплату ещё действует: пакет { $tier }, { $portraits } за { $amount }. После оплаты портреты придут сюда через несколько минут.
reminder-footer-first = Не хотите напоминаний — отправьте /stop.
reminder-footer-last = Это последнее напоминание, больше не побеспокою.
stop-done = Готово: больше никаких напоминаний. Сообщения об оплате и готовые портреты будут приходить как обычно. Передумаете — нажмите кнопку ниже.
stop-button-resume = 🔔 Снова присылать напоминания
stop-resumed = Напоминания снова включены 🔔 Отключить — /stop.
## Галерея: ZIP-архив и ссылка для друзей
gallery-actions = Что ещё сделать с этим набором?
gallery-button-zip = 📦 Скачать ZIP-архив
gallery-button-share = 🔗 Ссылка для друзей
gallery-button-revoke = 🚫 Отключить ссылку
gallery-button-make-own = ✨ Сделать свои портреты
gallery-zip-preparing = Собираю архив — он придёт сюда через минуту.
gallery-zip-already = Архив уже собирается — он придёт сюда.
gallery-zip-caption = 📦 { $portraits } в полном размере
gallery-zip-part-caption = 📦 Часть { $part } из { $parts }: { $portraits } не помещаются в один файл Telegram.
gallery-zip-failed = Не получилось собрать архив с портретами — мы уже разбираемся. Сами портреты всегда можно прислать снова через /gallery.
gallery-share-link = Ссылка на этот набор:
    { $link }

    Кто её откроет, увидит только эти портреты — без вашего имени и других наборов. Отключить ссылку можно в любой момент.
gallery-revoked = Ссылка отключена: кто откроет её теперь, увидит, что набор убран. Новую ссылку можно сделать в /gallery.
gallery-revoked-toast = Ссылка отключена
gallery-revoked-already = Эта ссылка уже отключена
gallery-shared-caption = Портреты сделаны в PinGlass ✨
gallery-shared-invite = Хотите такие же — со своим лицом? Пришлите несколько своих фото, и PinGlass сделает AI-портреты в разных стилях.
gallery-shared-revoked = Владелец убрал этот набор портретов, и ссылка больше не работает. Но вы можете сделать свои!
gallery-shared-limit-viewer = Вы уже открывали этот набор сегодня — он выше в чате. Завтра его можно будет открыть снова.
gallery-shared-limit-set = Этот набор сегодня открывали очень много раз. Попробуйте, пожалуйста, завтра.

## Admin commands (only the ids in [bot] admin_ids see and use them)
admin-cmd-stats = Админ: пользователи, оплаты, выручка
admin-cmd-funnel = Админ: воронка [дней], с графиком
admin-cmd-revenue = Админ: выручка [дней] по пакетам и дням
admin-cmd-users = Админ: последние пользователи [n] и где остановились
admin-cmd-user = Админ: один пользователь <telegram id>
admin-cmd-pending = Админ: незавершённые оплаты
admin-cmd-jobs = Админ: последние генерации
admin-cmd-refund = Админ: вернуть оплату <id>
admin-cmd-cancel = Админ: отменить неоплаченный счёт <id>
admin-cmd-credits = Админ: баланс Kie
admin-usage = Формат: { $usage }
admin-unit-d = д
admin-unit-h = ч
admin-unit-min = мин
admin-unit-s = с
admin-stage-onboarding = Старт
admin-stage-upload = Фото
admin-stage-payment = Оплата
admin-stage-generation = Генерация
admin-stage-delivered = Доставка
admin-stage-none = —
admin-stats-title = 📊 Статистика
admin-period-day = За 24 часа
admin-period-week = За 7 дней
admin-period-all = За всё время
admin-stats-period = { $period }:
    новых пользователей { $users }, из них оплатили { $converted } (конверсия { $conversion })
    платящих { $paying }, оплат { $payments }, выручка { $revenue } (за вычетом возвратов)
    готовых наборов { $sets }, портретов { $portraits }
admin-funnel-title = 🔻 Воронка за { $days } дн. (пользователи):
admin-funnel-empty = За эти дни никто не дошёл ни до одного шага.
admin-funnel-stage = { $stage }: { $users } · { $share } от старта · { $step } от предыдущего шага
admin-funnel-times = Время на каждом шаге (до следующего):
admin-funnel-time = { $stage }: в среднем { $avg }, медиана { $median } ({ $users } польз.)
admin-funnel-time-none = { $stage }: дальше пока никто не прошёл
admin-funnel-all = все пользователи
admin-funnel-experiment = A/B-тест «{ $experiment }» (старт → фото → оплата → генерация → доставка):
admin-funnel-variant = { $variant }: { $steps } · оплатили { $conversion }
admin-funnel-chart = Воронка за { $days } дн.
admin-revenue-title = 💰 Выручка за { $days } дн.: { $net } чистыми ({ $gross } оплачено, { $refunded } возвращено), оплат: { $payments }
admin-revenue-empty = За эти дни оплат нет.
admin-revenue-by-tier = По пакетам:
admin-revenue-tier = { $tier }: { $payments } × · { $gross } · возвращено { $refunded }
admin-revenue-by-day = По дням (UTC):
admin-revenue-day = { $day }: { $payments } × · { $net }
admin-revenue-chart = Чистая выручка по дням (₽) за { $days } дн.
admin-revenue-net = чистая выручка, ₽
admin-users-title = 👥 Последние пользователи ({ $count }), новые сверху:
admin-users-line = { $id } { $name } · с { $created } · дошёл до: { $stage } · фото { $photos } · последняя оплата { $payment }
admin-user-not-found = Пользователя с id { $id } нет.
admin-user-about = язык { $language } · A/B { $variants } · реф. код { $code } · пригласил его { $referrer } · пригласил сам { $referred } · заработал { $earned }
admin-user-avatars = Аватары:
admin-avatar-line = #{ $id } { $status } · пакет { $tier } · фото { $photos } · { $created }
admin-user-payments = Оплаты:
admin-user-jobs = Генерации:
admin-payment-line = #{ $id } польз. { $user } · { $tier } { $amount } · { $status } (банк: { $bank }) · возраст { $age } · возвращено { $refunded }
admin-job-line = #{ $id } польз. { $user } · { $kind } · { $status } · готово { $completed }/{ $total }, не удалось { $failed } · попыток Kie { $attempts } (задач с повтором { $retried }) · заняло { $took }
admin-job-error = последняя ошибка: { $error }
admin-job-running = ещё идёт
admin-pending-empty = Незавершённых оплат нет.
admin-pending-title = ⏳ Незавершённые оплаты ({ $count }), старые сверху:
admin-pending-stuck = зависла, админы оповещены
admin-jobs-empty = Генераций ещё не было.
admin-jobs-title = ⚙️ Последние генерации ({ $count }):
admin-payment-not-found = Оплаты с id { $id } нет.
admin-refund-impossible = Оплату #{ $id } нельзя вернуть: её статус { $status } (возвращают только оплаченные; неоплаченный счёт отменяют через /cancel).
admin-refund-nothing-left = По оплате #{ $id } возвращать нечего (уже возвращена или возврат в пути).
admin-cancel-impossible = Оплату #{ $id } нельзя отменить: её статус { $status } (отменяют только открытые неоплаченные; оплаченную возвращают через /refund).
admin-refund-confirm = Вернуть оплату #{ $id } целиком? { $amount } вернётся пользователю { $user } (пакет { $tier }) через Т-Банк.
admin-cancel-confirm = Отменить неоплаченный счёт #{ $id } пользователя { $user } (пакет { $tier }, { $amount })? Ссылка перестанет работать; пользователю придёт сообщение, и он сможет выбрать пакет снова.
admin-button-refund = ✅ Да, вернуть
admin-button-cancel = ✅ Да, отменить
admin-button-keep = ✖️ Нет, оставить
admin-kept = Оплата #{ $id } оставлена как есть.
admin-refund-requested = Возврат оплаты #{ $id } запрошен в Т-Банке; сообщу, когда пройдёт.
admin-cancel-requested = Отмена счёта #{ $id } запрошена в Т-Банке; сообщу, когда пройдёт.
admin-already-requested = Оплата #{ $id }: возврат или отмена уже в пути либо больше невозможны.
admin-refund-done = ✅ Оплата #{ $payment }: возвращено { $amount } (Т-Банк: { $status }).
admin-cancel-done = ✅ Счёт #{ $payment } пользователя { $user } ({ $amount }) отменён (Т-Банк: { $status }); пользователю сообщено.
admin-stuck-canceled = ✅ Счёт #{ $payment } пользователя { $user } ({ $amount }) слишком долго не оплачивался и отменён (Т-Банк: { $status }); пользователю сообщено, он может оплатить заново.
admin-cancel-not-needed = Счёт #{ $payment } не отменён: { $why }.
admin-credits-known = Последний известный баланс Kie: { $credits } кредитов ({ $at } UTC). Спрашиваю у Kie текущий…
admin-credits-unknown = Баланс Kie пока неизвестен. Спрашиваю у Kie…
admin-credits-now = Баланс Kie сейчас: { $credits } кредитов.
admin-credits-failed = Kie не сообщил баланс: { $error }
payment-stuck-canceled = Оплата не завершилась за двое суток, поэтому я закрыл счёт. Деньги не списаны. Если портреты ещё нужны — выберите пакет снова.
admin-cmd-retry = Админ: переделать не получившиеся портреты набора <id генерации>
admin-syntax-funnel = /funnel [дней 1–3650]
admin-syntax-revenue = /revenue [дней 1–3650]
admin-syntax-users = /users [сколько 1–50]
admin-syntax-user = /user <telegram id>
admin-syntax-jobs = /jobs [сколько 1–50]
admin-syntax-refund = /refund <id оплаты>
admin-syntax-cancel = /cancel <id оплаты>
admin-syntax-retry = /retry <id генерации>
admin-job-not-found = Генерации с id { $id } нет.
admin-retry-started = Генерация #{ $id }: не получившиеся портреты ({ $tasks }) снова в очереди; что получится, уйдёт пользователю, я сообщу.
admin-retry-impossible = Генерацию #{ $id } нельзя повторить: { $kind }, { $status }, не удалось { $failed } (повторяют только завершённый оплаченный набор с неудачными портретами).
admin-retry-done = ✅ Повтор генерации #{ $id }: сделано и отправлено ещё { $made }, снова не удалось { $failed }.
retry-caption = { $count ->
    [one] ✨ Ещё один портрет вашего набора — в первый раз он не получился.
    [few] ✨ Ещё { $count } портрета вашего набора — в первый раз они не получились.
   *[other] ✨ Ещё { $count } портретов вашего набора — в первый раз они не получились.
}

# Hostile inputs (tests/hostile.rs)
contact-not-own = Это чужой контакт. Чек можно прислать только на ваш номер — нажмите кнопку «📱 Поделиться номером» или напишите email.

# Privacy: policy before paying, /terms, /delete_my_data, retention (issue 8)
cmd-terms = Условия: возвраты и данные
cmd-delete-my-data = Удалить мои данные
packages-policy =
    🛡 Если какие-то портреты не получатся, их доля цены сама вернётся на карту.
    🔄 Бесплатные переделки после готовности: { $quotas }. Подробнее — /terms
terms =
    📄 Условия PinGlass

    💳 Оплата. Пакет оплачивается до создания портретов, через T-Bank; чек приходит на email или телефон, который вы указали. Неоплаченная ссылка действует { $deadline } ч.

    🛡 Если портреты не получились. Каждый портрет пакета — равная доля цены. Если какие-то не удалось создать, бот сам возвращает их долю на карту (частичная отмена платежа в T-Bank) и пишет вам об этом; если не получился ни один — возвращается вся сумма. Ничего просить не нужно.

    🔄 Бесплатные переделки. После готовности можно бесплатно переделать отдельные портреты в том же стиле: одна переделка на каждые { $per_free } портретов пакета, но не меньше одной ({ $quotas }). Неудавшаяся переделка не засчитывается. Переделать можно, пока хранятся исходные фото.

    🗂 Хранение. Исходные фото нужны только для портретов: через { $days } дн. после готовности набора бот сам удаляет их из хранилища и из базы. Фото набора, который вы не оплатили, хранятся, пока вы его не оплатите или не удалите данные. Портреты хранятся, пока вы их не удалите, — чтобы работали /gallery, архив и ссылки.

    🗑 Удаление. /delete_my_data удаляет всё сразу: исходные фото, портреты, галереи и ссылки на них, историю диалога, ваше имя и контакт для чеков. Пока создаются портреты, открыт платёж или идёт возврат, удаление ждёт — чтобы деньги не потерялись. Сообщения в самом чате Telegram бот удалить не может — их можно удалить в Telegram.

    📒 Что остаётся для учёта. Записи об оплатах и возвратах (пакет, сумма, дата, статус) с вашим числовым id в Telegram — без имени и контактов. Реферальные начисления и выплаты тоже остаются.
delivery-retention = 🗂 Исходные фото хранятся { $days } дн. и потом удаляются автоматически; портреты остаются в /gallery, пока вы их не удалите (/delete_my_data).
redo-photos-expired = Исходные фото этого набора уже удалены (мы храним их { $days } дн. после готовности), поэтому переделать портрет больше нельзя. Новые портреты — в новом наборе: /start.
gallery-shared-deleted = Владелец удалил эти портреты вместе со своими данными, поэтому ссылка больше не работает. Но вы можете сделать свои!
privacy-confirm =
    Удалить все ваши данные? Будут удалены: исходные фото, все портреты и галереи (ссылки на них перестанут работать), история диалога, имя и контакт для чеков — из хранилища и из базы.
    Останутся только записи об оплатах и возвратах, без имени и контактов: их требует учёт. Отменить удаление будет нельзя.
privacy-button-confirm = 🗑 Да, удалить всё
privacy-button-cancel = Отмена
privacy-kept = Хорошо, ничего не удаляю.
privacy-deleting = Удаляю ваши данные… Напишу, когда всё будет удалено.
privacy-deleting-now = Удаляю ваши данные — напишу, когда закончу (обычно это несколько секунд).
privacy-deleted = ✅ Готово: ваши фото, портреты, галереи, история диалога, имя и контакт для чеков удалены. Записи об оплатах остались только для учёта, без имени и контактов. Сообщения в этом чате бот удалить не может — их можно удалить в Telegram. Чтобы начать заново, нажмите /start.
privacy-button-stale = Эта кнопка устарела. Чтобы удалить данные, пришлите /delete_my_data ещё раз.
privacy-already-deleting = Ваши данные уже удаляются — я напишу, когда закончу.
privacy-busy-payment = У вас открыт платёж. Чтобы деньги не потерялись, удалить данные можно после него: оплатите (и дождитесь портретов) или подождите, пока ссылка истечёт (через { $hours } ч после создания). Потом пришлите /delete_my_data ещё раз.
privacy-busy-generating = Сейчас для вас создаются портреты. Удалить данные можно, когда они придут, — тогда пришлите /delete_my_data ещё раз. Если какие-то не получатся, их доля вернётся на карту автоматически.
privacy-busy-refund = Сейчас вам возвращаются деньги. Дождитесь сообщения о возврате и пришлите /delete_my_data ещё раз.
privacy-busy-payout = Ваша заявка на выплату реферального баланса ещё не обработана. Удалить данные можно после выплаты — тогда пришлите /delete_my_data ещё раз.
admin-retry-no-photos = Генерацию #{ $id } нельзя повторить: исходные фото этого набора уже удалены (срок хранения или /delete_my_data).
# Face-quality gate at upload (issue 8, src/media/quality.rs, src/bot/upload.rs)
upload-rejected-no-face = Не нахожу на этом фото лица. Нужны снимки, где ваше лицо хорошо видно и смотрит в камеру — без солнечных очков и масок. Это фото не засчитано.
upload-rejected-several-faces = На этом фото несколько человек, а нужны снимки, где вы одни, — иначе непонятно, чьё лицо рисовать. Это фото не засчитано.
upload-rejected-face-too-small = Лицо на этом фото слишком маленькое. Пришлите снимок, где вы ближе к камере: лицо должно занимать заметную часть кадра. Это фото не засчитано.
upload-rejected-blurred = Фото размыто — черты лица плохо видно. Пришлите чёткий снимок. Это фото не засчитано.
upload-rejected-too-dark = Фото слишком тёмное — лицо почти не разглядеть. Пришлите снимок при хорошем освещении. Это фото не засчитано.
upload-rejected-too-bright = Фото слишком светлое — лицо засвечено. Пришлите снимок без яркой вспышки и прямого солнца. Это фото не засчитано.
upload-similar-photos = 💡 Все ваши фото очень похожи: один ракурс, один фон. Портреты выйдут точнее, если добавить разные снимки — вполоборота, с другим выражением лица, при другом свете, на другом фоне. Можно продолжать и с этими.
# Fault recovery (issue 7): a handler's answer lost to a Telegram 5xx
telegram-hiccup = Telegram не донёс мой ответ. Пожалуйста, повторите последнее действие.
# Admin alerts (src/worker/alerts.rs): one per incident, in each admin's language
alert = ⚠️ { $message }
alert-summary = 🔁 Всё ещё происходит: { $count ->
    [one] { $count } раз
    [few] { $count } раза
   *[many] { $count } раз
} с { $since }. { $message }
alert-delivery-failures = Копятся ошибки доставки: за последний час брошено сообщений — { $failed } (предел { $limit }). Ошибки Telegram — в логе бота.
alert-behind = Фоновая задача отстаёт: самая старая очередь «{ $queue }» ждёт уже { $minutes } мин (предел { $limit } с).
alert-queue-payment-check = проверка оплаты
alert-queue-generation-task = задача генерации
alert-queue-message = сообщение в очереди
alert-queue-refund = возврат
alert-error-rate = Ошибок больше предела: { $count } (обработчики и шаги фоновой задачи) примерно за последнюю минуту, { $rate } в минуту (предел { $limit } в минуту). Подробности — в логе.
alert-refund-slow = Возврат { $refund } по оплате { $payment } ({ $amount }) Т-Банк всё ещё не подтвердил после { $attempts ->
    [one] { $attempts } попытки
   *[other] { $attempts } попыток
}: { $error }. Бот продолжает спрашивать.
alert-refund-refused = Т-Банк отказал в возврате { $refund } по оплате { $payment } ({ $amount }): { $error }. Верните деньги вручную.
alert-kie-refused = Kie AI не принимает новые задачи: { $error }. Создание задач приостановлено, очередь сохранена.
alert-job-short = Генерация { $job } пользователя { $user } не добрала портретов: сделано { $made } из { $total }, к возврату { $amount }.
alert-job-failed = Генерация { $job } пользователя { $user } не удалась: сделано { $made } из { $total }, к возврату { $amount }.
alert-init-failed = Т-Банк не создал платёж { $payment } (заказ { $order }): { $error }
alert-delivery-failed = Сообщение { $message } в чат { $chat } не доставлено после { $attempts ->
    [one] { $attempts } попытки
   *[other] { $attempts } попыток
}: { $error }
alert-stuck-payment = Оплата { $payment } (пользователь { $user }, { $tier }, { $amount }) открыта уже { $hours } ч; статус в Т-Банке: { $status }. Она отменится автоматически, когда ей будет { $cancel_hours } ч.
alert-cancel-refused = Т-Банк отказал в отмене платежа { $payment } (заказ { $order }): { $error }. Платёж остаётся открытым — отмените его в личном кабинете Т-Банка.
alert-bank-mismatch = Т-Банк показывает платёж { $payment } (заказ { $order }) в статусе { $bank }, а у бота он «{ $ours }». Проверьте платёж в личном кабинете Т-Банка.
alert-other-terminal = Платёж { $payment } (заказ { $order }) создан в другом терминале Т-Банка (или в тестовом стенде), а не в том, что настроен сейчас: бот его не проверяет, не подтверждает и не отменяет. Проверьте его там, где он создан.
admin-cancel-why-not-open = оплата уже не открыта (статус { $status })
admin-cancel-why-paid = пользователь тем временем оплатил в банке ({ $status })
# Flood guard (issue 15, src/bot/flood.rs): one notice for a chat that sent very many messages at once
flood-slow-down = Слишком много сообщений сразу — на каждое я не отвечу. Фото всё равно посчитаю (до { $max }), остальное пропущу. Подождите немного и напишите снова, если что-то нужно.
