-- Top 3 customers of 2024 by paid revenue (reference solution).
WITH qualifying AS (
    SELECT id, customer_id
    FROM orders
    WHERE status = 'paid'
      AND ordered_at >= '2024-01-01 00:00:00'
      AND ordered_at < '2025-01-01 00:00:00'
),
per_order AS (
    SELECT q.id AS order_id,
           q.customer_id,
           COALESCE(SUM(i.quantity * i.unit_price_cents), 0) AS revenue_cents
    FROM qualifying AS q
    LEFT JOIN order_items AS i ON i.order_id = q.id
    GROUP BY q.id, q.customer_id
)
SELECT c.id AS customer_id,
       c.name AS name,
       SUM(p.revenue_cents) AS revenue_cents,
       COUNT(*) AS order_count
FROM per_order AS p
JOIN customers AS c ON c.id = p.customer_id
GROUP BY c.id, c.name
HAVING SUM(p.revenue_cents) > 0
ORDER BY revenue_cents DESC, name ASC, customer_id ASC
LIMIT 3;
