"""Reply drafts per language and aspect: a starting point a responder edits, never sent as is.

A draft is a greeting, a thank-you or an apology (by sentiment), one sentence per aspect the review
raised, and a closing. Languages: en, ru, uk, pl, de, es; anything else falls back to English.
"""

from __future__ import annotations

from collections.abc import Iterable

LANGUAGES = ("en", "ru", "uk", "pl", "de", "es")

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "us": "us",
        "hello": "Hello {name},", "hello_anon": "Hello,",
        "thanks": "thank you for your kind review of {place}!",
        "sorry": "thank you for your feedback about {place}; we are sorry about your visit.",
        "close_positive": "We look forward to seeing you again.",
        "close_negative": "Please write to us so that we can put this right.",
    },
    "ru": {
        "us": "нас",
        "hello": "Здравствуйте, {name}!", "hello_anon": "Здравствуйте!",
        "thanks": "Спасибо за тёплый отзыв о {place}!",
        "sorry": "Спасибо за отзыв о {place}; нам очень жаль, что так получилось.",
        "close_positive": "Будем рады видеть вас снова.",
        "close_negative": "Пожалуйста, напишите нам, чтобы мы могли всё исправить.",
    },
    "uk": {
        "us": "нас",
        "hello": "Вітаємо, {name}!", "hello_anon": "Вітаємо!",
        "thanks": "Дякуємо за теплий відгук про {place}!",
        "sorry": "Дякуємо за відгук про {place}; нам дуже прикро, що так сталося.",
        "close_positive": "Будемо раді бачити вас знову.",
        "close_negative": "Будь ласка, напишіть нам, щоб ми могли все виправити.",
    },
    "pl": {
        "us": "nas",
        "hello": "Dzień dobry, {name}!", "hello_anon": "Dzień dobry!",
        "thanks": "dziękujemy za miłą opinię o {place}!",
        "sorry": "dziękujemy za opinię o {place}; bardzo nam przykro z powodu tej sytuacji.",
        "close_positive": "Do zobaczenia ponownie!",
        "close_negative": "Prosimy o kontakt, abyśmy mogli to naprawić.",
    },
    "de": {
        "us": "uns",
        "hello": "Hallo {name},", "hello_anon": "Hallo,",
        "thanks": "vielen Dank für Ihre freundliche Bewertung von {place}!",
        "sorry": "vielen Dank für Ihr Feedback zu {place}; das tut uns sehr leid.",
        "close_positive": "Wir freuen uns auf Ihren nächsten Besuch.",
        "close_negative": "Bitte schreiben Sie uns, damit wir das wiedergutmachen können.",
    },
    "es": {
        "us": "nosotros",
        "hello": "Hola, {name}:", "hello_anon": "Hola:",
        "thanks": "¡gracias por su amable reseña de {place}!",
        "sorry": "gracias por su opinión sobre {place}; lamentamos mucho lo ocurrido.",
        "close_positive": "Esperamos verle de nuevo pronto.",
        "close_negative": "Escríbanos, por favor, para que podamos solucionarlo.",
    },
}  # fmt: skip

