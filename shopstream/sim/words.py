"""The raw material of the simulated catalog: categories, brands, words, price ranges.

Each category names its products ``"{brand} {adjective} {noun}"``. Bundle themes list
nouns whose products are bought together (the first noun is the anchor), and the
complement pairs say which noun makes which other noun likely, possibly across
categories. Only :mod:`shopstream.sim.catalog` reads this module.

Examples
--------
>>> len(CATEGORIES)
15
>>> next(c for c in CATEGORIES if c.name == "Electronics").bundles[0]
('Smartphone', 'Phone Case', 'Fast Charger', 'Screen Protector')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORIES", "COMPLEMENT_NOUNS", "CategorySpec"]


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """How one category's products are named and priced.

    Parameters
    ----------
    name
        Display name, e.g. ``"Home & Kitchen"``.
    slug
        URL-safe name, e.g. ``"home-kitchen"``.
    share
        Relative share of the catalog's products.
    median_price, price_sigma, min_price, max_price
        Log-normal price: median, spread of its logarithm, and the clamp range.
    max_quantity
        The largest quantity a shopper puts in the cart at once (consumables go higher).
    brands, adjectives, nouns
        Word lists for product names.
    bundles
        Noun groups bought together; every noun must be in ``nouns``.
    """

    name: str
    slug: str
    share: float
    median_price: float
    price_sigma: float
    min_price: float
    max_price: float
    max_quantity: int
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    bundles: tuple[tuple[str, ...], ...]


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "Electronics", "electronics", 1.3, 79.0, 0.9, 9.0, 1999.0, 2,
        ("Acme", "Voltix", "Nexon", "Lumina", "Orbit", "Zentra", "Kestrel"),
        ("Wireless", "Smart", "Ultra", "Compact", "Pro", "Portable", "4K"),
        ("Smartphone", "Phone Case", "Fast Charger", "Screen Protector", "Laptop",
         "Laptop Sleeve", "Wireless Mouse", "Headphones", "Bluetooth Speaker", "Camera",
         "Memory Card", "Camera Bag", "Game Console", "Game Controller", "Smartwatch",
         "Tablet"),
        (("Smartphone", "Phone Case", "Fast Charger", "Screen Protector"),
         ("Laptop", "Laptop Sleeve", "Wireless Mouse"),
         ("Camera", "Memory Card", "Camera Bag"),
         ("Game Console", "Game Controller"),
         ("Tablet", "Screen Protector")),
    ),
    CategorySpec(
        "Books", "books", 1.4, 14.0, 0.45, 3.99, 89.0, 2,
        ("Harbor House", "Northwind Press", "Quill & Ink", "Bluebell Books", "Atlas Editions"),
        ("Illustrated", "Bestselling", "Hardcover", "Paperback", "Collector's", "Pocket"),
        ("Cookbook", "Mystery Novel", "Sci-Fi Novel", "Biography", "Travel Guide",
         "Picture Book", "Poetry Collection", "Fantasy Saga", "Self-Help Guide",
         "History Atlas", "Coloring Book", "Language Course"),
        (("Fantasy Saga", "Fantasy Saga"), ("Travel Guide", "Language Course")),
    ),
    CategorySpec(
        "Home & Kitchen", "home-kitchen", 1.2, 34.0, 0.8, 4.99, 699.0, 2,
        ("Casa", "Hearthstone", "Kitchly", "Oakridge", "Brio", "Nordhem"),
        ("Stainless", "Non-Stick", "Ceramic", "Classic", "Modern", "Deluxe"),
        ("Coffee Maker", "Coffee Grinder", "Mug Set", "Chef's Knife", "Cutting Board",
         "Frying Pan", "Saucepan", "Blender", "Toaster", "Bath Towel", "Bed Sheets",
         "Pillow", "Storage Jars", "Dish Rack"),
        (("Coffee Maker", "Coffee Grinder", "Mug Set"),
         ("Chef's Knife", "Cutting Board"),
         ("Frying Pan", "Saucepan"),
         ("Bed Sheets", "Pillow")),
    ),
    CategorySpec(
        "Sports", "sports", 1.0, 39.0, 0.8, 5.99, 899.0, 2,
        ("Stride", "Peakline", "Aerofit", "Trailmark", "Vantage", "Kinetic"),
        ("Lightweight", "Pro", "Training", "All-Weather", "Competition", "Ergonomic"),
        ("Yoga Mat", "Yoga Blocks", "Resistance Bands", "Dumbbells", "Tennis Racket",
         "Tennis Balls", "Water Bottle", "Running Socks", "Bike Helmet", "Bike Light",
         "Football", "Jump Rope"),
        (("Yoga Mat", "Yoga Blocks", "Resistance Bands"),
         ("Tennis Racket", "Tennis Balls"),
         ("Bike Helmet", "Bike Light", "Water Bottle")),
    ),
    CategorySpec(
        "Toys", "toys", 0.9, 24.0, 0.7, 4.99, 249.0, 2,
        ("Playwise", "Tiny Titans", "Brickton", "Funfair", "Wonderbox"),
        ("Classic", "Deluxe", "Junior", "Magnetic", "Wooden", "Glow-in-the-Dark"),
        ("Building Set", "Board Game", "Puzzle", "Plush Bear", "Toy Car", "Race Track",
         "Doll House", "Doll", "Card Game", "Kite", "Science Kit"),
        (("Race Track", "Toy Car"), ("Doll House", "Doll")),
    ),
    CategorySpec(
        "Beauty", "beauty", 0.9, 17.0, 0.6, 2.99, 149.0, 3,
        ("Lumiere", "Verdant", "Silk & Stone", "Aurelle", "Pure Bloom"),
        ("Hydrating", "Organic", "Gentle", "Volumizing", "Matte", "Radiant"),
        ("Shampoo", "Conditioner", "Face Cream", "Serum", "Lipstick", "Mascara",
         "Nail Polish", "Sunscreen", "Body Lotion", "Makeup Brushes", "Cleanser"),
        (("Shampoo", "Conditioner"), ("Cleanser", "Serum", "Face Cream")),
    ),
    CategorySpec(
        "Grocery", "grocery", 1.3, 6.5, 0.55, 0.99, 49.0, 6,
        ("Green Valley", "Farmstead", "Daily Harvest", "Sunmeadow", "Old Mill"),
        ("Organic", "Whole", "Roasted", "Classic", "Family-Size", "Gluten-Free"),
        ("Ground Coffee", "Green Tea", "Pasta", "Pasta Sauce", "Olive Oil", "Granola",
         "Peanut Butter", "Dark Chocolate", "Rice", "Almonds", "Oat Milk", "Crackers"),
        (("Pasta", "Pasta Sauce", "Olive Oil"), ("Granola", "Oat Milk")),
    ),
    CategorySpec(
        "Fashion", "fashion", 1.2, 39.0, 0.7, 7.99, 399.0, 2,
        ("Urban Thread", "Maison Vale", "Coastline", "Northpeak", "Vela"),
        ("Slim-Fit", "Classic", "Linen", "Leather", "Oversized", "Vintage"),
        ("T-Shirt", "Jeans", "Belt", "Hoodie", "Sneakers", "Running Shoes", "Dress",
         "Scarf", "Winter Jacket", "Beanie", "Gloves", "Handbag"),
        (("Jeans", "Belt"), ("Winter Jacket", "Scarf", "Beanie", "Gloves")),
    ),
    CategorySpec(
        "Garden", "garden", 0.7, 29.0, 0.9, 3.99, 799.0, 3,
        ("Greenthumb", "Bloomfield", "Terra", "Yardly", "Willow & Co"),
        ("Heavy-Duty", "Cordless", "Weatherproof", "Compact", "Premium", "Organic"),
        ("Lawn Mower", "Grass Seed", "Garden Hose", "Hose Nozzle", "Pruning Shears",
         "Gardening Gloves", "Plant Pots", "Potting Soil", "Bird Feeder", "Bird Seed",
         "Patio Chair"),
        (("Garden Hose", "Hose Nozzle"), ("Plant Pots", "Potting Soil"),
         ("Bird Feeder", "Bird Seed")),
    ),
    CategorySpec(
        "Automotive", "automotive", 0.6, 27.0, 0.9, 4.99, 499.0, 2,
        ("Roadmaster", "Torqline", "Autozen", "Drivewell", "Motorix"),
        ("Heavy-Duty", "Universal", "Premium", "All-Season", "Quick-Fit", "Synthetic"),
        ("Motor Oil", "Oil Filter", "Wiper Blades", "Car Phone Mount", "Dash Cam",
         "Jump Starter", "Seat Covers", "Floor Mats", "Tire Inflator", "Car Wax",
         "Microfiber Cloths"),
        (("Motor Oil", "Oil Filter"), ("Car Wax", "Microfiber Cloths"),
         ("Seat Covers", "Floor Mats")),
    ),
    CategorySpec(
        "Pet Supplies", "pet-supplies", 0.8, 19.0, 0.75, 2.99, 199.0, 4,
        ("Happy Paws", "Whisker", "Barkley", "Petopia", "Furever"),
        ("Grain-Free", "Natural", "Chew-Proof", "Cozy", "Senior", "Puppy"),
        ("Dog Food", "Dog Treats", "Dog Leash", "Dog Collar", "Dog Bed", "Cat Food",
         "Cat Litter", "Litter Box", "Scratching Post", "Fish Food", "Pet Shampoo"),
        (("Dog Leash", "Dog Collar"), ("Cat Litter", "Litter Box"),
         ("Dog Food", "Dog Treats")),
    ),
    CategorySpec(
        "Office", "office", 0.7, 15.0, 0.9, 1.99, 599.0, 4,
        ("Paperline", "Deskmate", "Inkwell", "Officium", "Notable"),
        ("Ergonomic", "Recycled", "Premium", "Compact", "Wireless", "Refillable"),
        ("Printer", "Printer Ink", "Printer Paper", "Notebook", "Gel Pens",
         "Desk Organizer", "Office Chair", "Desk Lamp", "Stapler", "Sticky Notes",
         "Whiteboard", "Dry-Erase Markers"),
        (("Printer", "Printer Ink", "Printer Paper"), ("Whiteboard", "Dry-Erase Markers"),
         ("Notebook", "Gel Pens")),
    ),
    CategorySpec(
        "Music", "music", 0.6, 29.0, 1.0, 4.99, 1499.0, 2,
        ("Soundcraft", "Melodia", "Riffmaster", "Harmonix", "Tempo"),
        ("Acoustic", "Electric", "Vintage", "Studio", "Beginner", "Limited-Edition"),
        ("Acoustic Guitar", "Guitar Strings", "Guitar Tuner", "Capo", "Vinyl Record",
         "Record Cleaner", "Keyboard Piano", "Keyboard Stand", "Drum Sticks", "Ukulele",
         "Microphone", "Mic Stand"),
        (("Acoustic Guitar", "Guitar Strings", "Guitar Tuner", "Capo"),
         ("Keyboard Piano", "Keyboard Stand"), ("Microphone", "Mic Stand"),
         ("Vinyl Record", "Record Cleaner")),
    ),
    CategorySpec(
        "Health", "health", 0.8, 14.0, 0.7, 1.99, 199.0, 3,
        ("Vitalis", "Nutrawell", "Pureform", "CareOne", "Thrive"),
        ("Daily", "Extra-Strength", "Sugar-Free", "Natural", "Sensitive", "Family"),
        ("Multivitamin", "Vitamin D", "Fish Oil", "Protein Powder", "Shaker Bottle",
         "First Aid Kit", "Thermometer", "Toothbrush", "Toothpaste", "Dental Floss",
         "Hand Sanitizer"),
        (("Protein Powder", "Shaker Bottle"), ("Toothbrush", "Toothpaste", "Dental Floss"),
         ("Multivitamin", "Vitamin D", "Fish Oil")),
    ),
    CategorySpec(
        "Baby", "baby", 0.7, 22.0, 0.8, 2.99, 499.0, 4,
        ("Little Sprout", "Cuddle Co", "Babybloom", "Tinytoes", "Nestling"),
        ("Soft", "Hypoallergenic", "Organic", "Newborn", "Travel", "Washable"),
        ("Diapers", "Baby Wipes", "Baby Bottles", "Bottle Brush", "Pacifier", "Stroller",
         "Stroller Organizer", "Baby Monitor", "Crib Sheets", "Teething Toy", "Bibs"),
        (("Diapers", "Baby Wipes"), ("Baby Bottles", "Bottle Brush"),
         ("Stroller", "Stroller Organizer")),
    ),
)

# (category, noun) -> (category, noun): owning the first makes buying the second likely.
COMPLEMENT_NOUNS: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("Home & Kitchen", "Coffee Maker"), ("Grocery", "Ground Coffee")),
    (("Home & Kitchen", "Frying Pan"), ("Grocery", "Olive Oil")),
    (("Books", "Cookbook"), ("Home & Kitchen", "Chef's Knife")),
    (("Fashion", "Running Shoes"), ("Sports", "Running Socks")),
    (("Electronics", "Smartphone"), ("Automotive", "Car Phone Mount")),
    (("Electronics", "Headphones"), ("Music", "Vinyl Record")),
    (("Sports", "Dumbbells"), ("Health", "Protein Powder")),
    (("Pet Supplies", "Dog Bed"), ("Pet Supplies", "Dog Treats")),
    (("Pet Supplies", "Cat Food"), ("Pet Supplies", "Cat Litter")),
    (("Baby", "Stroller"), ("Baby", "Diapers")),
    (("Garden", "Lawn Mower"), ("Automotive", "Motor Oil")),
    (("Garden", "Grass Seed"), ("Garden", "Garden Hose")),
    (("Office", "Desk Lamp"), ("Office", "Desk Organizer")),
    (("Toys", "Board Game"), ("Toys", "Card Game")),
    (("Beauty", "Lipstick"), ("Beauty", "Makeup Brushes")),
    (("Grocery", "Green Tea"), ("Home & Kitchen", "Mug Set")),
    (("Electronics", "Laptop"), ("Office", "Desk Lamp")),
    (("Music", "Ukulele"), ("Music", "Guitar Tuner")),
)
