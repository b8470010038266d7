"""Tiny SQL→description pairs shared by the training tests: three databases (shop, school, music),
so database-aware splits have something to keep apart."""

SHOP_SCHOOL = [
    {
        "sql": "SELECT name FROM customers WHERE city = 'Paris'",
        "description": "List the names of customers who live in Paris.",
        "db_id": "shop",
    },
    {"sql": "SELECT count(*) FROM orders", "description": "How many orders are there?", "db_id": "shop"},
    {
        "sql": "SELECT product, sum(amount) FROM orders GROUP BY product",
        "description": "Show the total amount ordered for each product.",
        "db_id": "shop",
    },
    {
        "sql": "SELECT name FROM students WHERE age > 18",
        "description": "List the names of students older than 18.",
        "db_id": "school",
    },
    {"sql": "SELECT avg(grade) FROM exams", "description": "What is the average exam grade?", "db_id": "school"},
    {
        "sql": "SELECT T1.name FROM students AS T1 JOIN exams AS T2 ON T1.id = T2.student_id WHERE T2.grade = 100",
        "description": "Find the names of students who scored 100 in an exam.",
        "db_id": "school",
    },
]
MUSIC = [
    {
        "sql": "SELECT title FROM songs WHERE year < 1990",
        "description": "List the titles of songs released before 1990.",
        "db_id": "music",
    },
    {
        "sql": "SELECT genre, count(*) FROM songs GROUP BY genre",
        "description": "Count the songs in each genre.",
        "db_id": "music",
    },
    {
        "sql": "SELECT name FROM singers UNION SELECT name FROM bands",
        "description": "List the names of all singers and bands.",
        "db_id": "music",
    },
]
MUSIC_MORE = [
    {"sql": "SELECT max(price) FROM albums", "description": "What is the highest album price?", "db_id": "music"},
    {
        "sql": "SELECT name FROM bands WHERE country = 'UK' ORDER BY name",
        "description": "List the names of bands from the UK in alphabetical order.",
        "db_id": "music",
    },
]
