"""Replacement names for the renamed training variants of the demo benchmark.

Each pool lists plausible other English names for one identifier of the training domains in
`routesql.bench.demo_domains`; `routesql.bench.demo_variants` draws from them to build new
training schemas, so that a small model has to read table and column names from its prompt
instead of memorising eight schemas.

Rules every word follows (tests check the mechanical ones):

- lowercase ``snake_case``, never ending in ``_id`` (that suffix marks foreign keys);
- table words are nouns whose plural is the regular one that `routesql.questions.words.plural` builds
  ("class" → "classes", "commodity" → "commodities"), and whose article follows the first letter
  ("an airman", "a jet");
- no SQL keyword of SQLite or sqlglot (``order``, ``match``, ``case``, ``show``, ``session``
  ...), so the canonical SQL stays valid and parseable without quoting.

Words shared with the dev databases (``name``, ``city``, ``price``, ``car`` ...) may appear here:
they are filtered out when variants are drawn, from the dev domain definitions themselves.
"""

from __future__ import annotations

# Keyed by the training table name; "department" is shared by the hospital and company domains.
TABLE_WORDS: dict[str, tuple[str, ...]] = {
    # school
    "teacher": ("tutor", "instructor", "lecturer", "mentor", "educator", "professor", "schoolmaster"),
    "course": ("module", "class", "lesson", "seminar", "workshop", "lecture", "tutorial"),
    "student": ("pupil", "learner", "scholar", "trainee", "apprentice", "cadet", "undergrad"),
    "enrollment": ("registration", "enrolment", "signup", "participation", "admission", "roster_entry"),
    # library
    "author": ("writer", "novelist", "poet", "essayist", "scribe", "columnist", "wordsmith"),
    "book": ("volume", "novel", "tome", "publication", "edition", "manuscript", "paperback", "hardcover"),
    "member": ("patron", "subscriber", "reader", "borrower", "cardholder", "affiliate", "library_client"),
    "loan": ("borrowing", "checkout", "lending", "withdrawal", "circulation", "issuance"),
    # hospital (and company_hr for "department")
    "department": ("division", "section", "office", "bureau", "wing", "service", "directorate"),
    "doctor": ("physician", "surgeon", "clinician", "medic", "practitioner", "specialist", "internist"),
    "patient": ("client", "inpatient", "outpatient", "sufferer", "admittee", "convalescent"),
    "appointment": ("consultation", "visit", "checkup", "encounter", "booking", "examination"),
    # retail_store
    "store": ("shop", "outlet", "boutique", "emporium", "kiosk", "supermarket", "storefront", "mart"),
    "product": ("item", "article", "commodity", "ware", "gadget", "offering"),
    "customer": ("shopper", "buyer", "patron", "purchaser", "consumer", "client"),
    "sale": ("purchase", "receipt", "invoice", "basket", "order_line", "acquisition"),
    # airline
    "airport": ("airfield", "aerodrome", "terminal", "hub", "airstrip", "gateway", "landing_field"),
    "plane": ("jet", "airliner", "airplane", "jetliner", "aeroplane", "turboprop"),
    "pilot": ("aviator", "flyer", "captain", "navigator", "copilot"),
    "flight": ("trip", "journey", "voyage", "sortie", "leg", "crossing", "shuttle"),
    # music_label
    "artist": ("musician", "performer", "singer", "band", "vocalist", "composer", "songwriter"),
    "album": ("record", "release", "compilation", "disc", "mixtape", "recording", "anthology"),
    "song": ("track", "tune", "single", "melody", "piece", "ballad", "anthem"),
    "concert": ("gig", "performance", "recital", "tour_stop", "festival_set", "event"),
    # sports_league
    "team": ("club", "squad", "side", "franchise", "outfit", "crew"),
    "player": ("athlete", "competitor", "footballer", "recruit", "starter", "teammate"),
    "coach": ("manager", "trainer", "tactician", "skipper", "gaffer", "strategist"),
    "game": ("fixture", "contest", "bout", "clash", "meet", "showdown", "duel"),
    # company_hr
    "employee": ("worker", "staffer", "associate", "colleague", "contractor", "operative"),
    "project": ("initiative", "venture", "program", "scheme", "undertaking", "mission", "endeavour"),
    "assignment": ("posting", "task", "duty", "deployment", "engagement", "placement", "secondment"),
}

