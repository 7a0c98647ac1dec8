"""The databases of the demo benchmark: eight training domains and three unseen dev domains.

Every domain follows the same naming conventions on purpose, because a tiny model has to carry
what it learned on the training databases over to dev databases it never saw:

- every table has an ``id INTEGER PRIMARY KEY``;
- a foreign key to table ``x`` is always called ``x_id`` and references ``x(id)``;
- table names are singular nouns whose plural is regular (``coach`` → "coaches");
- each column has a *role* that tells the question templates how it may be used: ``label`` (the
  name/title a person would ask for), ``category`` (a few repeated text values), ``number``,
  ``date`` (ISO ``YYYY-MM-DD`` text), ``id`` and ``fk``.

A column's ``gen`` names how its values are drawn (see `routesql.bench.demo.generate_rows`):
``("person",)``, ``("phrase", firsts, seconds)``, ``("pick", values)``, ``("city",)``,
``("country",)`` (the country of the row's city when it has one), ``("int", lo, hi, step)``,
``("real", lo, hi)``, ``("date", first_year, last_year)`` and ``("code", prefix)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    sql_type: str  # INTEGER, REAL, TEXT or DATE
    role: str  # id, label, category, number, date, fk
    gen: tuple = ()
    references: str | None = None  # the parent table of a foreign key
    summable: bool = True  # False for numbers whose sum means nothing (years, floor numbers)


@dataclass(frozen=True)
class TableSpec:
    name: str
    rows: int
    columns: tuple[ColumnSpec, ...]


@dataclass(frozen=True)
class DomainSpec:
    db_id: str
    tables: tuple[TableSpec, ...]  # parents before children, so inserts satisfy foreign keys


# --- value pools -------------------------------------------------------------------------------

FIRST_NAMES = (
    "Alice",
    "Amir",
    "Anna",
    "Ben",
    "Carla",
    "Chen",
    "Daniel",
    "Diego",
    "Elena",
    "Emma",
    "Farah",
    "Felix",
    "Grace",
    "Hannah",
    "Hugo",
    "Ines",
    "Ivan",
    "Jonas",
    "Julia",
    "Kenji",
    "Laura",
    "Leo",
    "Lina",
    "Lucas",
    "Maria",
    "Marta",
    "Mei",
    "Nadia",
    "Noah",
    "Omar",
    "Paula",
    "Priya",
    "Rafael",
    "Rosa",
    "Samuel",
    "Sara",
    "Tomas",
    "Vera",
    "Victor",
    "Yusuf",
    "Zoe",
    "Oscar",
)
LAST_NAMES = (
    "Adams",
    "Alvarez",
    "Bauer",
    "Becker",
    "Brown",
    "Castro",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kim",
    "Klein",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Nakamura",
    "Novak",
    "Olsen",
    "Park",
    "Patel",
    "Perez",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Smith",
    "Tanaka",
    "Weber",
    "Wilson",
    "Young",
    "Ziegler",
)
CITY_COUNTRY = (
    ("Lyon", "France"),
    ("Paris", "France"),
    ("Berlin", "Germany"),
    ("Munich", "Germany"),
    ("Madrid", "Spain"),
    ("Seville", "Spain"),
    ("Rome", "Italy"),
    ("Milan", "Italy"),
    ("London", "United Kingdom"),
    ("Leeds", "United Kingdom"),
    ("Toronto", "Canada"),
    ("Vancouver", "Canada"),
    ("Boston", "United States"),
    ("Chicago", "United States"),
    ("Denver", "United States"),
    ("Tokyo", "Japan"),
    ("Osaka", "Japan"),
    ("Sydney", "Australia"),
    ("Perth", "Australia"),
    ("Lisbon", "Portugal"),
    ("Porto", "Portugal"),
    ("Dublin", "Ireland"),
    ("Oslo", "Norway"),
    ("Vienna", "Austria"),
    ("Zurich", "Switzerland"),
    ("Warsaw", "Poland"),
    ("Seoul", "South Korea"),
    ("Lima", "Peru"),
    ("Cairo", "Egypt"),
    ("Nairobi", "Kenya"),
)
NATIONALITIES = (
    "French",
    "German",
    "Spanish",
    "Italian",
    "British",
    "Canadian",
    "American",
    "Japanese",
    "Brazilian",
    "Dutch",
    "Polish",
    "Korean",
    "Mexican",
    "Swedish",
)
TITLE_WORDS = (
    "Silent",
    "Golden",
    "Hidden",
    "Broken",
    "Distant",
    "Crimson",
    "Bright",
    "Frozen",
    "Lost",
    "Wild",
    "Quiet",
    "Endless",
    "Secret",
    "Electric",
    "Ancient",
    "Velvet",
)
TITLE_NOUNS = (
    "River",
    "Garden",
    "Mountain",
    "Harbor",
    "Forest",
    "Window",
    "Letter",
    "Journey",
    "Island",
    "Shadow",
    "Morning",
    "Kingdom",
    "Mirror",
    "Valley",
    "Storm",
    "Bridge",
    "Horizon",
    "Echo",
)

PERSON = ("person",)
CITY = ("city",)
COUNTRY = ("country",)
TITLE = ("phrase", TITLE_WORDS, TITLE_NOUNS)


# --- column constructors: short so each domain reads as a schema ---------------------------------


def pk() -> ColumnSpec:
    return ColumnSpec("id", "INTEGER", "id")


def label(name: str, gen: tuple) -> ColumnSpec:
    return ColumnSpec(name, "TEXT", "label", gen)


def category(name: str, gen: tuple) -> ColumnSpec:
    return ColumnSpec(name, "TEXT", "category", gen)


def pick(*values: str) -> tuple:
    return ("pick", values)


def integer(name: str, lo: int, hi: int, step: int = 1) -> ColumnSpec:
    return ColumnSpec(name, "INTEGER", "number", ("int", lo, hi, step))


def point(name: str, lo: int, hi: int) -> ColumnSpec:
    """A whole number that names a point, not an amount (a year, a floor): never summed."""
    return ColumnSpec(name, "INTEGER", "number", ("int", lo, hi, 1), summable=False)


def real(name: str, lo: float, hi: float) -> ColumnSpec:
    return ColumnSpec(name, "REAL", "number", ("real", lo, hi))


def date(name: str, first_year: int, last_year: int) -> ColumnSpec:
    return ColumnSpec(name, "DATE", "date", ("date", first_year, last_year))


def fk(parent: str) -> ColumnSpec:
    return ColumnSpec(f"{parent}_id", "INTEGER", "fk", (), parent)


def table(name: str, rows: int, *columns: ColumnSpec) -> TableSpec:
    return TableSpec(name, rows, (pk(), *columns))


# --- training domains ----------------------------------------------------------------------------

SCHOOL = DomainSpec(
    "school",
    (
        table(
            "teacher",
            40,
            label("name", PERSON),
            category(
                "subject",
                pick("Mathematics", "Physics", "Chemistry", "Biology", "History", "Geography", "English", "Music"),
            ),
            category("city", CITY),
            integer("salary", 32000, 78000, 500),
            date("hire_date", 1995, 2022),
        ),
        table(
            "course",
            80,
            label("title", TITLE),
            category("difficulty", pick("Beginner", "Intermediate", "Advanced")),
            integer("credits", 1, 6),
            fk("teacher"),
        ),
        table(
            "student",
            300,
            label("name", PERSON),
            category("city", CITY),
            integer("age", 11, 18),
            real("gpa", 1.5, 4.0),
            point("admission_year", 2015, 2024),
        ),
        table(
            "enrollment",
            600,
            fk("student"),
            fk("course"),
            integer("score", 40, 100),
            category("semester", pick("Spring", "Summer", "Autumn", "Winter")),
        ),
    ),
)

LIBRARY = DomainSpec(
    "library",
    (
        table("author", 60, label("name", PERSON), category("country", COUNTRY), point("birth_year", 1900, 1995)),
        table(
            "book",
            300,
            label("title", TITLE),
            category(
                "genre", pick("Fiction", "Mystery", "Poetry", "Science", "History", "Fantasy", "Biography", "Romance")
            ),
            real("price", 5, 60),
            integer("pages", 80, 900),
            date("publish_date", 1950, 2023),
            fk("author"),
        ),
        table(
            "member",
            200,
            label("name", PERSON),
            category("city", CITY),
            integer("age", 16, 85),
            date("join_date", 2010, 2024),
        ),
        table("loan", 500, fk("book"), fk("member"), date("loan_date", 2018, 2024), integer("days", 1, 60)),
    ),
)

HOSPITAL = DomainSpec(
    "hospital",
    (
        table(
            "department",
            12,
            label(
                "name",
                pick(
                    "Cardiology",
                    "Neurology",
                    "Oncology",
                    "Pediatrics",
                    "Radiology",
                    "Surgery",
                    "Emergency",
                    "Dermatology",
                    "Orthopedics",
                    "Psychiatry",
                    "Urology",
                    "Geriatrics",
                ),
            ),
            point("floor_number", 1, 9),
            integer("budget", 200000, 5000000, 10000),
        ),
        table(
            "doctor",
            80,
            label("name", PERSON),
            category("seniority", pick("Resident", "Attending", "Consultant", "Chief")),
            integer("salary", 90000, 300000, 1000),
            date("hire_date", 1990, 2023),
            fk("department"),
        ),
        table(
            "patient",
            300,
            label("name", PERSON),
            category("city", CITY),
            integer("age", 1, 95),
            category("blood_type", pick("A+", "A-", "B+", "B-", "O+", "O-", "AB+", "AB-")),
        ),
        table(
            "appointment",
            600,
            fk("doctor"),
            fk("patient"),
            date("appointment_date", 2021, 2024),
            real("fee", 40, 400),
            category("status", pick("Scheduled", "Completed", "Cancelled")),
        ),
    ),
)

RETAIL_STORE = DomainSpec(
    "retail_store",
    (
        table(
            "store",
            30,
            label(
                "name",
                (
                    "phrase",
                    ("Northside", "Sunny", "Corner", "Family", "Urban", "Village", "Harbor"),
                    ("Market", "Shop", "Outlet", "Emporium", "Store"),
                ),
            ),
            category("city", CITY),
            category("country", COUNTRY),
            date("opening_date", 1990, 2022),
            integer("floor_area", 300, 5000, 10),
        ),
        table(
            "product",
            150,
            label(
                "name",
                (
                    "phrase",
                    ("Smart", "Classic", "Compact", "Deluxe", "Mini", "Pro", "Eco", "Ultra"),
                    (
                        "Lamp",
                        "Kettle",
                        "Backpack",
                        "Speaker",
                        "Blender",
                        "Jacket",
                        "Drone",
                        "Puzzle",
                        "Racket",
                        "Watch",
                    ),
                ),
            ),
            category("category", pick("Electronics", "Clothing", "Toys", "Garden", "Kitchen", "Sports", "Books")),
            real("price", 2, 900),
            integer("stock", 0, 500),
        ),
        table(
            "customer",
            300,
            label("name", PERSON),
            category("city", CITY),
            integer("age", 18, 80),
            category("loyalty_level", pick("Bronze", "Silver", "Gold", "Platinum")),
        ),
        table(
            "sale",
            700,
            fk("store"),
            fk("product"),
            fk("customer"),
            integer("quantity", 1, 10),
            date("sale_date", 2022, 2024),
        ),
    ),
)

AIRLINE = DomainSpec(
    "airline",
    (
        table(
            "airport",
            30,
            label(
                "name",
                (
                    "phrase",
                    (
                        "Northgate",
                        "Eastfield",
                        "Westmoor",
                        "Southport",
                        "Kingsley",
                        "Riverside",
                        "Lakeview",
                        "Highland",
                        "Clearwater",
                    ),
                    ("Airport", "International", "Airfield", "Regional"),
                ),
            ),
            category("city", CITY),
            category("country", COUNTRY),
            integer("runways", 1, 6),
        ),
        table(
            "plane",
            40,
            label(
                "model",
                (
                    "phrase",
                    ("Skyliner", "Aero", "Falcon", "Condor", "Orion", "Vega", "Comet", "Zephyr"),
                    ("100", "200", "300", "400", "500", "700"),
                ),
            ),
            category("manufacturer", pick("Boeing", "Airbus", "Embraer", "Bombardier")),
            integer("seats", 50, 400),
            point("year_built", 1995, 2023),
        ),
        table(
            "pilot",
            60,
            label("name", PERSON),
            category("nationality", ("pick", NATIONALITIES)),
            integer("age", 25, 64),
            integer("flight_hours", 500, 20000, 10),
        ),
        table(
            "flight",
            500,
            label("flight_number", ("code", "RA")),
            integer("distance", 200, 9000),
            date("departure_date", 2023, 2024),
            real("price", 50, 1500),
            fk("airport"),
            fk("plane"),
            fk("pilot"),
        ),
    ),
)

MUSIC_LABEL = DomainSpec(
    "music_label",
    (
        table(
            "artist",
            50,
            label("name", PERSON),
            category("country", COUNTRY),
            category("genre", pick("Pop", "Rock", "Jazz", "Hip Hop", "Classical", "Electronic", "Folk")),
            point("debut_year", 1970, 2022),
        ),
        table(
            "album",
            150,
            label("title", TITLE),
            date("release_date", 1975, 2024),
            real("price", 5, 30),
            integer("sales", 1000, 2000000, 100),
            fk("artist"),
        ),
        table(
            "song",
            600,
            label("title", TITLE),
            integer("duration", 120, 420),
            integer("plays", 100, 5000000),
            fk("album"),
        ),
        table(
            "concert",
            200,
            category("city", CITY),
            date("concert_date", 2015, 2024),
            integer("attendance", 200, 60000),
            real("ticket_price", 20, 250),
            fk("artist"),
        ),
    ),
)

SPORTS_LEAGUE = DomainSpec(
    "sports_league",
    (
        table(
            "team",
            24,
            label(
                "name",
                (
                    "phrase",
                    ("Red", "Blue", "Iron", "Golden", "Thunder", "Royal"),
                    ("Hawks", "Lions", "Rangers", "Sharks", "Bears", "Falcons"),
                ),
            ),
            category("city", CITY),
            point("founded_year", 1880, 2010),
            integer("stadium_capacity", 5000, 90000, 100),
        ),
        table(
            "player",
            300,
            label("name", PERSON),
            category("field_position", pick("Goalkeeper", "Defender", "Midfielder", "Forward")),
            category("nationality", ("pick", NATIONALITIES)),
            integer("age", 17, 39),
            integer("salary", 40000, 9000000, 1000),
            fk("team"),
        ),
        table(
            "coach",
            30,
            label("name", PERSON),
            category("nationality", ("pick", NATIONALITIES)),
            integer("experience_years", 1, 35),
            fk("team"),
        ),
        table(
            "game",
            400,
            point("season", 2018, 2024),
            date("game_date", 2018, 2024),
            integer("attendance", 1000, 90000),
            integer("points", 60, 130),
            fk("team"),
        ),
    ),
)

COMPANY_HR = DomainSpec(
    "company_hr",
    (
        table(
            "department",
            10,
            label(
                "name",
                pick(
                    "Sales",
                    "Marketing",
                    "Finance",
                    "Engineering",
                    "Legal",
                    "Support",
                    "Research",
                    "Operations",
                    "Logistics",
                    "Design",
                ),
            ),
            category("city", CITY),
            integer("budget", 100000, 3000000, 5000),
        ),
        table(
            "employee",
            300,
            label("name", PERSON),
            category(
                "job_title", pick("Analyst", "Engineer", "Manager", "Clerk", "Designer", "Consultant", "Director")
            ),
            category("city", CITY),
            integer("salary", 28000, 150000, 500),
            date("hire_date", 2000, 2024),
            fk("department"),
        ),
        table(
            "project",
            60,
            label(
                "name",
                (
                    "phrase",
                    ("Apollo", "Zephyr", "Nimbus", "Atlas", "Phoenix", "Titan", "Aurora", "Helix"),
                    ("Portal", "Migration", "Upgrade", "Launch", "Audit", "Platform"),
                ),
            ),
            category("status", pick("Planned", "Active", "Completed", "Paused")),
            integer("budget", 10000, 900000, 1000),
            date("start_date", 2015, 2024),
            fk("department"),
        ),
        table(
            "assignment",
            500,
            fk("employee"),
            fk("project"),
            integer("hours", 5, 400),
            category("task_type", pick("Lead", "Developer", "Tester", "Reviewer", "Advisor")),
        ),
    ),
)

# --- dev domains (never seen in training) --------------------------------------------------------

RESTAURANT_CHAIN = DomainSpec(
    "restaurant_chain",
    (
        table(
            "restaurant",
            30,
            label(
                "name",
                (
                    "phrase",
                    ("Golden", "Blue", "Little", "Old", "Green", "Rustic", "Royal"),
                    ("Spoon", "Fork", "Table", "Kitchen", "Oven", "Garden"),
                ),
            ),
            category("city", CITY),
            category("country", COUNTRY),
            integer("seats", 20, 250),
            date("opening_date", 1985, 2023),
        ),
        table(
            "chef",
            80,
            label("name", PERSON),
            category("nationality", ("pick", NATIONALITIES)),
            category("specialty", pick("Pastry", "Grill", "Sauces", "Seafood", "Vegetarian", "Pasta")),
            integer("salary", 25000, 120000, 500),
            fk("restaurant"),
        ),
        table(
            "dish",
            120,
            label(
                "name",
                (
                    "phrase",
                    ("Spicy", "Roasted", "Smoked", "Grilled", "Creamy", "Crispy"),
                    ("Chicken", "Salmon", "Risotto", "Noodles", "Tacos", "Curry", "Salad", "Burger"),
                ),
            ),
            category("cuisine", pick("Italian", "Mexican", "Japanese", "Indian", "French", "Thai")),
            real("price", 4, 45),
            integer("calories", 150, 1400),
        ),
        table("review", 600, fk("restaurant"), fk("dish"), integer("rating", 1, 5), date("review_date", 2019, 2024)),
    ),
)

MUSEUM = DomainSpec(
    "museum",
    (
        table(
            "museum",
            25,
            label(
                "name",
                (
                    "phrase",
                    ("National", "Modern", "Royal", "City", "Maritime", "Natural", "Civic"),
                    ("Gallery", "Museum", "Art Hall", "Collection"),
                ),
            ),
            category("city", CITY),
            category("country", COUNTRY),
            point("founded_year", 1750, 2015),
            integer("annual_visitors", 5000, 3000000, 100),
        ),
        table(
            "painter",
            60,
            label("name", PERSON),
            category("nationality", ("pick", NATIONALITIES)),
            point("birth_year", 1450, 1990),
        ),
        table(
            "artwork",
            400,
            label("title", TITLE),
            category("medium", pick("Oil", "Watercolor", "Acrylic", "Charcoal", "Ink", "Tempera")),
            point("year_created", 1500, 2020),
            integer("estimated_value", 10000, 50000000, 1000),
            fk("painter"),
            fk("museum"),
        ),
        table(
            "exhibition",
            120,
            label("title", TITLE),
            date("start_date", 2000, 2024),
            integer("visitors", 500, 400000),
            real("ticket_price", 5, 40),
            fk("museum"),
        ),
    ),
)

CAR_RENTAL = DomainSpec(
    "car_rental",
    (
        table(
            "branch",
            25,
            label(
                "name",
                (
                    "phrase",
                    ("Downtown", "Airport", "Harbor", "Central", "Uptown", "Riverside", "Station"),
                    ("Branch", "Depot", "Rentals", "Point"),
                ),
            ),
            category("city", CITY),
            category("country", COUNTRY),
            date("opening_date", 1995, 2023),
        ),
        table(
            "car",
            200,
            label(
                "model",
                (
                    "phrase",
                    ("Astra", "Corsa", "Fiesta", "Golf", "Yaris", "Clio", "Civic", "Octavia"),
                    ("Sport", "Comfort", "Eco", "Plus", "Classic"),
                ),
            ),
            category("make", pick("Toyota", "Ford", "Honda", "Volkswagen", "Renault", "Kia")),
            real("daily_rate", 25, 180),
            integer("seats", 2, 8),
            point("model_year", 2012, 2024),
            fk("branch"),
        ),
        table(
            "renter",
            250,
            label("name", PERSON),
            category("city", CITY),
            integer("age", 18, 80),
            point("license_year", 1975, 2023),
        ),
        table(
            "rental",
            600,
            fk("car"),
            fk("renter"),
            date("start_date", 2020, 2024),
            integer("days", 1, 30),
            real("total_cost", 30, 5000),
        ),
    ),
)

TRAIN_DOMAINS: tuple[DomainSpec, ...] = (
    SCHOOL,
    LIBRARY,
    HOSPITAL,
    RETAIL_STORE,
    AIRLINE,
    MUSIC_LABEL,
    SPORTS_LEAGUE,
    COMPANY_HR,
)
DEV_DOMAINS: tuple[DomainSpec, ...] = (RESTAURANT_CHAIN, MUSEUM, CAR_RENTAL)
