-- Return the top 3 customers of 2024: customer_id, name, revenue_cents, order_count.
-- See README.md for the rules.
SELECT
    c.id   AS customer_id,
    c.name AS name,
    0      AS revenue_cents,
    0      AS order_count
FROM customers AS c
ORDER BY c.id
LIMIT 3;
