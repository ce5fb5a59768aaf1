"""Word lists of the sample company: people's names, company-name syllables, zones, regions.

Plain data, kept apart so the generator modules stay about behaviour. Order matters: the
generator indexes these tuples, so changing them changes every sample (and its hashes).
"""

from __future__ import annotations

INTERNAL_DOMAIN = "contoso-sales.com"

FIRST_NAMES = (
    "Aarav", "Abigail", "Adele", "Aditi", "Adrian", "Ahmed", "Aiko", "Alan", "Alba", "Alejandro",
    "Alex", "Alice", "Amara", "Amelia", "Ana", "Andre", "Anika", "Anna", "Arjun", "Astrid",
    "Ben", "Bianca", "Bruno", "Camille", "Carlos", "Carmen", "Chen", "Chloe", "Chris", "Clara",
    "Daniel", "Daria", "David", "Diego", "Dmitri", "Elena", "Eli", "Emma", "Erik", "Esther",
    "Ethan", "Fatima", "Felix", "Fiona", "Freya", "Gabriel", "Grace", "Hana", "Hannah", "Hiro",
    "Hugo", "Ines", "Isaac", "Ivan", "Jack", "James", "Jana", "Javier", "Jin", "Joao",
    "Jonas", "Julia", "Kai", "Karim", "Kate", "Kenji", "Kofi", "Laila", "Lars", "Laura",
    "Leo", "Lina", "Lucas", "Lucia", "Maya", "Mei", "Mia", "Miguel", "Nadia", "Nina",
    "Noah", "Nora", "Olivia", "Omar", "Oscar", "Paola", "Priya", "Rafael", "Ravi", "Rosa",
    "Ryan", "Sami", "Sara", "Sofia", "Sven", "Tariq", "Tom", "Valentina", "Wei", "Yuki",
)

LAST_NAMES = (
    "Abara", "Adams", "Ahn", "Alvarez", "Andersen", "Bauer", "Becker", "Bernard", "Bianchi", "Brown",
    "Campbell", "Castro", "Chen", "Clarke", "Costa", "Dubois", "Eriksson", "Evans", "Fischer", "Fontaine",
    "Garcia", "Gomez", "Gupta", "Hansen", "Hartmann", "Hernandez", "Hoffmann", "Hughes", "Ibrahim", "Ito",
    "Jansen", "Jensen", "Johnson", "Kaur", "Khan", "Kim", "Kowalski", "Kumar", "Lambert", "Larsen",
    "Laurent", "Lee", "Lopez", "Martin", "Martinez", "Mehta", "Meyer", "Moreau", "Moreno", "Muller",
    "Murphy", "Nakamura", "Nguyen", "Nielsen", "Novak", "Okafor", "Olsen", "Ortiz", "Park", "Patel",
    "Perez", "Petrov", "Quinn", "Ramos", "Reddy", "Richter", "Rossi", "Roux", "Russo", "Sato",
    "Schmidt", "Schneider", "Silva", "Singh", "Smith", "Sousa", "Suzuki", "Tanaka", "Taylor", "Thomas",
    "Torres", "Tran", "Vargas", "Vogel", "Wagner", "Walker", "Wang", "Weber", "Williams", "Wilson",
    "Wong", "Wright", "Yamamoto", "Yilmaz", "Young", "Zhang", "Zhou", "Ziegler", "Zimmermann", "Zuniga",
)

# Company names: head + middle + tail syllables, then a suffix word.
NAME_HEADS = (
    "Al", "Bel", "Cor", "Dun", "El", "Fair", "Gran", "Hal", "Ir", "Jun", "Kel", "Lum", "Mar", "Nor",
    "Or", "Pel", "Quin", "Ros", "Sol", "Tal", "Ul", "Ver", "Wes", "Xan", "Yor", "Zen", "Ash", "Bright",
    "Cres", "Dal", "Ever", "Fen", "Glen", "Har", "Ken", "Lind", "Mont", "New", "Oak", "Pin", "Red", "Sil",
)
NAME_MIDDLES = (
    "a", "be", "ca", "di", "do", "e", "fi", "ga", "i", "ka", "la", "li", "lo", "ma", "mi", "na",
    "no", "o", "pa", "ra", "ri", "ro", "sa", "si", "ta", "ti", "to", "u", "va", "vi", "wa", "za",
)
NAME_TAILS = (
    "bank", "bridge", "brook", "by", "core", "dale", "dyne", "field", "ford", "gate", "gen", "hold",
    "lex", "line", "link", "lux", "mark", "max", "mont", "nex", "nova", "path", "point", "port",
    "ridge", "sys", "tec", "ton", "tron", "vale", "view", "ware", "wave", "well", "wind", "works",
)
NAME_SUFFIXES = (
    "", "", "", "Group", "Systems", "Industries", "Holdings", "Logistics", "Foods", "Energy", "Health",
    "Motors", "Media", "Retail", "Labs", "Capital", "& Co", "& Sons", "& Partners",
)
SUBSIDIARY_WORDS = ("Europe", "Americas", "Asia Pacific", "Services", "Digital", "Finance")
TLDS = (".com", ".com", ".com", ".com", ".net", ".io", ".co.uk", ".de", ".fr", ".com.au", ".sg", ".ca")
WEBSITE_FORMS = ("https://www.{d}/", "{d}", "http://{d}/en-us/home", "www.{d}", "https://{d}", "https://www.{d}/about")
INDUSTRIES = (
    "Manufacturing", "Retail", "Financial Services", "Healthcare", "Energy", "Public Sector",
    "Media", "Transportation", "Telecommunications", "Professional Services", "Education", "Hospitality",
)
ACCOUNT_TYPES = ("Customer", "Customer", "Customer", "Prospect", "Partner")
CONTACT_TITLES = (
    "CIO", "CTO", "CFO", "VP Operations", "IT Director", "Procurement Manager", "Head of Digital",
    "Finance Director", "Architect", "Project Manager", "Operations Manager", "Security Lead",
)
PERSONAL_DOMAINS = ("gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "proton.me")

# (IANA name, Windows name) per zone; regions list their zones. Sellers of a team spread over its region.
ZONES = (
    ("America/New_York", "Eastern Standard Time"),
    ("America/Chicago", "Central Standard Time"),
    ("America/Denver", "Mountain Standard Time"),
    ("America/Los_Angeles", "Pacific Standard Time"),
    ("Europe/London", "GMT Standard Time"),
    ("Europe/Paris", "Romance Standard Time"),
    ("Europe/Berlin", "W. Europe Standard Time"),
    ("Asia/Singapore", "Singapore Standard Time"),
    ("Australia/Sydney", "AUS Eastern Standard Time"),
    ("Asia/Tokyo", "Tokyo Standard Time"),
)
REGIONS = (  # name, zone indexes
    ("Americas East", (0, 1)),
    ("Americas West", (3, 2)),
    ("EMEA", (4, 5, 6)),
    ("APAC", (7, 8, 9)),
)

# Internal specialist functions: name, LevelDesignation mix, head count per 64 sellers.
SPECIALISTS = (
    ("Solution Specialist", 3),
    ("Technical Specialist", 2),
    ("Licensing Specialist", 1),
    ("Inside Sales", 2),
    ("Customer Success", 2),
)
