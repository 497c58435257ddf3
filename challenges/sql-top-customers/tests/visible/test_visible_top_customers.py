from pathlib import Path

# The same rows as the workspace's sample_data.sql, kept here so editing that file is harmless.
SAMPLE = (Path(__file__).resolve().parent / "sample_data.sql").read_text(encoding="utf-8")


def test_sample_data(query):
    assert query(SAMPLE) == [
        (2, "Grace", 129900, 1),
        (1, "Ada", 32600, 2),
        (4, "Margaret", 30000, 1),
    ]


def test_only_paid_orders_count(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'Ann', 'DE'), (2, 'Bo', 'SE');
        INSERT INTO orders VALUES
            (1, 1, '2024-01-10 10:00:00', 'paid'),
            (2, 1, '2024-01-11 10:00:00', 'refunded'),
            (3, 2, '2024-01-12 10:00:00', 'cancelled');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'pen', 1, 100), (2, 'ink', 1, 5000), (3, 'pad', 1, 9000);
        """
    )
    assert rows == [(1, "Ann", 100, 1)]


def test_at_most_three_rows(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'A', 'X'), (2, 'B', 'X'), (3, 'C', 'X'), (4, 'D', 'X');
        INSERT INTO orders VALUES
            (1, 1, '2024-06-01 00:00:00', 'paid'), (2, 2, '2024-06-01 00:00:00', 'paid'),
            (3, 3, '2024-06-01 00:00:00', 'paid'), (4, 4, '2024-06-01 00:00:00', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'x', 1, 100), (2, 'x', 1, 400), (3, 'x', 1, 300), (4, 'x', 1, 200);
        """
    )
    assert rows == [(2, "B", 400, 1), (3, "C", 300, 1), (4, "D", 200, 1)]