# Keyed by the training column name; "person_name" is the key of a ``name`` column that holds
# people's names (the other ``name`` columns name things: departments, stores, teams).
COLUMN_WORDS: dict[str, tuple[str, ...]] = {
    # shared by several domains
    "name": ("label", "designation", "moniker", "alias", "tag", "display_label", "caption"),
    "person_name": ("moniker", "alias", "nickname", "handle", "full_label", "signature", "display_label"),
    "title": ("heading", "caption", "headline", "label", "designation", "tagline"),
    "city": ("town", "hometown", "municipality", "locality", "location", "home_base", "metro_area", "settlement"),
    "country": ("nation", "homeland", "land", "origin", "territory", "home_nation"),
    "age": ("maturity", "lifetime", "birthdays"),
    "salary": ("wage", "pay", "earnings", "income", "stipend", "compensation", "remuneration"),
    "price": ("charge", "tariff", "amount", "list_amount", "outlay", "asking_amount"),
    "hire_date": ("hire_time", "onboarding_time", "recruitment_time", "employment_since"),
    "budget": ("funding", "allocation", "allowance", "spending_limit", "grant_amount", "appropriation"),
    "nationality": ("citizenship", "passport", "heritage", "descent"),
    "genre": ("style", "kind", "classification", "section", "tradition"),
    "attendance": ("audience", "crowd", "turnout", "headcount", "spectators"),
    "status": ("state", "stage", "phase", "progress", "outcome", "situation"),
    # school
    "subject": ("discipline", "field", "topic", "area", "focus"),
    "difficulty": ("level", "tier", "intensity", "rigor"),
    "credits": ("units", "credit_points", "weighting", "study_hours"),
    "gpa": ("grade_average", "mean_mark", "grade_point", "merit_score", "standing"),
    "admission_year": ("intake", "entry_cohort", "admission_cohort", "matriculation_cohort"),
    "score": ("mark", "grade", "result", "percentage", "assessment"),
    "semester": ("term", "period", "quarter", "trimester"),
    # library
    "birth_year": ("cohort", "generation", "natal_cohort", "vintage"),
    "pages": ("page_count", "length", "leaf_count", "folios", "extent"),
    "publish_date": ("publication_time", "issue_time", "print_time", "imprint_time"),
    "join_date": ("signup_time", "registration_time", "joining_time", "admission_time"),
    "loan_date": ("checkout_time", "borrow_time", "lending_time", "issue_time"),
    "days": ("duration", "span", "period_length", "term_length"),
    # hospital
    "floor_number": ("level", "storey", "floor_level", "deck", "tier"),
    "seniority": ("grade", "tier", "career_stage", "standing", "echelon"),
    "blood_type": ("blood_group", "serotype", "blood_class", "blood_category"),
    "appointment_date": ("visit_time", "slot_time", "scheduled_time", "booking_time"),
    "fee": ("charge", "tariff", "bill_amount", "invoice_amount", "payment"),
    # retail_store
    "opening_date": ("launch_time", "inauguration_time", "established_time", "debut_time"),
    "floor_area": ("floor_space", "footprint", "surface_area", "square_footage", "sales_area"),
    "category": ("section", "aisle", "product_line", "segment", "family"),
    "stock": ("inventory", "supply", "on_hand", "reserve", "stockpile", "units_available"),
    "loyalty_level": ("membership_tier", "reward_tier", "loyalty_tier", "loyalty_band", "perk_level", "club_status"),
    "quantity": ("units", "volume", "qty", "item_count", "pieces"),
    "sale_date": ("purchase_time", "sold_time", "checkout_time", "billing_time"),
    # airline
    "runways": ("landing_strips", "strips", "tarmacs", "lanes", "gates"),
    "model": ("designation", "series", "type_code", "version"),
    "manufacturer": ("maker", "builder", "producer", "vendor", "constructor", "brand"),
    "seats": ("capacity", "berths", "places", "passenger_capacity", "chairs"),
    "year_built": ("vintage", "build_vintage", "production_era", "commission_cohort"),
    "flight_hours": ("airtime", "hours_flown", "logged_hours", "flying_time"),
    "flight_number": ("trip_code", "service_code", "route_code", "designator", "reference"),
    "distance": ("mileage", "length", "span", "kilometres", "reach", "route_length"),
    "departure_date": ("takeoff_time", "departure_time", "boarding_time", "launch_time"),
    # music_label
    "debut_year": ("debut_season", "debut_era", "breakthrough_season", "career_onset"),
    "release_date": ("release_time", "launch_time", "drop_time", "issue_time"),
    "sales": ("units_sold", "copies_sold", "shipments", "circulation", "turnover"),
    "duration": ("length", "runtime", "play_time", "seconds", "running_length"),
    "plays": ("streams", "listens", "spins", "airplays", "play_count"),
    "concert_date": ("gig_time", "show_time", "performance_time", "event_time"),
    "ticket_price": ("admission_fee", "entry_fee", "door_charge", "pass_charge"),
    # sports_league
    "founded_year": ("inception", "formation", "establishment", "foundation_era"),
    "stadium_capacity": ("arena_capacity", "ground_capacity", "venue_size", "crowd_limit"),
    "field_position": ("role", "spot", "post", "playing_role", "slot", "duty"),
    "experience_years": ("tenure", "experience", "career_length", "service_length"),
    "season": ("campaign", "edition", "cycle", "championship"),
    "game_date": ("kickoff_time", "play_time", "tipoff_time", "event_time"),
    "points": ("tally", "haul", "marks", "runs", "score"),
    # company_hr
    "job_title": ("occupation", "job_role", "profession", "vocation", "trade"),
    "start_date": ("kickoff_time", "launch_time", "commencement_time", "inception_time"),
    "hours": ("effort", "workload", "time_spent", "labour", "billable_hours"),
    "task_type": ("role", "duty", "task_kind", "responsibility", "part"),
}
