def test_year_boundaries(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'Early', 'X'), (2, 'Late', 'X'), (3, 'Out', 'X');
        INSERT INTO orders VALUES
            (1, 1, '2024-01-01 00:00:00', 'paid'),
            (2, 2, '2024-12-31 23:59:59', 'paid'),
            (3, 3, '2023-12-31 23:59:59', 'paid'),
            (4, 3, '2025-01-01 00:00:00', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'x', 1, 100), (2, 'x', 1, 200), (3, 'x', 1, 10000), (4, 'x', 1, 10000);
        """
    )
    assert rows == [(2, "Late", 200, 1), (1, "Early", 100, 1)]


def test_quantity_multiplies_price(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'Bulk', 'X');
        INSERT INTO orders VALUES (1, 1, '2024-03-03 03:03:03', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'bolt', 250, 12), (1, 'nut', 3, 7);
        """
    )
    assert rows == [(1, "Bulk", 3021, 1)]


def test_orders_with_several_items_count_once(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'Multi', 'X');
        INSERT INTO orders VALUES
            (1, 1, '2024-04-01 08:00:00', 'paid'),
            (2, 1, '2024-04-02 08:00:00', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'a', 1, 100), (1, 'b', 1, 100), (1, 'c', 1, 100), (2, 'd', 2, 50);
        """
    )
    assert rows == [(1, "Multi", 400, 2)]


def test_order_without_items_still_counts(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'Empty', 'X');
        INSERT INTO orders VALUES
            (1, 1, '2024-05-01 08:00:00', 'paid'),
            (2, 1, '2024-05-02 08:00:00', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'a', 1, 999);
        """
    )
    assert rows == [(1, "Empty", 999, 2)]


def test_ties_sort_by_name_then_id(query):
    rows = query(
        """
        INSERT INTO customers VALUES
            (1, 'Zoe', 'X'), (2, 'Amy', 'X'), (3, 'Amy', 'X'), (4, 'Max', 'X');
        INSERT INTO orders VALUES
            (1, 1, '2024-07-01 00:00:00', 'paid'), (2, 2, '2024-07-01 00:00:00', 'paid'),
            (3, 3, '2024-07-01 00:00:00', 'paid'), (4, 4, '2024-07-01 00:00:00', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'x', 1, 500), (2, 'x', 1, 500), (3, 'x', 1, 500), (4, 'x', 1, 900);
        """
    )
    assert rows == [(4, "Max", 900, 1), (2, "Amy", 500, 1), (3, "Amy", 500, 1)]


def test_zero_revenue_customers_are_left_out(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'Free', 'X'), (2, 'NoItems', 'X'), (3, 'Payer', 'X');
        INSERT INTO orders VALUES
            (1, 1, '2024-08-01 00:00:00', 'paid'),
            (2, 2, '2024-08-01 00:00:00', 'paid'),
            (3, 3, '2024-08-01 00:00:00', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'sample', 1, 0), (3, 'x', 1, 1);
        """
    )
    assert rows == [(3, "Payer", 1, 1)]


def test_no_qualifying_orders(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'Nobody', 'X');
        INSERT INTO orders VALUES (1, 1, '2022-01-01 00:00:00', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'x', 1, 100);
        """
    )
    assert rows == []


def test_refunds_do_not_reduce_paid_revenue_or_count(query):
    rows = query(
        """
        INSERT INTO customers VALUES (1, 'Mixed', 'X'), (2, 'Steady', 'X');
        INSERT INTO orders VALUES
            (1, 1, '2024-09-01 00:00:00', 'paid'),
            (2, 1, '2024-09-02 00:00:00', 'refunded'),
            (3, 1, '2024-09-03 00:00:00', 'cancelled'),
            (4, 2, '2024-09-04 00:00:00', 'paid');
        INSERT INTO order_items (order_id, product, quantity, unit_price_cents) VALUES
            (1, 'x', 1, 300), (2, 'y', 1, 700), (3, 'z', 1, 900), (4, 'w', 1, 299);
        """
    )
    assert rows == [(1, "Mixed", 300, 1), (2, "Steady", 299, 1)]