ASPECT_LINES: dict[str, dict[str, str]] = {
    "staff": {
        "en": "We have shared your words about our team with the staff.",
        "ru": "Мы передали ваши слова о персонале нашей команде.",
        "uk": "Ми передали ваші слова про персонал нашій команді.",
        "pl": "Przekazaliśmy Pana/Pani uwagi o obsłudze całemu zespołowi.",
        "de": "Wir haben Ihre Worte über unser Team an die Mitarbeitenden weitergegeben.",
        "es": "Hemos compartido sus comentarios sobre el personal con el equipo.",
    },
    "wait_time": {
        "en": "We are working on shorter waiting times.",
        "ru": "Мы работаем над тем, чтобы сократить время ожидания.",
        "uk": "Ми працюємо над тим, щоб скоротити час очікування.",
        "pl": "Pracujemy nad skróceniem czasu oczekiwania.",
        "de": "Wir arbeiten daran, die Wartezeiten zu verkürzen.",
        "es": "Estamos trabajando para reducir los tiempos de espera.",
    },
    "price": {
        "en": "We review our prices regularly and will take your comment into account.",
        "ru": "Мы регулярно пересматриваем цены и учтём ваше замечание.",
        "uk": "Ми регулярно переглядаємо ціни і врахуємо ваше зауваження.",
        "pl": "Regularnie przeglądamy ceny i weźmiemy pod uwagę tę uwagę.",
        "de": "Wir überprüfen unsere Preise regelmäßig und berücksichtigen Ihren Hinweis.",
        "es": "Revisamos nuestros precios con regularidad y tendremos en cuenta su comentario.",
    },
    "quality": {
        "en": "Quality matters to us, and we have passed your comments to the kitchen.",
        "ru": "Качество для нас важно, мы передали ваши замечания на кухню.",
        "uk": "Якість для нас важлива, ми передали ваші зауваження на кухню.",
        "pl": "Jakość jest dla nas ważna, przekazaliśmy uwagi kuchni.",
        "de": "Qualität ist uns wichtig; wir haben Ihre Hinweise an die Küche weitergegeben.",
        "es": "La calidad es importante para nosotros y hemos trasladado sus comentarios a cocina.",
    },
    "cleanliness": {
        "en": "We have checked our cleaning routine at once.",
        "ru": "Мы сразу проверили порядок уборки.",
        "uk": "Ми одразу перевірили порядок прибирання.",
        "pl": "Od razu sprawdziliśmy procedury sprzątania.",
        "de": "Wir haben unsere Reinigungsabläufe sofort überprüft.",
        "es": "Hemos revisado de inmediato nuestra rutina de limpieza.",
    },
    "delivery": {
        "en": "We are looking into what went wrong with your delivery.",
        "ru": "Мы разбираемся, что пошло не так с доставкой.",
        "uk": "Ми з'ясовуємо, що пішло не так із доставкою.",
        "pl": "Sprawdzamy, co poszło nie tak z dostawą.",
        "de": "Wir prüfen, was bei Ihrer Lieferung schiefgelaufen ist.",
        "es": "Estamos revisando qué falló con su entrega.",
    },
    "billing": {
        "en": "We will check the charge and correct any mistake.",
        "ru": "Мы проверим списание и исправим ошибку, если она есть.",
        "uk": "Ми перевіримо списання і виправимо помилку, якщо вона є.",
        "pl": "Sprawdzimy płatność i poprawimy ewentualny błąd.",
        "de": "Wir prüfen die Abrechnung und korrigieren jeden Fehler.",
        "es": "Revisaremos el cargo y corregiremos cualquier error.",
    },
    "app_website": {
        "en": "Our team is looking into the problem with the app and the website.",
        "ru": "Наша команда разбирается с проблемой в приложении и на сайте.",
        "uk": "Наша команда з'ясовує проблему із застосунком і сайтом.",
        "pl": "Nasz zespół sprawdza problem z aplikacją i stroną.",
        "de": "Unser Team kümmert sich um das Problem mit App und Website.",
        "es": "Nuestro equipo está revisando el problema con la aplicación y la web.",
    },
}


def template_language(language: str | None) -> str:
    """The template language for a review's language (English where none exists)."""
    return language if language in LANGUAGES else "en"


def draft_reply(
    language: str | None,
    aspects: Iterable[str] = (),
    *,
    negative: bool = True,
    author: str | None = None,
    place: str | None = None,
) -> str:
    """A reply draft in the review's language that names each aspect the review raised."""
    lang = template_language(language)
    phrases = PHRASES[lang]
    name = (author or "").strip()
    hello = phrases["hello"].format(name=name) if name else phrases["hello_anon"]
    body = phrases["sorry" if negative else "thanks"].format(place=place or phrases["us"])
    lines = [f"{hello} {body}"]
    if negative:
        lines += [ASPECT_LINES[a][lang] for a in dict.fromkeys(aspects) if a in ASPECT_LINES]
    lines.append(phrases["close_negative" if negative else "close_positive"])
    return " ".join(lines)
