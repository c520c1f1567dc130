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
upload-counter-enough = Принято: { $photos } из { $max }. Можно прислать ещё или нажать «Создать портреты».
upload-counter-full = Принято: { $photos } — это максимум. Нажмите «Создать портреты».
upload-button-generate = ✨ Создать портреты
upload-duplicate = Это фото уже есть — пропускаю.
upload-not-open = Фото для этого набора уже не принимаются. Чтобы начать новый, нажмите /start.
upload-rejected-too-many = Уже { $max } фото — это максимум. Нажмите «Создать портреты».
upload-rejected-empty = Файл пустой. Пришлите, пожалуйста, фото.
upload-rejected-too-large = Файл слишком большой (больше 20 МБ). Пришлите фото поменьше.
upload-rejected-not-image = Это не фото. Пришлите изображение JPG, PNG, WEBP или HEIC.
upload-rejected-too-many-pixels = Изображение слишком огромное по размеру в пикселях. Пришлите обычное фото.
upload-rejected-undecodable = Не получается открыть это изображение — возможно, файл повреждён. Пришлите другое фото.
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
