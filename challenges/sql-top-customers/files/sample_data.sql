-- A few rows to try your query on:
--   sqlite3 shop.db < schema.sql && sqlite3 shop.db < sample_data.sql && sqlite3 shop.db < query.sql
INSERT INTO customers (id, name, country) VALUES
    (1, 'Ada', 'GB'), (2, 'Grace', 'US'), (3, 'Linus', 'FI'), (4, 'Margaret', 'US');

INSERT INTO orders (id, customer_id, ordered_at, status) VALUES
    (10, 1, '2024-02-01 10:00:00', 'paid'),
    (11, 1, '2024-03-15 12:30:00', 'paid'),
    (12, 2, '2024-05-20 09:00:00', 'paid'),
    (13, 3, '2024-07-04 18:45:00', 'refunded'),
    (14, 4, '2023-12-31 23:59:59', 'paid'),
    (15, 4, '2024-11-11 11:11:11', 'paid');

INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
    (10, 'keyboard', 1, 8900),
    (10, 'cable', 2, 900),
    (11, 'monitor', 1, 21900),
    (12, 'laptop', 1, 129900),
    (13, 'mouse', 1, 2500),
    (14, 'desk', 1, 45000),
    (15, 'chair', 1, 30000);
