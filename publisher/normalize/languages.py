"""Per-language tables for normalization: one :class:`Language` per language.

Everything a language says differently lives here, as data: its number
separators (from Babel's CLDR data), the words for symbols, units,
currencies, abbreviations, the words that introduce a roman numeral, and how
dates and times are read. The rules in :mod:`publisher.normalize.rules` read
these tables and never name a language themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["LANGUAGES", "NEUTRAL", "Language", "language_for"]


@dataclass(frozen=True, slots=True)
class Language:
    """How one language says what is written."""

    code: str
    #: num2words' language code; "" when num2words has none (we spell numbers ourselves).
    num2words: str
    #: True when the language has rules (digits never reach the engine).
    has_rules: bool = True
    decimal_word: str = "point"
    #: "digits": 3.14 -> three point one four; "number": trois virgule quatorze.
    decimal_mode: str = "digits"
    #: Month before day in numeric dates (9/16 = September 16th).
    month_first: bool = False
    #: Words for symbols and connectors.
    words: dict[str, str] = field(default_factory=dict)
    #: Unit symbol -> (singular, plural).
    units: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: ISO code -> ((major singular, plural), (minor singular, plural)).
    currencies: dict[str, tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=dict)
    #: Abbreviation as written (regular expression) -> words.
    abbreviations: tuple[tuple[str, str], ...] = ()
    #: Words after which a roman numeral is a cardinal ("Chapter IV", "World War II").
    roman_cardinal_after: tuple[str, ...] = ()
    #: Roman numerals after a capitalized name are ordinals ("Henry VIII").
    regnal_ordinal: bool = True
    #: Regnal numbers said as cardinals from this one on (French: Louis XIV = quatorze).
    regnal_cardinal_from: int = 0
    #: Written ordinal suffixes (regular expression after the digits).
    ordinal_suffix: str = ""
    #: Acronyms said as words, not letter by letter.
    acronym_words: frozenset[str] = frozenset()
    #: How an acronym said letter by letter is written for the voice: "C B T", or in
    #: English "C.B.T", since eSpeak NG (Piper's and Kokoro's phonemes) reads a lone
    #: "A" as the article ("uh P I") but dotted letters as letters; and what a plural
    #: acronym ends in ("A.P.I's": "A P Is" was said "A P is").
    letter_joiner: str = " "
    acronym_plural: str = "s"
    #: Day of a date: "ordinal", "cardinal", or "first-ordinal" (1 = premier, else cardinal).
    date_day: str = "cardinal"
    #: Template of a spoken date: {day} {month} {year}.
    date_template: str = "{day} {month} {year}"
    #: Template of a spoken time: {hour} {minute}.
    time_template: str = "{hour} {minute}"
    #: Years read as years (nineteen ninety) rather than cardinals.
    year_form: bool = False
    #: Grammatical gender of the noun after a number ("veintiuna personas"): feminine
    #: nouns (singular and plural, lowercase), endings that make a noun feminine, and
    #: the nouns with such an ending that are not ("el día", "le musée").
    feminine_nouns: frozenset[str] = frozenset()
    feminine_endings: tuple[str, ...] = ()
    masculine_nouns: frozenset[str] = frozenset()
    #: Number words made feminine: (regular expression, replacement), in order; the
    #: words before a "million" stay as they are (un millón de personas).
    feminine_forms: tuple[tuple[str, str], ...] = ()
    #: Number words before a masculine (or any) noun: "uno" -> "un" (veintiún libros).
    before_noun_forms: tuple[tuple[str, str], ...] = ()
    #: The case a preposition gives the noun after it ("mit" -> "dat", "für" -> "acc"),
    #: and the form "one" takes in it by gender ("f", "m", "n"): "mit einer Woche",
    #: "seit einem Jahr", "für einen Tag". Only a preposition right before the number
    #: is looked at: "Ich brauche 1 Tag" (an object) stays "ein Tag".
    case_prepositions: dict[str, str] = field(default_factory=dict)
    case_forms: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Nouns that are masculine (for the forms above; not feminine and not in this
    #: set or ``masculine_nouns`` is neuter).
    common_masculine_nouns: frozenset[str] = frozenset()
    #: Nouns after which "one" takes no gender or case: "um ein Uhr".
    invariable_nouns: frozenset[str] = frozenset()
    #: Words that make a number a million-noun (the number before it keeps its gender).
    million_words: tuple[str, ...] = ()
    #: Words after a number that are not its noun ("uno y dos", "1 de cada 5").
    not_nouns: frozenset[str] = frozenset()
    #: Lowercase words of CLDR emoji names that stay lowercase (German: the rest are
    #: nouns and take a capital); adjective stems and endings recognize the adjectives.
    emoji_lowercase: frozenset[str] = frozenset()
    emoji_adjective_stems: frozenset[str] = frozenset()
    emoji_adjective_endings: tuple[str, ...] = ()
    #: Proper nouns of emoji names beyond CLDR's territory names (Noël, Navidad).
    emoji_proper_nouns: tuple[str, ...] = ()
    #: Words before a numeric "a/b" that make it a date ("on 3/4", "el 3/4").
    date_cues: frozenset[str] = frozenset()
    #: What is said for a code block, by its number of lines (one line, {n} lines).
    code_block: tuple[str, str] = ("Code example, one line, shown in the text.",
                                   "Code example, {n} lines, shown in the text.")


_EN_WORDS = {
    "note": "Note",  # a note read out in the text: "Note 3: ..."
    "and": "and", "or": "or", "to": "to", "percent": "percent", "plus": "plus",
    "minus": "minus", "times": "times", "by": "by", "equals": "equals",
    "less": "less than", "greater": "greater than", "less_eq": "less than or equal to",
    "greater_eq": "greater than or equal to", "approx": "approximately",
    "plus_minus": "plus or minus", "at": "at", "dot": "dot", "slash": "slash",
    "hashtag": "hashtag", "number": "number", "section": "section",
    "sections": "sections", "paragraph": "paragraph", "version": "version",
    "dash": "dash", "colon": "colon", "pipe": "vertical bar", "asterisk": "asterisk",
    "backslash": "backslash", "tilde": "tilde", "underscore": "underscore",
    "caret": "caret", "hash": "hash", "degrees": "degrees", "oclock": "o'clock",
    "oh": "oh", "am": "a m", "pm": "p m", "half": "half", "halves": "halves",
    "quarter": "quarter", "quarters": "quarters", "over": "over",
    "comma": "comma",
    "semicolon": "semicolon",
    "exclamation": "exclamation mark",
    "question": "question mark",
    "quote": "quote",
    "double_quote": "double quote",
    "backtick": "backtick",
    "open_paren": "open parenthesis",
    "close_paren": "close parenthesis",
    "open_bracket": "open bracket",
    "close_bracket": "close bracket",
    "open_brace": "open brace",
    "close_brace": "close brace",
    "ampersand": "ampersand",
    "dollar": "dollar sign",
    "percent_sign": "percent sign",
}

_EN = Language(
    code="en", num2words="en", month_first=True, year_form=True,
    letter_joiner=".", acronym_plural="'s",
    words=_EN_WORDS,
    units={
        "km": ("kilometer", "kilometers"), "m": ("meter", "meters"),
        "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
        "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
        "mg": ("milligram", "milligrams"), "µg": ("microgram", "micrograms"),
        "mcg": ("microgram", "micrograms"), "ml": ("milliliter", "milliliters"),
        "mL": ("milliliter", "milliliters"), "l": ("liter", "liters"),
        "L": ("liter", "liters"), "lb": ("pound", "pounds"), "lbs": ("pounds", "pounds"),
        "oz": ("ounce", "ounces"), "mph": ("mile per hour", "miles per hour"),
        "km/h": ("kilometer per hour", "kilometers per hour"),
        "kph": ("kilometer per hour", "kilometers per hour"),
        "mi": ("mile", "miles"), "ft": ("foot", "feet"),
        "°C": ("degree Celsius", "degrees Celsius"),
        "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
        "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hours", "hours"),
        "min": ("minute", "minutes"),
        "sec": ("second", "seconds"), "ms": ("millisecond", "milliseconds"),
        "kB": ("kilobyte", "kilobytes"), "KB": ("kilobyte", "kilobytes"),
        "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"),
        "TB": ("terabyte", "terabytes"), "GHz": ("gigahertz", "gigahertz"),
        "MHz": ("megahertz", "megahertz"), "Hz": ("hertz", "hertz"),
        "kWh": ("kilowatt hour", "kilowatt hours"), "W": ("watt", "watts"),
        "kW": ("kilowatt", "kilowatts"),
    },
    currencies={
        "USD": (("dollar", "dollars"), ("cent", "cents")),
        "EUR": (("euro", "euros"), ("cent", "cents")),
        "GBP": (("pound", "pounds"), ("penny", "pence")),
        "JPY": (("yen", "yen"), ("sen", "sen")),
        "INR": (("rupee", "rupees"), ("paisa", "paise")),
    },
    abbreviations=(
        (r"\be\.\s?g\.(?=[\s,;:)]|$)", "for example"),
        (r"\bi\.\s?e\.(?=[\s,;:)]|$)", "that is"),
        (r"\betc\.", "et cetera"),
        (r"\bvs\.?(?=\s)", "versus"),
        (r"\bDr\.(?=\s+[A-Z])", "Doctor"),
        (r"\bMr\.(?=\s+[A-Z])", "Mister"),
        (r"\bMrs\.(?=\s+[A-Z])", "Missus"),
        (r"\bMs\.(?=\s+[A-Z])", "Miz"),
        (r"\bProf\.(?=\s+[A-Z])", "Professor"),
        (r"\bSt\.(?=\s+[A-Z])", "Saint"),
        (r"\bJr\.", "Junior"),
        (r"\bapprox\.(?=\s)", "approximately"),
        (r"\b[Nn]o\.(?=\s*\d)", "number"),
        (r"\b[Nn]os\.(?=\s*\d)", "numbers"),
        (r"\bp\.(?=\s*\d)", "page"),
        (r"\bpp\.(?=\s*\d)", "pages"),
        (r"\bch\.(?=\s*\d)", "chapter"),
        (r"\bvol\.(?=\s*\d)", "volume"),
        (r"\bfig\.(?=\s*\d)", "figure"),
        (r"\bca\.(?=\s*\d)", "circa"),
        (r"\bc\.(?=\s*\d{3,4}\b)", "circa"),
        (r"\bet al\.", "and others"),
    ),
    roman_cardinal_after=("Chapter", "chapter", "Part", "part", "Book", "book", "Volume",
                          "volume", "Act", "act", "Scene", "scene", "War", "Phase", "phase",
                          "Type", "type", "Article", "article", "Appendix", "Stage", "stage",
                          "Class", "class", "Title", "Schedule", "Level", "level",
                          "Grade", "grade", "Section", "Super Bowl"),
    ordinal_suffix=r"(?:st|nd|rd|th)",
    acronym_words=frozenset({"NASA", "NATO", "UNESCO", "UNICEF", "AIDS", "COVID", "OPEC",
                             "FIFA", "LASER", "SCUBA", "RAM", "ROM", "GIF", "JPEG", "PIN",
                             "SIM", "ASAP", "FOMO", "YOLO", "NAFTA", "OK", "ZIP", "SARS",
                             "MERS", "NIMBY", "PAC", "UEFA", "WASP", "ISIS", "NAND", "SWAT",
                             "TED", "RADAR", "SONAR", "LOL"}),
    date_day="ordinal", date_template="{month} {day}, {year}",
    time_template="{hour} {minute}",
    date_cues=frozenset({"on", "by", "until", "till", "from", "since", "before", "after",
                         "due", "through", "thru", "dated", "starting", "ending", "monday",
                         "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                         "mon", "tue", "wed", "thu", "fri", "sat", "sun"}),
)

_ES = Language(
    code_block=("Ejemplo de código, una línea, en el texto.", "Ejemplo de código, {n} líneas, en el texto."),
    code="es", num2words="es", decimal_word="coma", decimal_mode="number",
    words={
        "note": "Nota",
        "and": "y", "or": "o", "to": "a", "percent": "por ciento", "plus": "más",
        "minus": "menos", "times": "por", "by": "por", "equals": "igual a",
        "less": "menor que", "greater": "mayor que", "less_eq": "menor o igual que",
        "greater_eq": "mayor o igual que", "approx": "aproximadamente",
        "plus_minus": "más o menos", "at": "arroba", "dot": "punto", "slash": "barra",
        "hashtag": "hashtag", "number": "número", "section": "sección",
        "sections": "secciones", "paragraph": "párrafo", "version": "versión",
        "dash": "guion", "pipe": "barra vertical", "asterisk": "asterisco",
        "backslash": "barra invertida", "tilde": "tilde", "underscore": "guion bajo",
        "caret": "circunflejo", "hash": "almohadilla", "degrees": "grados",
        "minute_and": "y", "of": "de", "half": "medio", "halves": "medios",
        "quarter": "cuarto", "quarters": "cuartos", "over": "entre", "hours": "horas",
        "comma": "coma",
        "colon": "dos puntos",
        "semicolon": "punto y coma",
        "exclamation": "signo de exclamación",
        "question": "signo de interrogación",
        "quote": "comilla",
        "double_quote": "comillas",
        "backtick": "acento grave",
        "open_paren": "abre paréntesis",
        "close_paren": "cierra paréntesis",
        "open_bracket": "abre corchete",
        "close_bracket": "cierra corchete",
        "open_brace": "abre llave",
        "close_brace": "cierra llave",
        "ampersand": "et",
        "dollar": "signo de dólar",
        "percent_sign": "signo de porcentaje",
    },
    units={
        "km": ("kilómetro", "kilómetros"), "m": ("metro", "metros"),
        "cm": ("centímetro", "centímetros"), "mm": ("milímetro", "milímetros"),
        "kg": ("kilo", "kilos"), "g": ("gramo", "gramos"), "mg": ("miligramo", "miligramos"),
        "ml": ("mililitro", "mililitros"), "l": ("litro", "litros"),
        "km/h": ("kilómetro por hora", "kilómetros por hora"),
        "°C": ("grado centígrado", "grados centígrados"), "h": ("hora", "horas"),
        "min": ("minuto", "minutos"), "s": ("segundo", "segundos"),
        "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"),
    },
    currencies={
        "USD": (("dólar", "dólares"), ("centavo", "centavos")),
        "EUR": (("euro", "euros"), ("céntimo", "céntimos")),
        "GBP": (("libra", "libras"), ("penique", "peniques")),
        "MXN": (("peso", "pesos"), ("centavo", "centavos")),
    },
    abbreviations=(
        (r"\bp\.\s?ej\.", "por ejemplo"), (r"\bSr\.(?=\s)", "señor"),
        (r"\bSra\.(?=\s)", "señora"), (r"\bSrta\.(?=\s)", "señorita"),
        (r"\bDr\.(?=\s)", "doctor"), (r"\bDra\.(?=\s)", "doctora"),
        (r"\bUd\.", "usted"), (r"\bUds\.", "ustedes"), (r"\betc\.", "etcétera"),
        (r"\baprox\.", "aproximadamente"), (r"\bpág\.(?=\s*\d)", "página"),
        (r"\bpágs\.(?=\s*\d)", "páginas"), (r"\bnúm\.(?=\s*\d)", "número"),
        (r"\bn\.º(?=\s*\d)", "número"), (r"\bEE\.\s?UU\.", "Estados Unidos"),
        (r"\bcap\.(?=\s*\d)", "capítulo"), (r"\bvol\.(?=\s*\d)", "volumen"),
        (r"\bD\.ª(?=\s)", "doña"), (r"\bq\.e\.p\.d\.", "que en paz descanse"),
    ),
    roman_cardinal_after=("capítulo", "Capítulo", "siglo", "Siglo", "tomo", "Tomo",
                          "parte", "Parte", "Guerra Mundial", "volumen", "libro", "Libro"),
    regnal_cardinal_from=11,
    ordinal_suffix=r"(?:\.?[ºª°]|\.?er|\.?os?|\.?as?)(?!\w)",
    date_day="cardinal", date_template="{day} de {month} de {year}",
    time_template="{hour} y {minute}",
    feminine_nouns=frozenset(
        "persona personas semana semanas hora horas vez veces mujer mujeres página páginas "
        "noche noches clase clases parte partes calle calles fuente fuentes red redes ley "
        "leyes mano manos imagen imágenes llave llaves tarde tardes flor flores luz luces voz "
        "voces razón razones muerte muertes madre madres nube nubes torre torres frase "
        "frases base bases mente mentes piel pieles cárcel cárceles gente".split()),
    feminine_endings=("a", "as", "ción", "ciones", "sión", "siones", "dad", "dades", "tad",
                      "tades", "tud", "tudes", "umbre", "umbres"),
    masculine_nouns=frozenset(
        "día días problema problemas sistema sistemas programa programas tema temas mapa "
        "mapas idioma idiomas clima climas planeta planetas poema poemas dilema dilemas "
        "esquema esquemas síntoma síntomas drama dramas diploma diplomas sofá sofás "
        "tranvía tranvías mediodía mediodías pijama pijamas panorama panoramas fantasma "
        "fantasmas aroma aromas lema lemas crucigrama crucigramas telegrama telegramas "
        "atlas gas para hasta nada ya contra sobra más mas una la esa esta cada".split()),
    feminine_forms=((r"veintiuno\b", "veintiuna"), (r"\buno\b", "una"),
                    (r"ientos\b", "ientas")),
    before_noun_forms=((r"veintiuno\b", "veintiún"), (r"\buno\b", "un")),
    million_words=("millón", "millones", "billón", "billones"),
    not_nouns=frozenset("y o e u ni de del a al en por para con sin entre hasta desde más menos que es son fue era está están hay sobre contra según durante como cuando donde si no ya también solo sólo".split()),
    emoji_proper_nouns=("Navidad", "Tokio", "Japón", "San Valentín"),
    date_cues=frozenset({"el", "del", "al", "desde", "hasta", "lunes", "martes", "miércoles",
                         "jueves", "viernes", "sábado", "domingo", "día", "fecha"}),
)

_FR = Language(
    code_block=("Exemple de code, une ligne, dans le texte.", "Exemple de code, {n} lignes, dans le texte."),
    code="fr", num2words="fr", decimal_word="virgule", decimal_mode="number",
    words={
        "note": "Note",
        "and": "et", "or": "ou", "to": "à", "percent": "pour cent", "plus": "plus",
        "minus": "moins", "times": "fois", "by": "par", "equals": "égal",
        "less": "inférieur à", "greater": "supérieur à", "less_eq": "inférieur ou égal à",
        "greater_eq": "supérieur ou égal à", "approx": "environ",
        "plus_minus": "plus ou moins", "at": "arobase", "dot": "point", "slash": "barre oblique",
        "hashtag": "hashtag", "number": "numéro", "section": "section",
        "sections": "sections", "paragraph": "paragraphe", "version": "version",
        "dash": "tiret", "pipe": "barre verticale", "asterisk": "astérisque",
        "backslash": "barre oblique inversée", "tilde": "tilde", "underscore": "tiret bas",
        "caret": "accent circonflexe", "hash": "dièse", "degrees": "degrés",
        "half": "demi", "halves": "demis", "quarter": "quart", "quarters": "quarts",
        "over": "sur", "hours": "heures",
        "comma": "virgule",
        "colon": "deux-points",
        "semicolon": "point-virgule",
        "exclamation": "point d'exclamation",
        "question": "point d'interrogation",
        "quote": "apostrophe",
        "double_quote": "guillemet",
        "backtick": "accent grave",
        "open_paren": "parenthèse ouvrante",
        "close_paren": "parenthèse fermante",
        "open_bracket": "crochet ouvrant",
        "close_bracket": "crochet fermant",
        "open_brace": "accolade ouvrante",
        "close_brace": "accolade fermante",
        "ampersand": "esperluette",
        "dollar": "dollar",
        "percent_sign": "pour cent",
    },
    units={
        "km": ("kilomètre", "kilomètres"), "m": ("mètre", "mètres"),
        "cm": ("centimètre", "centimètres"), "mm": ("millimètre", "millimètres"),
        "kg": ("kilo", "kilos"), "g": ("gramme", "grammes"),
        "mg": ("milligramme", "milligrammes"), "ml": ("millilitre", "millilitres"),
        "l": ("litre", "litres"), "km/h": ("kilomètre-heure", "kilomètres-heure"),
        "°C": ("degré Celsius", "degrés Celsius"), "h": ("heure", "heures"),
        "min": ("minute", "minutes"), "s": ("seconde", "secondes"),
        "Mo": ("mégaoctet", "mégaoctets"), "Go": ("gigaoctet", "gigaoctets"),
    },
    currencies={
        "USD": (("dollar", "dollars"), ("cent", "cents")),
        "EUR": (("euro", "euros"), ("centime", "centimes")),
        "GBP": (("livre", "livres"), ("penny", "pence")),
        "CHF": (("franc", "francs"), ("centime", "centimes")),
    },
    abbreviations=(
        (r"\bM\.(?=\s+[A-Z])", "monsieur"), (r"\bMme(?=\s)", "madame"),
        (r"\bMmes(?=\s)", "mesdames"), (r"\bMlle(?=\s)", "mademoiselle"),
        (r"\bMM\.(?=\s)", "messieurs"), (r"\bDr(?=\s)", "docteur"),
        (r"\bp\.\s?ex\.", "par exemple"), (r"\bc\.-à-d\.", "c'est-à-dire"),
        (r"\betc\.", "et cetera"), (r"\benv\.(?=\s)", "environ"),
        (r"\bp\.(?=\s*\d)", "page"), (r"\bchap\.(?=\s*\d)", "chapitre"),
        (r"\bvol\.(?=\s*\d)", "volume"), (r"\bn°(?=\s*\d)", "numéro"),
        (r"\bSt(?=[\s-])", "Saint"), (r"\bSte(?=[\s-])", "Sainte"),
        (r"\bIer\b", "premier"), (r"\bIre\b", "première"),
    ),
    roman_cardinal_after=("chapitre", "Chapitre", "tome", "Tome", "partie", "Partie",
                          "acte", "Acte", "Guerre mondiale", "livre", "Livre", "Ve", "IVe"),
    regnal_cardinal_from=2,
    ordinal_suffix=r"(?:ers?|res?|ères?|e|es|ème|èmes|d|de|nd|nde)(?!\w)",
    date_day="first-ordinal", date_template="{day} {month} {year}",
    time_template="{hour} heures {minute}",
    feminine_nouns=frozenset(
        "personne personnes semaine semaines heure heures minute minutes seconde secondes "
        "fois page pages année années femme femmes fille filles chose choses langue langues "
        "ligne lignes étape étapes idée idées journée journées nuit nuits soirée soirées "
        "classe classes question questions règle règles ville villes maison maisons "
        "voiture voitures étoile étoiles erreur erreurs main mains fleur fleurs porte "
        "portes table tables chambre chambres photo photos image images lettre lettres "
        "raison raisons fin mère mères sœur sœurs part parts partie parties tasse tasses "
        "cuillère cuillères bouteille bouteilles pomme pommes tonne tonnes école écoles "
        "victime victimes réponse réponses".split()),
    feminine_endings=("tion", "tions", "sion", "sions", "té", "tés", "ure", "ures", "ette",
                      "ettes", "ence", "ences", "ance", "ances", "ée", "ées", "ie", "ies"),
    masculine_nouns=frozenset(
        "musée musées lycée lycées trophée trophées génie génies incendie incendies "
        "parapluie parapluies été étés côté côtés comité comités pâté pâtés traité "
        "traités athée".split()),
    feminine_forms=((r"\bun$", "une"),),
    million_words=("million", "millions", "milliard", "milliards"),
    not_nouns=frozenset("et ou de du des à au aux en par pour avec sans entre vers sur sous que qui est sont était plus moins si ne pas".split()),
    emoji_proper_nouns=("Noël", "Tokyo", "Japon", "Saint-Valentin"),
    date_cues=frozenset({"le", "du", "au", "dès", "depuis", "jusqu'au", "avant", "après",
                         "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
                         "dimanche", "daté"}),
)

_DE = Language(
    code_block=("Codebeispiel, eine Zeile, im Text.", "Codebeispiel, {n} Zeilen, im Text."),
    code="de", num2words="de", decimal_word="Komma", decimal_mode="digits", year_form=True,
    words={
        "note": "Anmerkung",
        "and": "und", "or": "oder", "to": "bis", "percent": "Prozent", "plus": "plus",
        "minus": "minus", "times": "mal", "by": "mal", "equals": "gleich",
        "less": "kleiner als", "greater": "größer als", "less_eq": "kleiner oder gleich",
        "greater_eq": "größer oder gleich", "approx": "ungefähr",
        "plus_minus": "plus minus", "at": "at", "dot": "Punkt", "slash": "Schrägstrich",
        "hashtag": "Hashtag", "number": "Nummer", "section": "Paragraf",
        "sections": "Paragrafen", "paragraph": "Absatz", "version": "Version",
        "dash": "Strich", "pipe": "senkrechter Strich", "asterisk": "Sternchen",
        "backslash": "Backslash", "tilde": "Tilde", "underscore": "Unterstrich",
        "caret": "Zirkumflex", "hash": "Raute", "degrees": "Grad",
        "half": "halb", "halves": "Halbe", "quarter": "Viertel", "quarters": "Viertel",
        "over": "durch", "hours": "Uhr",
        "comma": "Komma",
        "colon": "Doppelpunkt",
        "semicolon": "Semikolon",
        "exclamation": "Ausrufezeichen",
        "question": "Fragezeichen",
        "quote": "Apostroph",
        "double_quote": "Anführungszeichen",
        "backtick": "Backtick",
        "open_paren": "Klammer auf",
        "close_paren": "Klammer zu",
        "open_bracket": "eckige Klammer auf",
        "close_bracket": "eckige Klammer zu",
        "open_brace": "geschweifte Klammer auf",
        "close_brace": "geschweifte Klammer zu",
        "ampersand": "Und-Zeichen",
        "dollar": "Dollarzeichen",
        "percent_sign": "Prozentzeichen",
    },
    units={
        "km": ("Kilometer", "Kilometer"), "m": ("Meter", "Meter"),
        "cm": ("Zentimeter", "Zentimeter"), "mm": ("Millimeter", "Millimeter"),
        "kg": ("Kilogramm", "Kilogramm"), "g": ("Gramm", "Gramm"),
        "mg": ("Milligramm", "Milligramm"), "ml": ("Milliliter", "Milliliter"),
        "l": ("Liter", "Liter"), "km/h": ("Kilometer pro Stunde", "Kilometer pro Stunde"),
        "°C": ("Grad Celsius", "Grad Celsius"), "h": ("Stunde", "Stunden"),
        "Std.": ("Stunde", "Stunden"), "min": ("Minute", "Minuten"),
        "Min.": ("Minute", "Minuten"), "s": ("Sekunde", "Sekunden"),
        "MB": ("Megabyte", "Megabyte"), "GB": ("Gigabyte", "Gigabyte"),
    },
    currencies={
        "USD": (("Dollar", "Dollar"), ("Cent", "Cent")),
        "EUR": (("Euro", "Euro"), ("Cent", "Cent")),
        "GBP": (("Pfund", "Pfund"), ("Penny", "Pence")),
        "CHF": (("Franken", "Franken"), ("Rappen", "Rappen")),
    },
    abbreviations=(
        (r"\bz\.\s?B\.", "zum Beispiel"), (r"\bd\.\s?h\.", "das heißt"),
        (r"\bu\.\s?a\.", "unter anderem"), (r"\busw\.", "und so weiter"),
        (r"\bbzw\.", "beziehungsweise"), (r"\bca\.", "circa"), (r"\bggf\.", "gegebenenfalls"),
        (r"\bvgl\.", "vergleiche"), (r"\bsog\.", "sogenannt"), (r"\bevtl\.", "eventuell"),
        (r"\binsb\.", "insbesondere"), (r"\bNr\.(?=\s*\d)", "Nummer"),
        (r"\bS\.(?=\s*\d)", "Seite"), (r"\bKap\.(?=\s*\d)", "Kapitel"),
        (r"\bHr\.(?=\s)", "Herr"), (r"\bFr\.(?=\s+[A-Z])", "Frau"),
        (r"\bDr\.(?=\s)", "Doktor"), (r"\bProf\.(?=\s)", "Professor"),
        (r"\bStr\.", "Straße"), (r"\bu\.\s?U\.", "unter Umständen"),
        (r"\bo\.\s?Ä\.", "oder Ähnliches"), (r"\bzzgl\.", "zuzüglich"),
        (r"\binkl\.", "inklusive"), (r"\bmind\.", "mindestens"), (r"\bmax\.", "maximal"),
    ),
    roman_cardinal_after=("Kapitel", "Teil", "Band", "Weltkrieg", "Akt", "Buch", "Artikel",
                          "Stufe", "Klasse"),
    ordinal_suffix=r"\.(?=\s+(?:[A-ZÄÖÜ][a-zäöüß]|Jahrhundert|Mal|Stock|Platz))",
    date_day="ordinal", date_template="{day} {month} {year}",
    time_template="{hour} Uhr {minute}",
    feminine_nouns=frozenset(
        "person personen frau frauen stadt städte nacht nächte zeit zeiten welt hand hände "
        "tür türen art arten zahl zahlen wahl antwort antworten mark tat taten "
        "fahrt fahrten kraft kräfte macht nummer".split()),
    feminine_endings=("ung", "heit", "keit", "schaft", "ion", "tät", "ik", "ie", "ei", "enz",
                      "anz", "e"),
    masculine_nouns=frozenset(
        "ende auge name käse junge gebäude interesse kunde kollege affe löwe hase gedanke "
        "glaube buchstabe friede wille bote erbe gefährte zeuge experte knabe "
        "neffe bursche franzose grieche rabe riese sklave".split()),
    feminine_forms=((r"^eins$", "eine"),),
    before_noun_forms=((r"^eins$", "ein"),),
    # Two-way prepositions are taken as dative: before a number they mostly say
    # when or where ("in einer Woche", "vor einem Jahr", "an einem Tag").
    case_prepositions={
        **dict.fromkeys("mit nach seit von aus bei zu ab außer gegenüber samt binnen "
                        "in an vor zwischen".split(), "dat"),
        **dict.fromkeys("für durch gegen ohne um".split(), "acc"),
    },
    case_forms={("dat", "f"): "einer", ("dat", "m"): "einem", ("dat", "n"): "einem",
                ("acc", "f"): "eine", ("acc", "m"): "einen", ("acc", "n"): "ein"},
    invariable_nouns=frozenset({"uhr"}),
    common_masculine_nouns=frozenset(
        "tag tage monat moment augenblick abend morgen mittag nachmittag vormittag termin "
        "schritt versuch punkt euro dollar cent franken meter kilometer zentimeter "
        "millimeter liter mann freund brief satz fehler grund weg platz preis wert fall "
        "raum ort tisch stuhl hund baum film text titel abschnitt absatz artikel kurs "
        "monatslohn winter sommer herbst frühling januar februar märz april mai juni juli "
        "august september oktober november dezember montag dienstag mittwoch donnerstag "
        "freitag samstag sonntag rat anruf besuch arzt patient schüler lehrer mensch "
        "kilogramm".split()),
    million_words=("Million", "Millionen", "Milliarde", "Milliarden"),
    emoji_lowercase=frozenset(
        "mit und oder von vom in im am an auf aus bei für gegen hinter neben ohne über "
        "unter vor zum zur zu der die das den dem des ein eine einem einen einer eines "
        "hoch runter nach oben unten links rechts nicht zwei drei vier fünf sechs sieben "
        "acht neun zehn elf zwölf halb sich".split()),
    emoji_adjective_stems=frozenset(
        "rot blau grün gelb schwarz weiß orang lila braun grau rosa pink groß klein "
        "mittler hell dunkel mittelhell mitteldunkel neu alt heiß kalt hoch tief gebrochen "
        "fröhlich traurig lachend weinend vereinigt link recht oben unten offen "
        "geschlossen leer voll schwer leicht gut schlecht lang kurz rund spitz weit "
        "besorgt müd wütend verärgert schlafend lächelnd grinsend zwinkernd küssend "
        "erstaunt erschrocken nachdenklich verwirrt glücklich".split()),
    emoji_adjective_endings=("end", "ende", "endes", "ender", "enden", "endem", "ig", "ige",
                             "iges", "iger", "igen", "lich", "liche", "liches", "licher",
                             "lichen", "isch", "ische", "isches", "ischer", "ischen"),
    emoji_proper_nouns=("Tokyo",),
    date_cues=frozenset({"am", "vom", "zum", "bis", "ab", "seit", "montag", "dienstag",
                         "mittwoch", "donnerstag", "freitag", "samstag", "sonntag",
                         "datum"}),
)

_IT = Language(
    code_block=("Esempio di codice, una riga, nel testo.", "Esempio di codice, {n} righe, nel testo."),
    code="it", num2words="it", decimal_word="virgola", decimal_mode="number",
    words={
        "note": "Nota",
        "and": "e", "or": "o", "to": "a", "percent": "per cento", "plus": "più",
        "minus": "meno", "times": "per", "by": "per", "equals": "uguale a",
        "less": "minore di", "greater": "maggiore di", "less_eq": "minore o uguale a",
        "greater_eq": "maggiore o uguale a", "approx": "circa", "plus_minus": "più o meno",
        "at": "chiocciola", "dot": "punto", "slash": "barra", "hashtag": "hashtag",
        "number": "numero", "section": "sezione", "sections": "sezioni",
        "paragraph": "paragrafo", "version": "versione", "dash": "trattino",
        "pipe": "barra verticale", "asterisk": "asterisco", "backslash": "barra rovesciata",
        "tilde": "tilde", "underscore": "trattino basso", "caret": "accento circonflesso",
        "hash": "cancelletto", "degrees": "gradi", "half": "mezzo", "halves": "mezzi",
        "quarter": "quarto", "quarters": "quarti", "over": "su", "hours": "ore",
        "comma": "virgola",
        "colon": "due punti",
        "semicolon": "punto e virgola",
        "exclamation": "punto esclamativo",
        "question": "punto interrogativo",
        "quote": "apostrofo",
        "double_quote": "virgolette",
        "backtick": "accento grave",
        "open_paren": "parentesi aperta",
        "close_paren": "parentesi chiusa",
        "open_bracket": "parentesi quadra aperta",
        "close_bracket": "parentesi quadra chiusa",
        "open_brace": "parentesi graffa aperta",
        "close_brace": "parentesi graffa chiusa",
        "ampersand": "e commerciale",
        "dollar": "dollaro",
        "percent_sign": "percento",
    },
    units={
        "km": ("chilometro", "chilometri"), "m": ("metro", "metri"),
        "cm": ("centimetro", "centimetri"), "kg": ("chilo", "chili"),
        "g": ("grammo", "grammi"), "mg": ("milligrammo", "milligrammi"),
        "ml": ("millilitro", "millilitri"), "l": ("litro", "litri"),
        "km/h": ("chilometro orario", "chilometri orari"),
        "°C": ("grado Celsius", "gradi Celsius"), "h": ("ora", "ore"),
        "min": ("minuto", "minuti"),
    },
    currencies={
        "USD": (("dollaro", "dollari"), ("centesimo", "centesimi")),
        "EUR": (("euro", "euro"), ("centesimo", "centesimi")),
        "GBP": (("sterlina", "sterline"), ("penny", "penny")),
    },
    abbreviations=(
        (r"\bad es\.", "ad esempio"), (r"\bes\.(?=\s)", "esempio"), (r"\becc\.", "eccetera"),
        (r"\bSig\.(?=\s)", "signor"), (r"\bSig\.ra(?=\s)", "signora"),
        (r"\bDott\.(?=\s)", "dottor"), (r"\bpag\.(?=\s*\d)", "pagina"),
        (r"\bcap\.(?=\s*\d)", "capitolo"), (r"\bn\.(?=\s*\d)", "numero"),
    ),
    roman_cardinal_after=("capitolo", "Capitolo", "parte", "Parte", "Guerra Mondiale",
                          "libro", "Libro", "secolo"),
    regnal_cardinal_from=11,
    ordinal_suffix=r"(?:[ºª°])",
    date_day="first-ordinal", date_template="{day} {month} {year}",
    time_template="{hour} e {minute}",
    feminine_nouns=frozenset(
        "volta volte notte notti parte parti chiave chiavi persona persone ora ore "
        "settimana settimane pagina pagine madre madri fine gente legge leggi mano "
        "immagine immagini classe classi".split()),
    feminine_endings=("a", "zione", "zioni", "sione", "sioni", "tà", "tù"),
    masculine_nouns=frozenset(
        "problema problemi sistema sistemi programma programmi tema temi clima poema "
        "pianeta dramma diploma cinema papà".split()),
    feminine_forms=((r"^uno$", "una"),),
    before_noun_forms=((r"^uno$", "un"),),
    million_words=("milione", "milioni", "miliardo", "miliardi"),
    not_nouns=frozenset("e o di del della a al in nel per con senza tra fra fino da dal più meno che è sono".split()),
    emoji_proper_nouns=("Natale", "Tokyo", "Giappone", "San Valentino"),
    date_cues=frozenset({"il", "dal", "al", "del", "fino", "entro", "lunedì", "martedì",
                         "mercoledì", "giovedì", "venerdì", "sabato", "domenica"}),
)

_PT = Language(
    code_block=("Exemplo de código, uma linha, no texto.", "Exemplo de código, {n} linhas, no texto."),
    code="pt", num2words="pt", decimal_word="vírgula", decimal_mode="number",
    words={
        "note": "Nota",
        "and": "e", "or": "ou", "to": "a", "percent": "por cento", "plus": "mais",
        "minus": "menos", "times": "vezes", "by": "por", "equals": "igual a",
        "less": "menor que", "greater": "maior que", "less_eq": "menor ou igual a",
        "greater_eq": "maior ou igual a", "approx": "aproximadamente",
        "plus_minus": "mais ou menos", "at": "arroba", "dot": "ponto", "slash": "barra",
        "hashtag": "hashtag", "number": "número", "section": "seção", "sections": "seções",
        "paragraph": "parágrafo", "version": "versão", "dash": "traço",
        "pipe": "barra vertical", "asterisk": "asterisco", "backslash": "barra invertida",
        "tilde": "til", "underscore": "sublinhado", "caret": "circunflexo",
        "hash": "cerquilha", "degrees": "graus", "half": "meio", "halves": "meios",
        "quarter": "quarto", "quarters": "quartos", "over": "sobre", "hours": "horas",
        "comma": "vírgula",
        "colon": "dois pontos",
        "semicolon": "ponto e vírgula",
        "exclamation": "ponto de exclamação",
        "question": "ponto de interrogação",
        "quote": "aspa simples",
        "double_quote": "aspas",
        "backtick": "acento grave",
        "open_paren": "abre parênteses",
        "close_paren": "fecha parênteses",
        "open_bracket": "abre colchetes",
        "close_bracket": "fecha colchetes",
        "open_brace": "abre chaves",
        "close_brace": "fecha chaves",
        "ampersand": "e comercial",
        "dollar": "cifrão",
        "percent_sign": "por cento",
    },
    units={
        "km": ("quilômetro", "quilômetros"), "m": ("metro", "metros"),
        "cm": ("centímetro", "centímetros"), "kg": ("quilo", "quilos"),
        "g": ("grama", "gramas"), "mg": ("miligrama", "miligramas"),
        "ml": ("mililitro", "mililitros"), "l": ("litro", "litros"),
        "km/h": ("quilômetro por hora", "quilômetros por hora"),
        "°C": ("grau Celsius", "graus Celsius"), "h": ("hora", "horas"),
        "min": ("minuto", "minutos"),
    },
    currencies={
        "USD": (("dólar", "dólares"), ("centavo", "centavos")),
        "EUR": (("euro", "euros"), ("cêntimo", "cêntimos")),
        "BRL": (("real", "reais"), ("centavo", "centavos")),
        "GBP": (("libra", "libras"), ("pêni", "pence")),
    },
    abbreviations=(
        (r"\bp\.\s?ex\.", "por exemplo"), (r"\bSr\.(?=\s)", "senhor"),
        (r"\bSra\.(?=\s)", "senhora"), (r"\bDr\.(?=\s)", "doutor"),
        (r"\bDra\.(?=\s)", "doutora"), (r"\betc\.", "etcétera"),
        (r"\bpág\.(?=\s*\d)", "página"), (r"\bcap\.(?=\s*\d)", "capítulo"),
        (r"\bnº(?=\s*\d)", "número"), (r"\bV\.\s?Exa\.", "Vossa Excelência"),
    ),
    roman_cardinal_after=("capítulo", "Capítulo", "século", "Século", "parte", "Parte",
                          "Guerra Mundial", "livro", "Livro"),
    regnal_cardinal_from=11,
    ordinal_suffix=r"(?:\.?[ºª°])",
    date_day="cardinal", date_template="{day} de {month} de {year}",
    time_template="{hour} e {minute}",
    feminine_nouns=frozenset(
        "vez vezes mulher mulheres noite noites parte partes mãe mães gente tarde tardes "
        "fonte fontes rede redes lei leis mão mãos flor flores luz luzes voz vozes razão "
        "razões imagem imagens cor cores dor dores ordem ordens".split()),
    feminine_endings=("a", "as", "ção", "ções", "dade", "dades", "gem", "gens", "são",
                      "sões"),
    masculine_nouns=frozenset(
        "dia dias problema problemas sistema sistemas programa programas tema temas mapa "
        "mapas idioma idiomas clima climas planeta planetas poema poemas telefonema "
        "telefonemas cinema cinemas sofá sofás para até nada mais contra cada".split()),
    feminine_forms=((r"\bum\b", "uma"), (r"\bdois\b", "duas"), (r"entos\b", "entas")),
    million_words=("milhão", "milhões", "bilhão", "bilhões"),
    not_nouns=frozenset("e ou de do da dos das a à ao em no na por para com sem entre até desde mais menos que é são foi".split()),
    emoji_proper_nouns=("Natal", "Tóquio", "Japão", "São Valentim"),
    date_cues=frozenset({"em", "no", "do", "desde", "até", "dia", "segunda", "terça",
                         "quarta", "quinta", "sexta", "sábado", "domingo"}),
)

_AR = Language(
    code_block=("مثال برمجي، سطر واحد، في النص.", "مثال برمجي، {n} أسطر، في النص."),
    code="ar", num2words="ar", decimal_word="فاصلة", decimal_mode="digits",
    words={"note": "ملاحظة",
           "percent": "بالمئة", "to": "إلى", "and": "و", "or": "أو", "plus": "زائد",
           "minus": "ناقص", "equals": "يساوي", "at": "at", "dot": "نقطة", "slash": "/",
           "number": "رقم", "degrees": "درجة"},
    roman_cardinal_after=(), regnal_ordinal=False,
)

_ZH = Language(
    code_block=("代码示例，一行，见正文。", "代码示例，{n}行，见正文。"),
    code="zh", num2words="", decimal_word="点", decimal_mode="digits",
    words={"note": "注",
           "percent": "百分之", "to": "到", "and": "和", "or": "或", "plus": "加",
           "minus": "负", "equals": "等于", "at": "at", "dot": "点", "slash": "/",
           "number": "号", "degrees": "度",
           "classifiers": "个位本只条张次天件种家名辆台部份周小岁人间层杯瓶块句篇首"},
    roman_cardinal_after=(), regnal_ordinal=False,
)

#: Language-neutral rules only: URLs, e-mail, emoji, markup.
NEUTRAL = Language(code="", num2words="", has_rules=False, words={}, regnal_ordinal=False)

#: What is said for a code block in a language that has no table above: (one line,
#: {n} lines). A book in such a language otherwise heard the English words in its
#: own voice. The number stays in digits, which the voices of these languages read.
#: Where a plural would agree with the number, the count is put after a colon.
CODE_BLOCK_NOTICES: dict[str, tuple[str, str]] = {
    "nl": ("Codevoorbeeld, één regel, in de tekst.", "Codevoorbeeld, {n} regels, in de tekst."),
    "sv": ("Kodexempel, en rad, i texten.", "Kodexempel, {n} rader, i texten."),
    "da": ("Kodeeksempel, én linje, i teksten.", "Kodeeksempel, {n} linjer, i teksten."),
    "nb": ("Kodeeksempel, én linje, i teksten.", "Kodeeksempel, {n} linjer, i teksten."),
    "no": ("Kodeeksempel, én linje, i teksten.", "Kodeeksempel, {n} linjer, i teksten."),
    "fi": ("Koodiesimerkki, yksi rivi, tekstissä.", "Koodiesimerkki, {n} riviä, tekstissä."),
    "pl": ("Przykład kodu, jeden wiersz, w tekście.",
           "Przykład kodu, liczba wierszy: {n}, w tekście."),
    "cs": ("Ukázka kódu, jeden řádek, v textu.", "Ukázka kódu, počet řádků: {n}, v textu."),
    "ru": ("Пример кода, одна строка, в тексте.", "Пример кода, строк: {n}, в тексте."),
    "uk": ("Приклад коду, один рядок, у тексті.", "Приклад коду, рядків: {n}, у тексті."),
    "el": ("Παράδειγμα κώδικα, μία γραμμή, στο κείμενο.",
           "Παράδειγμα κώδικα, {n} γραμμές, στο κείμενο."),
    "tr": ("Kod örneği, bir satır, metinde.", "Kod örneği, {n} satır, metinde."),
    "he": ("דוגמת קוד, שורה אחת, בטקסט.", "דוגמת קוד, {n} שורות, בטקסט."),
    "fa": ("نمونه کد، یک خط، در متن.", "نمونه کد، {n} خط، در متن."),
    "hi": ("कोड का उदाहरण, एक पंक्ति, पाठ में।", "कोड का उदाहरण, {n} पंक्तियाँ, पाठ में।"),
    "ja": ("コード例、一行、本文を参照。", "コード例、{n}行、本文を参照。"),
    "ko": ("코드 예시, 한 줄, 본문 참조.", "코드 예시, {n}줄, 본문 참조."),
    "vi": ("Ví dụ mã, một dòng, trong văn bản.", "Ví dụ mã, {n} dòng, trong văn bản."),
    "id": ("Contoh kode, satu baris, di dalam teks.", "Contoh kode, {n} baris, di dalam teks."),
}

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in
                                  (_EN, _ES, _FR, _DE, _IT, _PT, _AR, _ZH)}


def language_for(tag: str) -> Language:
    """The table for a BCP 47 tag ("en-GB" -> English); :data:`NEUTRAL` if none."""
    base = tag.split("-")[0].split("_")[0].lower()
    lang = LANGUAGES.get(base)
    if lang is None:
        return NEUTRAL
    if base == "pt" and tag.lower().replace("_", "-") in ("pt-br",):
        return replace(lang, num2words="pt_BR")  # dezesseis, not dezasseis
    if base == "en" and tag.lower() not in ("en", "en-us"):
        # Outside the US the day comes first (16/9 is the 16th of September).
        return replace(lang, month_first=False)
    return lang
